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
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/budnet/budnet/internal/diag"
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
// (true/false, integers, floats, null), except that plain YAML 1.1 booleans
// (yes, on, n, ...) are booleans too, as kubectl and Helm read them; everything
// else is a string. A key that appears twice in one mapping is an error.
func ToJSON(n *yaml.Node) ([]byte, error) {
	return ToJSONWith(n, JSONOptions{})
}

// JSONOptions control ToJSONWith.
type JSONOptions struct {
	// OnDuplicate, when set, receives each key that appears again in its
	// mapping (its line and field path), and the later value wins, as the API
	// server's decoder keeps it; when nil a duplicate key is an error.
	OnDuplicate func(line int, field string)
}

// ToJSONWith is ToJSON with options.
func ToJSONWith(n *yaml.Node, opts JSONOptions) ([]byte, error) {
	var buf bytes.Buffer
	c := converter{budget: DefaultMaxNodes, onDuplicate: opts.OnDuplicate}
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
type converter struct {
	budget      int
	onDuplicate func(line int, field string)
	// path is the key or index of each level being written, rendered into a
	// field path only when a duplicate is reported.
	path []pathSeg
}

type pathSeg struct {
	key   string
	index int // for list items; key is empty
}

func (c *converter) field() string {
	var b strings.Builder
	for _, s := range c.path {
		if s.key == "" {
			fmt.Fprintf(&b, "[%d]", s.index)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.key)
	}
	return b.String()
}

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
			c.path = append(c.path, pathSeg{index: i})
			if err := c.writeJSON(buf, item, depth+1); err != nil {
				return err
			}
			c.path = c.path[:len(c.path)-1]
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
			key := keyString(k)
			if seen[key] {
				c.path = append(c.path, pathSeg{key: key})
				field := c.field()
				c.path = c.path[:len(c.path)-1]
				if c.onDuplicate == nil {
					return fmt.Errorf("line %d: duplicate field %q", k.Line, field)
				}
				// Written again: JSON decoders keep the later value.
				c.onDuplicate(k.Line, field)
			}
			seen[key] = true
			if !first {
				buf.WriteByte(',')
			}
			first = false
			if err := c.writePair(buf, key, v, depth); err != nil {
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

func (c *converter) writePair(buf *bytes.Buffer, key string, v *yaml.Node, depth int) error {
	writeString(buf, key)
	buf.WriteByte(':')
	c.path = append(c.path, pathSeg{key: key})
	err := c.writeJSON(buf, v, depth+1)
	c.path = c.path[:len(c.path)-1]
	return err
}

// keyString is a mapping key as kubectl's YAML reader turns it into a JSON
// key: a plain YAML 1.1 boolean key (yes, on, ...) becomes "true" or "false"
// (sigs.k8s.io/yaml converts non-string keys with strconv.FormatBool).
func keyString(k *yaml.Node) string {
	if b, ok := YAML11Bool(k); ok {
		return strconv.FormatBool(b)
	}
	return k.Value
}

// YAML11Bool reports whether n is a plain scalar that YAML 1.1 reads as a
// boolean but YAML 1.2 (this package's parser) reads as a string, and its
// value. kubectl and Helm parse YAML with sigs.k8s.io/yaml, which is go-yaml
// v2 and YAML 1.1: its resolve table (go.yaml.in/yaml/v2 resolve.go) makes
// y, Y, yes, Yes, YES, on, On, ON true and n, N, no, No, NO, off, Off, OFF
// false. Quoted or explicitly tagged scalars are strings in both.
func YAML11Bool(n *yaml.Node) (value, ok bool) {
	if n.Kind != yaml.ScalarNode || n.Style != 0 || n.Tag != "!!str" || len(n.Value) > 3 {
		return false, false
	}
	switch n.Value {
	case "y", "Y", "yes", "Yes", "YES", "on", "On", "ON":
		return true, true
	case "n", "N", "no", "No", "NO", "off", "Off", "OFF":
		return false, true
	}
	return false, false
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
			key := keyString(resolve(src.Content[i]))
			if seen[key] {
				continue
			}
			seen[key] = true
			if !*first {
				buf.WriteByte(',')
			}
			*first = false
			if err := c.writePair(buf, key, src.Content[i+1], depth); err != nil {
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
		if b, ok := YAML11Bool(n); ok {
			buf.WriteString(strconv.FormatBool(b))
			return nil
		}
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
