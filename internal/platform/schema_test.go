package platform

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/invopop/jsonschema"
	sjsonschema "github.com/santhosh-tekuri/jsonschema/v6"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/budnet/budnet/internal/yamlsrc"
)

var update = flag.Bool("update", false, "rewrite docs/platform.schema.json and other golden files")

const schemaFile = "../../docs/platform.schema.json"

// schemaRequired lists, per Go type, the fields a platform file must set;
// everything else has a default or is optional. Validate enforces the same.
var schemaRequired = map[string][]string{
	"Platform":          {"apiVersion", "kind", "metadata", "spec"},
	"Metadata":          {"name"},
	"Spec":              {"zones"},
	"Zone":              {"name"},
	"Workload":          {"name", "zone", "role", "podLabels"},
	"NamedPort":         {"name", "port"},
	"DaprApp":           {"appId"},
	"CIDRGroup":         {"name", "cidrs"},
	"InternalFlow":      {"name", "from", "to", "ports"},
	"IngressFlow":       {"name", "to", "ports"},
	"EgressFlow":        {"name", "from", "ports"},
	"DaprOperation":     {"name"},
	"EdgeHost":          {"name", "workload"},
	"RateLimit":         {"rps"},
	"SourceMapping":     {"cidr", "workload"},
	"RegisteredCluster": {"name", "server"},
	"Suppression":       {"check", "reason"},
}

// schemaEnums lists closed string sets of plain string fields, as
// "Type.field"; the named types Role, EdgeKind and EgressMode get theirs in
// schemaMapper.
var schemaEnums = map[string][]any{
	"NamedPort.protocol":          {"TCP", "UDP", "SCTP"},
	"Port.protocol":               {"TCP", "UDP", "SCTP"},
	"Zone.podSecurity":            {"privileged", "baseline", "restricted"},
	"TLS.minVersion":              {"1.2", "1.3"},
	"Issuer.kind":                 {"acme", "ca"},
	"EgressGateway.defaultAction": {"deny", "allow"},
	"Cloud.provider":              {"aws", "azure"},
}

// schemaPorts are the integer fields holding port numbers.
var schemaPorts = []string{"NamedPort.port", "Port.port", "Port.endPort", "DaprApp.appPort"}

