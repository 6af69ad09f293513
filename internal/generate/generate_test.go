package generate_test

import (
	"bytes"
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/diag"
	"github.com/budnet/budnet/internal/generate"
	"github.com/budnet/budnet/internal/platform"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// ownFiles are the files of the concerns this test's golden files cover;
// other concerns keep their own golden files.
var ownFiles = []string{generate.FileNamespaces, generate.FileNetworkPolicies, generate.FileEgress}

func stream(t *testing.T, files []generate.File) []byte {
	t.Helper()
	var mine []generate.File
	for _, f := range files {
		if slices.Contains(ownFiles, f.Name) {
			mine = append(mine, f)
		}
	}
	var b bytes.Buffer
	if _, err := generate.WriteStream(&b, mine); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestGolden keeps the generated namespaces and policies for each example
// platform and CNI under review: `go test ./internal/generate -run Golden -update`
// rewrites them, and the diff is what a change does to real output.
func TestGolden(t *testing.T) {
	for _, tc := range roundTripCases() {
		for _, cni := range []generate.CNI{generate.CNIKubernetes, generate.CNICilium} {
			name := tc.name + "-" + string(cni)
			t.Run(name, func(t *testing.T) {
				files, err := generate.Generate(loadModel(t, tc.platform), generate.Options{CNI: cni})
				if err != nil {
					t.Fatal(err)
				}
				got := stream(t, files)
				golden := filepath.Join("testdata", "golden", name+".yaml")
				if *update {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("output differs from %s; run with -update and review the diff", golden)
				}
			})
		}
	}
}

// TestDeterministic generates twice from two separately loaded models and
// compares every byte of every file.
func TestDeterministic(t *testing.T) {
	for _, tc := range roundTripCases() {
		t.Run(tc.name, func(t *testing.T) {
			render := func() map[string][]byte {
				files, err := generate.Generate(loadModel(t, tc.platform), generate.Options{CNI: generate.CNICilium})
				if err != nil {
					t.Fatal(err)
				}
				out := map[string][]byte{}
				for _, f := range files {
					data, err := f.Render()
					if err != nil {
						t.Fatal(err)
					}
					out[f.Name] = data
				}
				return out
			}
			a, b := render(), render()
			if len(a) != len(b) {
				t.Fatalf("%d files, then %d", len(a), len(b))
			}
			for name, data := range a {
				if !bytes.Equal(data, b[name]) {
					t.Errorf("%s differs between two runs", name)
				}
			}
		})
	}
}

// TestGeneratedObjects checks properties every object must have, whatever
// the model: the managed-by label, the model-row annotation, a guide
// annotation on every policy, and names valid as DNS-1123 subdomains.
func TestGeneratedObjects(t *testing.T) {
	for _, tc := range roundTripCases() {
		for _, cni := range []generate.CNI{generate.CNIKubernetes, generate.CNICilium} {
			t.Run(tc.name+"-"+string(cni), func(t *testing.T) {
				files, err := generate.Generate(loadModel(t, tc.platform), generate.Options{CNI: cni})
				if err != nil {
					t.Fatal(err)
				}
				if last := files[len(files)-1]; last.Name != generate.FileKustomization {
					t.Errorf("last file %s, want %s", last.Name, generate.FileKustomization)
				}
				seen := map[string]bool{}
				for _, f := range files {
					for _, u := range f.Objects {
						id := u.GetKind() + " " + u.GetNamespace() + "/" + u.GetName()
						if seen[id] {
							t.Errorf("%s generated twice", id)
						}
						seen[id] = true
						if u.GetLabels()[generate.LabelManagedBy] != generate.ManagedBy {
							t.Errorf("%s: no %s label", id, generate.LabelManagedBy)
						}
						if u.GetAnnotations()[generate.AnnotationModelRow] == "" {
							t.Errorf("%s: no %s annotation", id, generate.AnnotationModelRow)
						}
						if strings.HasSuffix(u.GetKind(), "NetworkPolicy") && u.GetAnnotations()[generate.AnnotationGuide] == "" {
							t.Errorf("%s: no %s annotation", id, generate.AnnotationGuide)
						}
						if !validSubdomain(u.GetName()) {
							t.Errorf("%s: name is not a DNS-1123 subdomain", id)
						}
					}
				}
			})
		}
	}
}

func validSubdomain(s string) bool {
	if s == "" || len(s) > 253 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' && r != '.' {
			return false
		}
	}
	return true
}

