package yamlsrc

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/budnet/budnet/internal/diag"
)

// DecodeOptions control Decode.
type DecodeOptions struct {
	// Strict makes the first field the target type does not have an error,
	// as the platform model wants.
	Strict bool
	// OnUnknown, when set, receives every field the target type does not
	// have, as an error naming line and field path, and decoding goes on:
	// the caller decides whether they are errors or warnings (kubectl's
	// --validate=strict or warn). It takes precedence over Strict.
	OnUnknown func(*diag.InputError)
	// AllowDuplicates lets a key appear twice in a mapping, the later value
	// winning; the caller has reported it (ToJSONWith's OnDuplicate).
	AllowDuplicates bool
	// FieldPrefix is prepended to field paths in errors.
	FieldPrefix string
}

// Decode checks n against the type of v (a non-nil pointer) and decodes it.
// The first problem is returned as a *diag.InputError naming file, line and
// field path, for example "spec.zones[2].name: expected a string, got a mapping".
func Decode(file string, n *yaml.Node, v any, opts DecodeOptions) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("yamlsrc.Decode needs a non-nil pointer, got %T", v)
	}
	c := checker{file: file, strict: opts.Strict, onUnknown: opts.OnUnknown, budget: DefaultMaxNodes}
	if err := c.check(n, rv.Type().Elem(), opts.FieldPrefix, 0); err != nil {
		return err
	}
	var jopts JSONOptions
	if opts.AllowDuplicates {
		jopts.OnDuplicate = func(int, string) {}
	}
	data, err := ToJSONWith(n, jopts)
	if err != nil {
		return &diag.InputError{File: file, Line: n.Line, Field: opts.FieldPrefix, Msg: "cannot convert to JSON", Err: err}
	}
	if err := json.Unmarshal(data, v); err != nil {
		return &diag.InputError{File: file, Line: n.Line, Field: opts.FieldPrefix, Err: err}
	}
	return nil
}

type checker struct {
	file      string
	strict    bool
	onUnknown func(*diag.InputError)
	budget    int // nodes left to visit, so aliases cannot expand without bound
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func (c *checker) errorf(n *yaml.Node, field, format string, args ...any) *diag.InputError {
	return diag.Errorf(c.file, n.Line, field, format, args...)
}

func (c *checker) check(n *yaml.Node, t reflect.Type, field string, depth int) error {
	if depth > maxDepth {
		return c.errorf(n, field, "nesting deeper than %d levels", maxDepth)
	}
	if c.budget--; c.budget < 0 {
		return c.errorf(n, field, "document expands to more than %d nodes once aliases are followed", DefaultMaxNodes)
	}
	n = resolve(n)
	if n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return nil // null leaves the zero value, as encoding/json does
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	// Types with their own decoding (durations, quantities, int-or-string) are
	// decoded on their own so their error still gets this node's line.
	if reflect.PointerTo(t).Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		data, err := ToJSON(n)
		if err != nil {
			return c.errorf(n, field, "%v", err)
		}
		if err := json.Unmarshal(data, reflect.New(t).Interface()); err != nil {
			return c.errorf(n, field, "%v", err)
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		return c.checkStruct(n, t, field, depth)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return c.errorf(n, field, "expected a mapping, got %s", describe(n))
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := resolve(n.Content[i])
			if k.Tag == "!!merge" {
				continue
			}
			if b, ok := YAML11Bool(k); ok && t.Key().Kind() == reflect.String {
				return c.errorf(k, join(field, k.Value), "key %s is read as %q by kubectl and Helm, which read YAML 1.1 booleans (quote it: %q)",
					k.Value, strconv.FormatBool(b), k.Value)
			}
			if err := c.check(n.Content[i+1], t.Elem(), join(field, k.Value), depth+1); err != nil {
				return err
			}
		}
		return nil
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && n.Kind == yaml.ScalarNode {
			return nil // []byte holds base64 text
		}
		if n.Kind != yaml.SequenceNode {
			return c.errorf(n, field, "expected a list, got %s", describe(n))
		}
		for i, item := range n.Content {
			if err := c.check(item, t.Elem(), fmt.Sprintf("%s[%d]", field, i), depth+1); err != nil {
				return err
			}
		}
		return nil
	case reflect.Interface:
		return nil
	default:
		return c.checkScalar(n, t, field)
	}
}

