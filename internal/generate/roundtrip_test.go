package generate_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/generate"
	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/platform"
	"github.com/budnet/budnet/internal/reach"
)

// examples is the directory holding the example platforms and their
// reference installs, relative to this package.
const examples = "../../examples"

// roundTripCase is a model and the reference install its policies are
// judged on.
type roundTripCase struct {
	name      string
	platform  string // "" for the embedded Bud model
	reference string
}

func roundTripCases() []roundTripCase {
	return []roundTripCase{
		{name: "bud", reference: filepath.Join(examples, "bud-reference")},
		{name: "minimal", platform: filepath.Join(examples, "platforms", "minimal.yaml"), reference: filepath.Join(examples, "minimal-reference")},
		{name: "egress-gateway", platform: filepath.Join(examples, "platforms", "egress-gateway.yaml"), reference: filepath.Join(examples, "egress-gateway-reference")},
	}
}

func loadModel(t testing.TB, file string) *platform.Platform {
	t.Helper()
	if file == "" {
		p, err := platform.Default()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p, err := platform.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// compare writes the generated files, loads them with the reference install
// as `budnet reach -f OUT -f REFERENCE` does, and compares the matrix with
// the model's intended matrix.
func compare(t *testing.T, p *platform.Platform, o generate.Options, reference string) *reach.Diff {
	t.Helper()
	files, err := generate.Generate(p, o)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return diffOf(t, p, files, reference)
}

func diffOf(t *testing.T, p *platform.Platform, files []generate.File, reference string) *reach.Diff {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	if err := generate.WriteDir(out, files, false); err != nil {
		t.Fatalf("WriteDir: %v", err)
	}
	// The YAML files, as `reach -f` would read them; Terraform JSON (the
	// cloud concern) is not a Kubernetes manifest.
	inputs := []string{reference}
	for _, f := range files {
		if strings.HasSuffix(f.Name, ".yaml") {
			inputs = append(inputs, filepath.Join(out, filepath.FromSlash(f.Name)))
		}
	}
	inv, err := manifest.Load(context.Background(), inputs, manifest.Options{})
	if err != nil {
		t.Fatalf("loading the generated manifests and %s: %v", reference, err)
	}
	in := reach.Build(inv, reach.BuildOptions{})
	eng, err := netpol.New(in.Cluster, netpol.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := reach.Compare(in, eng, eng.Matrix(), p)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Unmatched) > 0 {
		t.Errorf("model workloads missing from %s: %v", reference, d.Unmatched)
	}
	return d
}

func describe(ds []reach.Discrepancy) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString("\n  " + d.Src + " -> " + d.Dst + " " + d.Ports.String() + " flow=" + d.Flow + " policies=" + strings.Join(d.Policies, ",") + ": " + d.Reason)
	}
	return b.String()
}

// TestRoundTrip is the core invariant: on a reference install, the generated
// policies allow exactly the model's intended matrix, nothing more (no
// over-permissive connection) and nothing less (no broken flow).
func TestRoundTrip(t *testing.T) {
	for _, tc := range roundTripCases() {
		t.Run(tc.name, func(t *testing.T) {
			p := loadModel(t, tc.platform)
			d := compare(t, p, generate.Options{CNI: generate.CNIKubernetes}, tc.reference)
			if len(d.OverPermissive) > 0 {
				t.Errorf("%d over-permissive connections:%s", len(d.OverPermissive), describe(d.OverPermissive))
			}
			if len(d.Broken) > 0 {
				t.Errorf("%d broken flows:%s", len(d.Broken), describe(d.Broken))
			}
		})
	}
}

// TestRoundTripCilium checks the Cilium form: NetworkPolicy cannot name
// hosts, so each host flow is blocked in the NetworkPolicy matrix and opened
// by the CiliumNetworkPolicy toFQDNs rules reach reads (Diff.OpenedByFQDN);
// nothing is broken and nothing over-permissive.
func TestRoundTripCilium(t *testing.T) {
	for _, tc := range roundTripCases() {
		t.Run(tc.name, func(t *testing.T) {
			p := loadModel(t, tc.platform)
			d := compare(t, p, generate.Options{CNI: generate.CNICilium}, tc.reference)
			if len(d.OverPermissive) > 0 {
				t.Errorf("%d over-permissive connections:%s", len(d.OverPermissive), describe(d.OverPermissive))
			}
			if len(d.Broken) > 0 {
				t.Errorf("%d broken flows:%s", len(d.Broken), describe(d.Broken))
			}
			for _, f := range p.Spec.Flows.Egress {
				if len(f.Hosts) > 0 && !hasFlow(d.OpenedByFQDN, f.Name) {
					t.Errorf("host flow %s is not carried by toFQDNs alone (open to public addresses in NetworkPolicy, or not opened)", f.Name)
				}
			}
		})
	}
}

// TestRoundTripCanFail shows the comparison sees what it must: dropping one
// generated policy breaks its flow, and dropping a default deny opens a zone.
func TestRoundTripCanFail(t *testing.T) {
	tests := []struct {
		name       string
		drop       string // namespace/name of the policy removed
		wantBroken string // flow expected among the broken
		wantOpen   bool   // expect over-permissive connections
	}{
		{name: "ingress side of a flow", drop: "bud-data/allow-bud-system-to-postgresql-5432", wantBroken: "system-to-postgresql"},
		{name: "egress side of a flow", drop: "bud-system/allow-budapp-to-postgresql-5432-egress", wantBroken: "system-to-postgresql"},
		{name: "dns", drop: "bud-auth/allow-dns-egress", wantBroken: "dns"},
		{name: "gateway route", drop: "bud-infra/allow-budgateway-to-budnet-egress-3128", wantBroken: "egress-via-gateway"},
		// grafana has no inbound flow: only the default deny isolates it.
		{name: "default deny", drop: "bud-monitoring/default-deny", wantOpen: true},
	}
	p := loadModel(t, "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, err := generate.Generate(p, generate.Options{})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for i := range files {
				objs := files[i].Objects[:0:0]
				for _, u := range files[i].Objects {
					if u.GetKind() == "NetworkPolicy" && u.GetNamespace()+"/"+u.GetName() == tt.drop {
						found = true
						continue
					}
					objs = append(objs, u)
				}
				files[i].Objects = objs
			}
			if !found {
				t.Fatalf("no generated policy %s", tt.drop)
			}
			d := diffOf(t, p, files, filepath.Join(examples, "bud-reference"))
			if tt.wantOpen != (len(d.OverPermissive) > 0) {
				t.Errorf("over-permissive: got %d entries, want some: %v", len(d.OverPermissive), tt.wantOpen)
			}
			if tt.wantBroken != "" && !hasFlow(d.Broken, tt.wantBroken) {
				t.Errorf("flow %s not reported broken; broken:%s", tt.wantBroken, describe(d.Broken))
			}
		})
	}
}

func hasFlow(ds []reach.Discrepancy, flow string) bool {
	for _, d := range ds {
		if d.Flow == flow {
			return true
		}
	}
	return false
}
