package yamlsrc

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/budnet/budnet/internal/diag"
)

type inner struct {
	Name  string            `json:"name"`
	Port  int32             `json:"port,omitempty"`
	Ratio float64           `json:"ratio,omitempty"`
	On    bool              `json:"on,omitempty"`
	Tags  map[string]string `json:"tags,omitempty"`
}

type outer struct {
	Kind  string          `json:"kind"`
	Items []inner         `json:"items"`
	TTL   metav1.Duration `json:"ttl,omitempty"`
	Embedded
}

type Embedded struct {
	Extra string `json:"extra,omitempty"`
}

func TestDecodeErrorsNameLineAndField(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		strict    bool
		wantLine  int
		wantField string
		wantMsg   string
	}{
		{name: "unknown field in strict mode", strict: true, src: "kind: a\nitems:\n- name: x\n  nmae: y\n", wantLine: 4, wantField: "items[0].nmae", wantMsg: "unknown field"},
		{name: "number where string expected", src: "kind: a\nitems:\n- name: 1.0\n", wantLine: 3, wantField: "items[0].name", wantMsg: `quote it: "1.0"`},
		{name: "bool where string expected in map", src: "kind: a\nitems:\n- name: x\n  tags:\n    enabled: true\n", wantLine: 5, wantField: "items[0].tags.enabled", wantMsg: "expected a string"},
		{name: "string where integer expected", src: "kind: a\nitems:\n- name: x\n  port: http\n", wantLine: 4, wantField: "items[0].port", wantMsg: "expected an integer"},
		{name: "integer overflow", src: "kind: a\nitems:\n- name: x\n  port: 99999999999\n", wantLine: 4, wantField: "items[0].port", wantMsg: "does not fit in 32 bits"},
		{name: "mapping where list expected", src: "kind: a\nitems:\n  name: x\n", wantLine: 3, wantField: "items", wantMsg: "expected a list"},
		{name: "bad duration keeps its line", src: "kind: a\nitems: []\nttl: soon\n", wantLine: 3, wantField: "ttl", wantMsg: "invalid duration"},
		{name: "list where string expected", src: "kind:\n- a\n", wantLine: 2, wantField: "kind", wantMsg: "expected a string, got a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, err := Parse("f.yaml", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			var v outer
			err = Decode("f.yaml", docs[0].Root, &v, DecodeOptions{Strict: tt.strict})
			var ie *diag.InputError
			if !errors.As(err, &ie) {
				t.Fatalf("want InputError, got %v", err)
			}
			if ie.Line != tt.wantLine || ie.Field != tt.wantField || !strings.Contains(ie.Error(), tt.wantMsg) {
				t.Errorf("got line %d field %q: %v; want line %d field %q containing %q", ie.Line, ie.Field, ie, tt.wantLine, tt.wantField, tt.wantMsg)
			}
		})
	}
}