func (c *checker) checkScalar(n *yaml.Node, t reflect.Type, field string) error {
	if n.Kind != yaml.ScalarNode {
		return c.errorf(n, field, "expected %s, got %s", kindName(t), describe(n))
	}
	ok := false
	yaml11, isYAML11 := YAML11Bool(n)
	switch t.Kind() {
	case reflect.String:
		if isYAML11 {
			return c.errorf(n, field, "expected a string, got %s, which kubectl and Helm read as the boolean %t (YAML 1.1) (quote it: %q)",
				n.Value, yaml11, n.Value)
		}
		ok = n.Tag == "!!str" || n.Tag == "!!timestamp" || n.Tag == "!!binary"
	case reflect.Bool:
		ok = n.Tag == "!!bool" || isYAML11 // kubectl reads yes/on/... as true or false
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n.Tag == "!!int" {
			_, err := strconv.ParseInt(jsonNumber(n), 10, t.Bits())
			if err != nil {
				return c.errorf(n, field, "integer %s does not fit in %d bits", n.Value, t.Bits())
			}
			ok = true
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.Tag == "!!int" {
			_, err := strconv.ParseUint(jsonNumber(n), 10, t.Bits())
			if err != nil {
				return c.errorf(n, field, "%s is not a non-negative integer of %d bits", n.Value, t.Bits())
			}
			ok = true
		}
	case reflect.Float32, reflect.Float64:
		ok = n.Tag == "!!int" || n.Tag == "!!float"
	}
	if !ok {
		hint := ""
		if t.Kind() == reflect.String && (n.Tag == "!!bool" || n.Tag == "!!int" || n.Tag == "!!float") {
			hint = ` (quote it: "` + n.Value + `")`
		}
		return c.errorf(n, field, "expected %s, got %s%s", kindName(t), describe(n), hint)
	}
	return nil
}

// jsonNumber renders an integer node the way ToJSON will, so range checks
// agree with what the decoder sees (0x1F, 0o17 and 1_000 are YAML integers).
func jsonNumber(n *yaml.Node) string {
	var i int64
	if err := n.Decode(&i); err == nil {
		return strconv.FormatInt(i, 10)
	}
	var u uint64
	if err := n.Decode(&u); err == nil {
		return strconv.FormatUint(u, 10)
	}
	return n.Value
}

func (c *checker) checkStruct(n *yaml.Node, t reflect.Type, field string, depth int) error {
	if n.Kind != yaml.MappingNode {
		return c.errorf(n, field, "expected a mapping, got %s", describe(n))
	}
	fields := jsonFields(t)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i])
		if k.Tag == "!!merge" {
			continue
		}
		// A plain "on:" key is the field "true" to kubectl, as in ToJSON.
		key := keyString(k)
		ft, found := fields[key]
		if !found {
			switch {
			case c.onUnknown != nil:
				c.onUnknown(c.errorf(k, join(field, key), "unknown field %q", key))
			case c.strict:
				return c.errorf(k, join(field, key), "unknown field %q", key)
			}
			continue
		}
		if err := c.check(n.Content[i+1], ft, join(field, k.Value), depth+1); err != nil {
			return err
		}
	}
	return nil
}

// fieldCache memoises jsonFields per type. Like encoding/json's own cache it
// holds only immutable facts about Go types, so sharing it is safe; without it
// every mapping of every document rebuilt its type's field map.
var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

// jsonFields maps the JSON names of t's fields to their types, flattening
// embedded structs as encoding/json does.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := buildJSONFields(t)
	fieldCache.Store(t, m)
	return m
}

func buildJSONFields(t reflect.Type) map[string]reflect.Type {
	out := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" || strings.Contains(opts, "inline") {
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					if _, dup := out[k]; !dup {
						out[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = ft
	}
	return out
}

func join(field, key string) string {
	if key == "" {
		return field + `[""]` // an empty key still needs a name in messages
	}
	if field == "" {
		return key
	}
	return field + "." + key
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.Tag {
	case "!!str":
		return fmt.Sprintf("the string %q", truncate(n.Value))
	case "!!int", "!!float":
		return "the number " + truncate(n.Value)
	case "!!bool":
		return "the boolean " + n.Value
	}
	return fmt.Sprintf("%q", truncate(n.Value))
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Struct, reflect.Map:
		return "a mapping"
	case reflect.Slice, reflect.Array:
		return "a list"
	}
	return "an integer"
}

// LineOf returns the line of the value at path below n ("spec.template.spec.containers[0].env[2]"),
// or of the deepest node of the path that exists, so evidence always points
// somewhere near. Keys containing dots can be written in brackets: metadata.annotations[dapr.io/enabled].
func LineOf(n *yaml.Node, path string) int {
	line := 0
	cur := resolve(n)
	if cur != nil {
		line = cur.Line
	}
	for _, seg := range splitPath(path) {
		cur = child(cur, seg)
		if cur == nil {
			return line
		}
		line = cur.Line
	}
	return line
}

func child(n *yaml.Node, seg string) *yaml.Node {
	if n == nil {
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		// The last of duplicate keys: its value is the one that counts.
		var found *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if resolve(n.Content[i]).Value == seg {
				found = resolve(n.Content[i+1])
			}
		}
		if found != nil {
			return found
		}
	case yaml.SequenceNode:
		if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(n.Content) {
			return resolve(n.Content[i])
		}
	}
	return nil
}

func splitPath(path string) []string {
	var segs []string
	for path != "" {
		switch path[0] {
		case '.':
			path = path[1:]
		case '[':
			end := strings.IndexByte(path, ']')
			if end < 0 {
				return append(segs, path[1:])
			}
			segs = append(segs, path[1:end])
			path = path[end+1:]
		default:
			end := strings.IndexAny(path, ".[")
			if end < 0 {
				return append(segs, path)
			}
			segs = append(segs, path[:end])
			path = path[end:]
		}
	}
	return segs
}
