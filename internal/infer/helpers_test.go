package infer

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
)

// loadDocs loads YAML documents as one file, in namespace bud by default.
func loadDocs(t testing.TB, docs ...string) *manifest.Inventory {
	t.Helper()
	inv, err := manifest.LoadBytes("test.yaml", []byte(strings.Join(docs, "\n---\n")), manifest.Options{DefaultNamespace: "bud"})
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// inferValid infers and checks that the YAML output validates.
func inferValid(t testing.TB, inv *manifest.Inventory) (*Result, *platform.Platform) {
	t.Helper()
	res, err := Infer(inv, Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := res.YAML()
	if err != nil {
		t.Fatal(err)
	}
	p, err := platform.Parse("inferred.yaml", out)
	if err != nil {
		t.Fatalf("inferred model does not validate: %v\n%s", err, out)
	}
	return res, p
}

// tuples renders a model's flows one connection a line, the form of
// testdata/bud/expected-flows.txt; named ports stay names.
func tuples(p *platform.Platform) []string {
	var out []string
	port := func(pt platform.Port) string {
		if pt.Name != "" {
			return pt.Name
		}
		s := fmt.Sprint(pt.Port)
		if pt.Protocol != "" && pt.Protocol != "TCP" {
			s += "/" + pt.Protocol
		}
		return s
	}
	for _, f := range p.Spec.Flows.Internal {
		from := f.From.Workload
		if f.From.Dapr {
			from = "dapr"
		}
		for _, pt := range f.Ports {
			out = append(out, fmt.Sprintf("internal %s %s %s", from, f.To.Workload, port(pt)))
		}
	}
	for _, f := range p.Spec.Flows.Ingress {
		for _, pt := range f.Ports {
			out = append(out, fmt.Sprintf("ingress %s %s", f.To.Workload, port(pt)))
		}
	}
	for _, f := range p.Spec.Flows.Egress {
		for _, h := range f.Hosts {
			for _, pt := range f.Ports {
				out = append(out, fmt.Sprintf("egress %s %s:%s", f.From.Workload, h, port(pt)))
			}
		}
	}
	sort.Strings(out)
	return out
}

func readExpected(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, strings.Join(strings.Fields(line), " "))
		}
	}
	sort.Strings(out)
	return out
}

// tuplesOf parses an inferred YAML and returns its flows as tuples.
func tuplesOf(t testing.TB, out []byte) []string {
	t.Helper()
	p, err := platform.Parse("inferred.yaml", out)
	if err != nil {
		t.Fatalf("inferred model does not validate: %v", err)
	}
	return tuples(p)
}