func TestDecodeLenientIgnoresUnknownAndDecodesAll(t *testing.T) {
	src := `kind: a
base: &base {name: x, port: 0x10}
items:
- <<: *base
  ratio: 1
  "on": true
  unknown: 3
- name: "y"
  tags: {a: b}
ttl: 1m30s
extra: e
`
	docs, err := Parse("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var v outer
	if err := Decode("f.yaml", docs[0].Root, &v, DecodeOptions{}); err != nil {
		t.Fatal(err)
	}
	if v.Items[0].Name != "x" || v.Items[0].Port != 16 || v.Items[0].Ratio != 1 || !v.Items[0].On {
		t.Errorf("merge or scalars wrong: %+v", v.Items[0])
	}
	if v.Items[1].Tags["a"] != "b" || v.TTL.Duration != 90*time.Second || v.Extra != "e" {
		t.Errorf("decoded %+v", v)
	}
}

func TestDecodeKubernetesType(t *testing.T) {
	src := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: {app: web}\nspec:\n  containers:\n  - name: c\n    ports:\n    - containerPort: web\n"
	docs, err := Parse("pod.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var pod corev1.Pod
	err = Decode("pod.yaml", docs[0].Root, &pod, DecodeOptions{})
	var ie *diag.InputError
	if !errors.As(err, &ie) || ie.Line != 10 || ie.Field != "spec.containers[0].ports[0].containerPort" {
		t.Fatalf("want error at line 10 on containerPort, got %v", err)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		wantDocs []int // start lines
		wantErr  string
		errLine  int
	}{
		{name: "multi document skips empty ones", src: "---\na: 1\n---\n---\n# only a comment\n---\nb: 2\n", wantDocs: []int{2, 7}},
		{name: "syntax error names its line", src: "a: 1\nb: [\n", wantErr: "invalid YAML", errLine: 2},
		{name: "NUL byte", src: "a: 1\nb: \x00\n", wantErr: "NUL byte", errLine: 2},
		{name: "tab indentation", src: "a:\n\tb: 1\n", wantErr: "invalid YAML", errLine: 2},
		{name: "json document", src: `{"a": [1, 2]}`, wantDocs: []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, err := Parse("x.yaml", []byte(tt.src))
			if tt.wantErr != "" {
				var ie *diag.InputError
				if !errors.As(err, &ie) || !strings.Contains(err.Error(), tt.wantErr) || ie.Line != tt.errLine {
					t.Fatalf("want %q at line %d, got %v", tt.wantErr, tt.errLine, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var lines []int
			for _, d := range docs {
				lines = append(lines, d.Line)
			}
			if len(lines) != len(tt.wantDocs) {
				t.Fatalf("documents at lines %v, want %v", lines, tt.wantDocs)
			}
			for i := range lines {
				if lines[i] != tt.wantDocs[i] {
					t.Fatalf("documents at lines %v, want %v", lines, tt.wantDocs)
				}
			}
		})
	}
}

func TestToJSONDuplicates(t *testing.T) {
	docs, err := Parse("x.yaml", []byte("spec:\n  ports:\n    - port: 1\n      port: 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ToJSON(docs[0].Root)
	if err == nil || !strings.Contains(err.Error(), `line 4: duplicate field "spec.ports[0].port"`) {
		t.Errorf("ToJSON: %v, want the duplicate's line and field path", err)
	}
	var got []string
	out, err := ToJSONWith(docs[0].Root, JSONOptions{OnDuplicate: func(line int, field string) {
		got = append(got, fmt.Sprintf("%d %s", line, field))
	}})
	if err != nil || len(got) != 1 || got[0] != "4 spec.ports[0].port" {
		t.Fatalf("OnDuplicate: %v, %v", got, err)
	}
	var v struct {
		Spec struct {
			Ports []struct{ Port int } `json:"ports"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(out, &v); err != nil || v.Spec.Ports[0].Port != 2 {
		t.Errorf("the later value must win: %s", out)
	}
	if line := LineOf(docs[0].Root, "spec.ports[0].port"); line != 4 {
		t.Errorf("LineOf = %d, want 4 (the value that counts)", line)
	}
}

func TestDecodeUnknownAndYAML11(t *testing.T) {
	src := "kind: a\nitems:\n- name: x\n  nmae: y\n  tags: {tls: on}\n- name: off\n  porrt: 1\n"
	docs, err := Parse("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var unknown []string
	var v outer
	err = Decode("f.yaml", docs[0].Root, &v, DecodeOptions{OnUnknown: func(e *diag.InputError) { unknown = append(unknown, e.Error()) }})
	var ie *diag.InputError
	if !errors.As(err, &ie) || ie.Line != 5 || ie.Field != "items[0].tags.tls" || !strings.Contains(ie.Msg, `YAML 1.1`) || !strings.Contains(ie.Msg, `quote it: "on"`) {
		t.Errorf("YAML 1.1 boolean in a string map: %v", err)
	}
	if len(unknown) != 1 || unknown[0] != `f.yaml:4: items[0].nmae: unknown field "nmae"` {
		t.Errorf("unknown fields before the error: %q", unknown)
	}
	type flags struct {
		On bool `json:"enabled"`
	}
	docs, _ = Parse("f.yaml", []byte("enabled: yes\n"))
	var f flags
	if err := Decode("f.yaml", docs[0].Root, &f, DecodeOptions{Strict: true}); err != nil || !f.On {
		t.Errorf("a YAML 1.1 boolean where a boolean belongs is read as kubectl reads it: %+v %v", f, err)
	}
}

func TestToJSON(t *testing.T) {
	tests := []struct {
		name, src, want string
		wantErr         bool
	}{
		{name: "core schema scalars", src: "a: true\nb: 0x10\nc: 1.5\nd: null\ne: 'yes'\nf: '1'\ng: 2026-01-23\n", want: `{"a":true,"b":16,"c":1.5,"d":null,"e":"yes","f":"1","g":"2026-01-23"}`},
		// kubectl and Helm read YAML 1.1 (sigs.k8s.io/yaml, go-yaml v2): plain
		// yes/no/on/off/y/n are booleans there, in values and in keys.
		{name: "YAML 1.1 booleans as kubectl reads them", src: "a: yes\nb: Off\nc: n\nd: \"on\"\ne: !!str y\nf: oN\n", want: `{"a":true,"b":false,"c":false,"d":"on","e":"y","f":"oN"}`},
		{name: "YAML 1.1 boolean keys", src: "on: 1\n'no': 2\n", want: `{"true":1,"no":2}`},
		{name: "json escaping", src: "a: \"\\x01<\\u00e9>\"\n", want: `{"a":"\u0001\u003cé\u003e"}`},
		{name: "duplicate key", src: "a: 1\na: 2\n", wantErr: true},
		{name: "infinity has no JSON form", src: "a: .inf\n", wantErr: true},
		{name: "merge keeps explicit keys", src: "x: &x {a: 1, b: 2}\nz: {<<: *x, b: 3}\n", want: `{"x":{"a":1,"b":2},"z":{"b":3,"a":1}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, err := Parse("x.yaml", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			got, err := ToJSON(docs[0].Root)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("want error, got %s", got)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("got %s, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func TestLineOf(t *testing.T) {
	src := "metadata:\n  annotations:\n    dapr.io/enabled: \"true\"\nspec:\n  containers:\n  - name: a\n  - name: b\n    env:\n    - name: X\n"
	docs, _ := Parse("x.yaml", []byte(src))
	tests := []struct {
		path string
		want int
	}{
		{"metadata.annotations[dapr.io/enabled]", 3},
		{"spec.containers[1].env[0].name", 9},
		{"spec.containers[1]", 7},
		{"spec.containers[5].name", 6}, // the deepest node that exists: the list
		{"", 1},
	}
	for _, tt := range tests {
		if got := LineOf(docs[0].Root, tt.path); got != tt.want {
			t.Errorf("LineOf(%q) = %d, want %d", tt.path, got, tt.want)
		}
	}
}

func FuzzParseAndConvert(f *testing.F) {
	for _, s := range []string{"a: 1\n", "---\n- [a, {b: c}]\n", "x: &x {a: 1}\ny: {<<: *x}\n", "a: *b\n", "\"\\u0000\": 1", "a: !!binary aGk=\n",
		"kind: yes\nitems: [{name: on, tags: {y: n}}]\n", "a: 1\na: 2\n", "x: &x {a: 1}\ny: {<<: *x, a: 2, a: 3}\n", "items: [{nmae: x, name: Off}]\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, err := Parse("fuzz.yaml", data)
		if err != nil {
			if !diag.IsInput(err) {
				t.Fatalf("parse error is not an input error: %v", err)
			}
			return
		}
		for _, d := range docs {
			strictJSON, strictErr := ToJSON(d.Root)
			dups := 0
			lenient, err := ToJSONWith(d.Root, JSONOptions{OnDuplicate: func(line int, field string) {
				if line < 1 || field == "" {
					t.Fatalf("duplicate reported without line or field: %d %q", line, field)
				}
				dups++
			}})
			switch {
			case strictErr == nil && (err != nil || dups > 0 || string(lenient) != string(strictJSON)):
				t.Fatalf("ToJSON and ToJSONWith disagree without duplicates: %s / %s (%v, %d)", strictJSON, lenient, err, dups)
			case err == nil && !json.Valid(lenient):
				t.Fatalf("invalid JSON: %s", lenient)
			case strictErr != nil && err == nil && (dups == 0 || !strings.Contains(strictErr.Error(), "duplicate field")):
				t.Fatalf("ToJSON failed (%v) where ToJSONWith succeeded with %d duplicates", strictErr, dups)
			}
			var unknown []*diag.InputError
			var v outer
			lenientErr := Decode("fuzz.yaml", d.Root, &v, DecodeOptions{AllowDuplicates: true, OnUnknown: func(e *diag.InputError) { unknown = append(unknown, e) }})
			for _, e := range unknown {
				if e.File != "fuzz.yaml" || e.Line < 1 || e.Field == "" {
					t.Fatalf("unknown field without file, line or field: %+v", e)
				}
			}
			var w outer
			if strictDecodeErr := Decode("fuzz.yaml", d.Root, &w, DecodeOptions{Strict: true, AllowDuplicates: true}); strictDecodeErr == nil && (len(unknown) > 0 || lenientErr != nil) {
				t.Fatalf("strict decode accepted what lenient decode flagged: %v %v", unknown, lenientErr)
			}
		}
	})
}

func TestAliasBombIsRefused(t *testing.T) {
	// Nine levels of ten-fold aliases: a billion strings from 300 bytes.
	src := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	for i, prev := 'b', 'a'; i <= 'i'; i, prev = i+1, i {
		src += fmt.Sprintf("%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n", i, i, prev, prev, prev, prev, prev, prev, prev, prev, prev, prev)
	}
	docs, err := Parse("bomb.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ToJSON(docs[0].Root); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("ToJSON: want a node budget error, got %v", err)
	}
	var v map[string]any
	err = Decode("bomb.yaml", docs[0].Root, &v, DecodeOptions{})
	var ie *diag.InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("Decode: want a node budget input error, got %v", err)
	}
	var s struct {
		I [][]any `json:"i"`
	}
	if err := Decode("bomb.yaml", docs[0].Root, &s, DecodeOptions{}); err == nil {
		t.Fatal("typed Decode of the bomb succeeded")
	}
}