func enumOf[T ~string](values []T) []any {
	out := make([]any, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return out
}

func schemaMapper(t reflect.Type) *jsonschema.Schema {
	switch t {
	case reflect.TypeFor[Role]():
		return &jsonschema.Schema{Type: "string", Enum: enumOf(Roles), Description: "Role classifies a workload."}
	case reflect.TypeFor[EdgeKind]():
		return &jsonschema.Schema{Type: "string", Enum: enumOf(edgeKinds), Description: "The ingress implementation generate emits."}
	case reflect.TypeFor[EgressMode]():
		return &jsonschema.Schema{Type: "string", Enum: enumOf([]EgressMode{EgressEnforce, EgressReport})}
	case reflect.TypeFor[metav1.Duration]():
		return &jsonschema.Schema{Type: "string", Pattern: `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`,
			Description: "A Go duration such as 24h or 15m."}
	}
	return nil
}

// generateSchema reflects the JSON Schema of a platform file from the Go
// types, with their doc comments as descriptions.
func generateSchema(t *testing.T) []byte {
	t.Helper()
	r := &jsonschema.Reflector{RequiredFromJSONSchemaTags: true, ExpandedStruct: true, Mapper: schemaMapper}
	if err := r.AddGoComments("github.com/budnet/budnet/internal/platform", "."); err != nil {
		t.Fatalf("reading Go comments: %v", err)
	}
	s := r.Reflect(&Platform{})
	s.ID = "https://budnet.io/schemas/v1alpha1/platform.schema.json"
	s.Title = "budnet platform (" + APIVersion + ")"
	s.Required = schemaRequired["Platform"]
	prop(t, s, "apiVersion").Const = APIVersion
	prop(t, s, "kind").Const = Kind
	for name, fields := range schemaRequired {
		if name == "Platform" {
			continue
		}
		def := s.Definitions[name]
		if def == nil {
			t.Fatalf("schema has no definition %s", name)
		}
		for _, f := range fields {
			prop(t, def, f)
		}
		def.Required = fields
	}
	for path, values := range schemaEnums {
		typ, field, _ := strings.Cut(path, ".")
		prop(t, s.Definitions[typ], field).Enum = values
	}
	for _, path := range schemaPorts {
		typ, field, _ := strings.Cut(path, ".")
		p := prop(t, s.Definitions[typ], field)
		p.Minimum, p.Maximum = json.Number("1"), json.Number("65535")
	}
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}

func prop(t *testing.T, s *jsonschema.Schema, name string) *jsonschema.Schema {
	t.Helper()
	if s == nil || s.Properties == nil {
		t.Fatalf("schema has no properties for %s", name)
	}
	p, ok := s.Properties.Get(name)
	if !ok {
		t.Fatalf("schema has no property %s", name)
	}
	return p
}

// TestSchemaUpToDate fails when docs/platform.schema.json differs from what
// the Go types generate; regenerate with
// go test ./internal/platform -run Schema -update.
func TestSchemaUpToDate(t *testing.T) {
	got := generateSchema(t)
	if *update {
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("%v (generate it with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is out of date; run: go test ./internal/platform -run Schema -update", schemaFile)
	}
}

func compileSchema(t *testing.T) *sjsonschema.Schema {
	t.Helper()
	data, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := sjsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	c := sjsonschema.NewCompiler()
	if err := c.AddResource("platform.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("platform.schema.json")
	if err != nil {
		t.Fatalf("compiling the schema: %v", err)
	}
	return sch
}

func yamlInstance(t *testing.T, file string, data []byte) any {
	t.Helper()
	docs, err := yamlsrc.Parse(file, data)
	if err != nil || len(docs) != 1 {
		t.Fatalf("parsing %s: %v (%d documents)", file, err, len(docs))
	}
	js, err := yamlsrc.ToJSON(docs[0].Root)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := sjsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

// TestSchemaAcceptsValidFiles checks the embedded Bud model, the valid
// fixtures and the examples against the shipped schema, as an editor would.
func TestSchemaAcceptsValidFiles(t *testing.T) {
	sch := compileSchema(t)
	if err := sch.Validate(yamlInstance(t, BudFile, BudYAML())); err != nil {
		t.Errorf("bud.yaml fails the schema: %v", err)
	}
	files, _ := filepath.Glob("testdata/valid/*.yaml")
	examples, _ := filepath.Glob("../../examples/platforms/*.yaml")
	for _, f := range append(files, examples...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(yamlInstance(t, f, data)); err != nil {
			t.Errorf("%s fails the schema: %v", f, err)
		}
	}
}

// TestSchemaRejects checks that the schema catches what editors can catch:
// unknown fields, enums, required fields and port ranges.
func TestSchemaRejects(t *testing.T) {
	sch := compileSchema(t)
	for _, name := range []string{"unknown-field", "wrong-kind", "wrong-api-version", "invalid-role",
		"invalid-protocol", "edge-bad-kind", "missing-pod-labels", "port-out-of-range", "tls-min-version",
		"pod-security-level", "mesh-bad-duration", "type-mismatch"} {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join("testdata", "invalid", name+".yaml")
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(yamlInstance(t, f, data)); err == nil {
				t.Errorf("schema accepts %s", f)
			}
		})
	}
}

// TestDefaultedModelRoundTrips: the JSON of a defaulted model (what
// `platform show -o json` prints) passes the schema, parses as a platform
// file, and comes back unchanged, so defaulting is a fixed point.
func TestDefaultedModelRoundTrips(t *testing.T) {
	sch := compileSchema(t)
	for _, f := range []string{"", "testdata/valid/minimal.yaml", "../../examples/platforms/egress-gateway.yaml"} {
		var p *Platform
		var err error
		if f == "" {
			p, err = Default()
		} else {
			p, err = Load(f)
		}
		if err != nil {
			t.Fatal(err)
		}
		first, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(yamlInstance(t, "defaulted.json", first)); err != nil {
			t.Errorf("defaulted %s fails the schema: %v", f, err)
		}
		again, err := Parse("defaulted.json", first)
		if err != nil {
			t.Fatalf("defaulted %s does not parse: %v", f, err)
		}
		second, err := json.Marshal(again)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, second) {
			t.Errorf("defaulting %s is not a fixed point:\n%s\n%s", f, first, second)
		}
	}
}