// TestNamespaces checks the Pod Security Admission labels of every zone.
func TestNamespaces(t *testing.T) {
	p := loadModel(t, "")
	files, err := generate.Namespaces(p, generate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	objs := files[0].Objects
	if len(objs) != len(p.Spec.Zones) {
		t.Fatalf("%d namespaces for %d zones", len(objs), len(p.Spec.Zones))
	}
	for i, z := range p.Spec.Zones {
		l := objs[i].GetLabels()
		for _, mode := range []string{"enforce", "audit", "warn"} {
			if got := l["pod-security.kubernetes.io/"+mode]; got != z.PodSecurity {
				t.Errorf("%s: %s level %q, want %q", z.Name, mode, got, z.PodSecurity)
			}
			if got := l["pod-security.kubernetes.io/"+mode+"-version"]; got != "latest" {
				t.Errorf("%s: %s-version %q, want latest", z.Name, mode, got)
			}
		}
		for k, v := range z.Labels {
			if l[k] != v {
				t.Errorf("%s: zone label %s=%s missing", z.Name, k, v)
			}
		}
	}
}

// TestBadModel covers what generate finds itself in models built in code
// (files go through platform.Validate first): a flow to a workload that does
// not exist and a port name the destination lacks, each as an input error
// naming the model file, line and field.
func TestBadModel(t *testing.T) {
	tests := []struct {
		name      string
		mutate    func(p *platform.Platform)
		wantField string
	}{
		{name: "flow to a missing workload", mutate: func(p *platform.Platform) {
			p.Spec.Flows.Internal[0].To = platform.Selector{Workload: "no-such-workload"}
		}, wantField: "spec.flows.internal[0].to"},
		{name: "unknown port name", mutate: func(p *platform.Platform) {
			p.Spec.Flows.Internal[0].Ports = []platform.Port{{Name: "no-such-port", Protocol: "TCP"}}
		}, wantField: "spec.flows.internal[0].ports[0].name"},
		{name: "named port outside the cluster", mutate: func(p *platform.Platform) {
			p.Spec.Flows.Egress[0].Ports = []platform.Port{{Name: "https", Protocol: "TCP"}}
		}, wantField: "spec.flows.egress[0].ports[0].name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := loadModel(t, "")
			tt.mutate(p)
			_, err := generate.Generate(p, generate.Options{})
			var ie *diag.InputError
			if !errors.As(err, &ie) {
				t.Fatalf("got %v, want a *diag.InputError", err)
			}
			if ie.File != platform.BudFile || ie.Line == 0 || ie.Field != tt.wantField {
				t.Errorf("got %s:%d %s, want %s:<line> %s", ie.File, ie.Line, ie.Field, platform.BudFile, tt.wantField)
			}
		})
	}
}

func TestBadOptions(t *testing.T) {
	tests := []struct {
		name string
		o    generate.Options
	}{
		{name: "cni", o: generate.Options{CNI: "calico"}},
		{name: "edge", o: generate.Options{Edge: "haproxy"}},
		{name: "cloud", o: generate.Options{Cloud: "gcp"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := generate.Generate(loadModel(t, ""), tt.o); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func BenchmarkGenerate(b *testing.B) {
	for _, cni := range []generate.CNI{generate.CNIKubernetes, generate.CNICilium} {
		b.Run("bud-"+string(cni), func(b *testing.B) {
			p := loadModel(b, "")
			b.ReportAllocs()
			for b.Loop() {
				files, err := generate.Generate(p, generate.Options{CNI: cni})
				if err != nil {
					b.Fatal(err)
				}
				for _, f := range files {
					if _, err := f.Render(); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// TestIPBlocks holds every generated ipBlock to what the API server accepts
// (k8s.io/kubernetes pkg/apis/networking/validation ValidateIPBlock with
// StrictIPCIDRValidation, on by default since 1.36): canonical CIDRs without
// host bits or IPv4-mapped addresses, and excepts strictly inside the cidr.
func TestIPBlocks(t *testing.T) {
	for _, tc := range roundTripCases() {
		t.Run(tc.name, func(t *testing.T) {
			files, err := generate.Generate(loadModel(t, tc.platform), generate.Options{})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, f := range files {
				for _, u := range f.Objects {
					walkIPBlocks(u.Object, func(cidr string, except []string) {
						n++
						c := strictPrefix(t, u.GetName(), cidr)
						for _, e := range except {
							x := strictPrefix(t, u.GetName(), e)
							if !c.Contains(x.Addr()) || x.Bits() <= c.Bits() {
								t.Errorf("%s: except %s is not a strict subset of %s", u.GetName(), e, cidr)
							}
						}
					})
				}
			}
			if n == 0 {
				t.Error("no ipBlock generated")
			}
		})
	}
}

func strictPrefix(t *testing.T, obj, s string) netip.Prefix {
	t.Helper()
	p, err := netip.ParsePrefix(s)
	switch {
	case err != nil:
		t.Errorf("%s: %v", obj, err)
	case p.Addr().Is4In6():
		t.Errorf("%s: %s is IPv4-mapped", obj, s)
	case p != p.Masked() || p.String() != s:
		t.Errorf("%s: %s is not canonical (%s)", obj, s, p.Masked())
	}
	return p
}

// walkIPBlocks calls fn for every ipBlock in v.
func walkIPBlocks(v any, fn func(cidr string, except []string)) {
	switch v := v.(type) {
	case map[string]any:
		if b, ok := v["ipBlock"].(map[string]any); ok {
			var ex []string
			for _, e := range asSlice(b["except"]) {
				ex = append(ex, e.(string))
			}
			fn(b["cidr"].(string), ex)
		}
		for _, c := range v {
			walkIPBlocks(c, fn)
		}
	case []any:
		for _, c := range v {
			walkIPBlocks(c, fn)
		}
	}
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}
