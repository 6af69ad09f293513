// Package yamlsrc reads YAML while keeping where every value came from, so that
// every error budnet reports about a file names its line and field.
//
// sigs.k8s.io/yaml converts YAML to JSON before decoding and loses positions;
// here documents are parsed into yaml.v3 nodes, checked against the target Go
// type (field names from json tags, as Kubernetes types use), and converted to
// JSON from the nodes themselves.
package yamlsrc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"

	"go.yaml.in/yaml/v3"

	"budnet/internal/diag"
)

// Document is one YAML document of a file.
type Document struct {
	File  string
	Index int        // position of the document in its file, from 0
	Line  int        // line on which the document's content starts
	Root  *yaml.Node // the content node; never nil in a returned Document
}

var lineInMessage = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse splits data into its YAML documents. Empty documents are skipped, as
// kubectl skips them. A syntax error is an *diag.InputError naming file and line.
func Parse(file string, data []byte) ([]Document, error) {
	if i := bytes.IndexByte(data, 0); i >= 0 {
		line := 1 + bytes.Count(data[:i], []byte("\n"))
		return nil, diag.Errorf(file, line, "", "file contains a NUL byte: not a YAML or JSON text file")
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []Document
	for index := 0; ; index++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, syntaxError(file, err)
		}
		if n.Kind != yaml.DocumentNode || len(n.Content) == 0 {
			continue
		}
		root := n.Content[0]
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue
		}
		docs = append(docs, Document{File: file, Index: index, Line: root.Line, Root: root})
	}
}

func syntaxError(file string, err error) error {
	if m := lineInMessage.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &diag.InputError{File: file, Line: line, Msg: "invalid YAML: " + m[2]}
	}
	return &diag.InputError{File: file, Msg: "invalid YAML", Err: err}
}

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// ToJSON converts a node to JSON text. Scalars keep YAML 1.2 core-schema types
// (true/false, integers, floats, null); everything else is a string.
func ToJSON(n *yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	c := converter{budget: DefaultMaxNodes}
	if err := c.writeJSON(&buf, n, 0); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 200

// DefaultMaxNodes bounds how many nodes one conversion visits once aliases are
// followed: a "billion laughs" document of a few hundred bytes expands to
// billions of nodes, and must fail fast instead of exhausting memory.
const DefaultMaxNodes = 1 << 20

// converter writes JSON within a node budget.
type converter struct{ budget int }

func (c *converter) spend(n *yaml.Node) error {
	c.budget--
	if c.budget < 0 {
		return fmt.Errorf("line %d: document expands to more than %d nodes once aliases are followed", n.Line, DefaultMaxNodes)
	}
	return nil
}

func (c *converter) writeJSON(buf *bytes.Buffer, n *yaml.Node, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("line %d: nesting deeper than %d levels", n.Line, maxDepth)
	}
	if err := c.spend(n); err != nil {
		return err
	}
	n = resolve(n)
	if n == nil {
		buf.WriteString("null")
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		return c.writeMapping(buf, n, depth)
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, item := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := c.writeJSON(buf, item, depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	case yaml.ScalarNode:
		return writeScalar(buf, n)
	default:
		return fmt.Errorf("line %d: unsupported YAML node", n.Line)
	}
}

func (c *converter) writeMapping(buf *bytes.Buffer, n *yaml.Node, depth int) error {
	buf.WriteByte('{')
	seen := make(map[string]bool, len(n.Content)/2)
	first := true
	writePairs := func(m *yaml.Node) error {
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := resolve(m.Content[i]), m.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: mapping keys must be scalars", k.Line)
			}
			if k.Tag == "!!merge" {
				continue // merged after explicit keys, which take precedence
			}
			if seen[k.Value] {
				return fmt.Errorf("line %d: key %q appears twice in one mapping", k.Line, k.Value)
			}
			seen[k.Value] = true
			if !first {
				buf.WriteByte(',')
			}
			first = false
			writeString(buf, k.Value)
			buf.WriteByte(':')
			if err := c.writeJSON(buf, v, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := writePairs(n); err != nil {
		return err
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Tag == "!!merge" {
			if err := c.mergeInto(n.Content[i+1], seen, &first, buf, depth); err != nil {
				return err
			}
		}
	}
	buf.WriteByte('}')
	return nil
}

// mergeInto writes the pairs of a `<<: *anchor` merge that explicit keys did not set.
func (c *converter) mergeInto(v *yaml.Node, seen map[string]bool, first *bool, buf *bytes.Buffer, depth int) error {
	v = resolve(v)
	sources := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		sources = v.Content
	}
	for _, src := range sources {
		src = resolve(src)
		if src.Kind != yaml.MappingNode {
			return fmt.Errorf("line %d: merge key needs a mapping", src.Line)
		}
		for i := 0; i+1 < len(src.Content); i += 2 {
			k := resolve(src.Content[i])
			if seen[k.Value] {
				continue
			}
			seen[k.Value] = true
			if !*first {
				buf.WriteByte(',')
			}
			*first = false
			writeString(buf, k.Value)
			buf.WriteByte(':')
			if err := c.writeJSON(buf, src.Content[i+1], depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

func writeScalar(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.Tag {
	case "!!null":
		buf.WriteString("null")
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		buf.WriteString(strconv.FormatBool(b))
	case "!!int":
		var i int64
		if err := n.Decode(&i); err != nil {
			var u uint64
			if err2 := n.Decode(&u); err2 != nil {
				return fmt.Errorf("line %d: integer %q out of range", n.Line, n.Value)
			}
			buf.WriteString(strconv.FormatUint(u, 10))
			return nil
		}
		buf.WriteString(strconv.FormatInt(i, 10))
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		s := strconv.FormatFloat(f, 'g', -1, 64)
		if s == "NaN" || s == "+Inf" || s == "-Inf" {
			return fmt.Errorf("line %d: %q has no JSON representation", n.Line, n.Value)
		}
		buf.WriteString(s)
	default:
		writeString(buf, n.Value)
	}
	return nil
}

func writeString(buf *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			// json.Marshal of a string cannot fail; it escapes control
			// characters and replaces invalid UTF-8 as decoders expect.
			b, _ := json.Marshal(s)
			buf.Write(b)
			return
		}
	}
	buf.WriteByte('"')
	buf.WriteString(s)
	buf.WriteByte('"')
}
