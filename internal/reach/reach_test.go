package reach

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/addrset"
	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/platform"
)

// publicEgressPolicy allows api to every public address on 443: 0.0.0.0/0 and
// ::/0 except each range the egress gateway denies, but the IPv4-mapped one,
// which the API server refuses in an ipBlock (see publicExclusions).
func publicEgressPolicy() string {
	var v4, v6 []string
	for _, r := range addrset.SpecialPurpose() {
		if r.Prefix.Addr().Is4() {
			v4 = append(v4, fmt.Sprintf("%q", r.Prefix))
		} else if r.Prefix.Bits() > 0 && !r.Prefix.Addr().Is4In6() {
			v6 = append(v6, fmt.Sprintf("%q", r.Prefix))
		}
	}
	return fmt.Sprintf(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-egress-public, namespace: shop}
spec:
  podSelector: {matchLabels: {app.kubernetes.io/name: api}}
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock: {cidr: 0.0.0.0/0, except: [%s]}
    - ipBlock: {cidr: "::/0", except: [%s]}
    ports: [{port: 443}]
`, strings.Join(v4, ","), strings.Join(v6, ","))
}

func load(t *testing.T, docs ...string) *Input {
	t.Helper()
	// --validate=ignore: one case relies on an unknown field being dropped.
	inv, err := manifest.LoadBytes("test.yaml", []byte(strings.Join(docs, "\n---\n")), manifest.Options{Validation: manifest.ValidateIgnore})
	if err != nil {
		t.Fatal(err)
	}
	return Build(inv, BuildOptions{})
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func compare(t *testing.T, in *Input, modelFile string) *Diff {
	t.Helper()
	model, err := platform.Load(modelFile)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := netpol.New(in.Cluster, netpol.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := Compare(in, eng, eng.Matrix(), model)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func render(ds []Discrepancy) []string {
	var out []string
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%s => %s : %s", d.Src, d.Dst, d.Ports))
	}
	return out
}

const shopModel = "../../examples/platforms/minimal.yaml"

func TestCompare(t *testing.T) {
	base := readFile(t, "testdata/shop-base.yaml")
	policies := readFile(t, "testdata/shop-policies.yaml")
	withoutPolicy := func(name string) string {
		var kept []string
		for _, doc := range strings.Split(policies, "\n---\n") {
			if !strings.Contains(doc, "name: "+name+",") {
				kept = append(kept, doc)
			}
		}
		return strings.Join(kept, "\n---\n")
	}
	tests := []struct {
		name string
		docs []string
		// Entries that must be present; with exact, nothing else may be.
		wantOver, wantBroken []string
		exact                bool
		wantPolicies         map[string][]string // discrepancy -> deciding policies
	}{
		{
			name:  "policies implementing exactly the model leave nothing to report",
			docs:  []string{base, policies, publicEgressPolicy()},
			exact: true,
		},
		{
			name: "a missing allow breaks the intended flow and names the isolating policy",
			docs: []string{base, withoutPolicy("allow-api-to-postgresql"), publicEgressPolicy()},
			wantBroken: []string{
				"shop/api[Deployment] => shop-data/postgresql[StatefulSet] : TCP/5432",
			},
			exact: true,
			wantPolicies: map[string][]string{"shop/api[Deployment] => shop-data/postgresql[StatefulSet] : TCP/5432": {
				// allow-dns has egress rules and no policyTypes, so it isolates ingress too.
				"shop-data/default-deny", "shop-data/allow-dns"}},
		},
		{
			name: "egress isolation without a DNS rule breaks name resolution",
			docs: []string{base, withoutPolicy("allow-dns"), publicEgressPolicy()},
			wantBroken: []string{
				"shop/api[Deployment] => kube-system/coredns[Deployment] : TCP/53,UDP/53",
				"shop/web[Deployment] => kube-system/coredns[Deployment] : TCP/53,UDP/53",
				"shop-data/postgresql[StatefulSet] => kube-system/coredns[Deployment] : TCP/53,UDP/53",
			},
			exact: true,
		},
		{
			name:       "no public egress rule breaks the host allowlist flow",
			docs:       []string{base, policies},
			wantBroken: []string{"shop/api[Deployment] => api.stripe.com : TCP/443"},
			exact:      true,
		},
		{
			name: "the guide's 0.0.0.0/0:443 example is over-permissive: it includes private and metadata addresses",
			docs: []string{base, policies, strings.ReplaceAll(publicEgressPolicy(), "except: [", "except2: [")},
			// The unknown field except2 is dropped on load, as kubectl's
			// --validate=ignore does, leaving ipBlock 0.0.0.0/0 and ::/0.
			wantOver: []string{"shop/api[Deployment] => 0.0.0.0/0 : TCP/443", "shop/api[Deployment] => ::/0 : TCP/443"},
			exact:    true,
		},
		{
			name: "without any policy every judged connection is over-permissive",
			docs: []string{base},
			wantOver: []string{
				"shop/web[Deployment] => shop-data/postgresql[StatefulSet] : all",
				"shop/api[Deployment] => shop-data/postgresql[StatefulSet] : " + allBut5432(),
				"0.0.0.0/0 => shop-data/postgresql[StatefulSet] : all",
				"::/0 => shop/web[Deployment] : TCP/1-8079,TCP/8081-65535,UDP/1-65535,SCTP/1-65535",
				"kube-system/coredns[Deployment] => shop/api[Deployment] : all",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := compare(t, load(t, tt.docs...), shopModel)
			over, broken := render(d.OverPermissive), render(d.Broken)
			check := func(kind string, got, want []string) {
				for _, w := range want {
					if !slices.Contains(got, w) {
						t.Errorf("%s: missing %q in\n%s", kind, w, strings.Join(got, "\n"))
					}
				}
				if tt.exact && len(got) != len(want) {
					t.Errorf("%s: got %d entries, want %d:\n%s", kind, len(got), len(want), strings.Join(got, "\n"))
				}
			}
			check("over-permissive", over, tt.wantOver)
			check("broken", broken, tt.wantBroken)
			if len(d.Unmatched) != 0 {
				t.Errorf("unmatched model workloads: %v", d.Unmatched)
			}
			for key, want := range tt.wantPolicies {
				for _, ds := range [][]Discrepancy{d.OverPermissive, d.Broken} {
					for _, x := range ds {
						if fmt.Sprintf("%s => %s : %s", x.Src, x.Dst, x.Ports) == key && !slices.Equal(x.Policies, want) {
							t.Errorf("%s: policies %v, want %v", key, x.Policies, want)
						}
					}
				}
			}
		})
	}
}

func allBut5432() string {
	return netpol.AllPorts().Minus(netpol.NewPortSet(netpol.PortRange{Protocol: "TCP", Start: 5432, End: 5432})).String()
}

func TestMatching(t *testing.T) {
	base := readFile(t, "testdata/shop-base.yaml")
	t.Run("a workload outside its zone is matched by labels, with a note", func(t *testing.T) {
		moved := strings.Replace(base, "metadata: {name: postgresql, namespace: shop-data}", "metadata: {name: postgresql, namespace: shop}", 1)
		d := compare(t, load(t, moved), shopModel)
		if len(d.Unmatched) != 0 || len(d.Notes) != 1 || !strings.Contains(d.Notes[0], "outside its zone") {
			t.Fatalf("unmatched %v notes %v", d.Unmatched, d.Notes)
		}
	})
	t.Run("a workload with other labels is unmatched and its flows are not judged", func(t *testing.T) {
		relabelled := strings.ReplaceAll(base, "app.kubernetes.io/name: postgresql", "app: pg")
		d := compare(t, load(t, relabelled), shopModel)
		if !slices.Equal(d.Unmatched, []string{"shop-data/postgresql"}) {
			t.Fatalf("unmatched %v", d.Unmatched)
		}
		for _, b := range d.Broken {
			if strings.Contains(b.Dst, "postgresql") {
				t.Errorf("judged a flow of an unmatched workload: %+v", b)
			}
		}
	})
}

func TestBuildNamesWorkloads(t *testing.T) {
	in := load(t, `apiVersion: v1
kind: Pod
metadata:
  name: web-5d8f-abcde
  namespace: shop
  labels: {app: web}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-5d8f, uid: u, controller: true}]
spec: {containers: [{name: c, image: i}]}`, `apiVersion: v1
kind: Pod
metadata: {name: debug, namespace: shop}
spec: {containers: [{name: c, image: i}]}`, `apiVersion: batch/v1
kind: CronJob
metadata: {name: backup, namespace: shop}
spec:
  schedule: "@daily"
  jobTemplate: {spec: {template: {spec: {containers: [{name: c, image: i}], restartPolicy: Never}}}}`,
		// Two static pods of one node: mirror pods owned by the Node, each its
		// own workload (issue 15), not one "kube-system/node-1[Node]".
		`apiVersion: v1
kind: Pod
metadata:
  name: etcd-node-1
  namespace: kube-system
  labels: {component: etcd}
  ownerReferences: [{apiVersion: v1, kind: Node, name: node-1, uid: node-uid, controller: true}]
spec: {containers: [{name: c, image: i}]}`, `apiVersion: v1
kind: Pod
metadata:
  name: kube-apiserver-node-1
  namespace: kube-system
  labels: {component: kube-apiserver}
  ownerReferences: [{apiVersion: v1, kind: Node, name: node-1, uid: node-uid, controller: true}]
spec: {containers: [{name: c, image: i}]}`)
	var names []string
	for _, w := range in.Workloads {
		names = append(names, w.Name)
	}
	want := []string{"kube-system/etcd-node-1[Pod]", "kube-system/kube-apiserver-node-1[Pod]", "shop/backup[CronJob]", "shop/debug[Pod]", "shop/web-5d8f[ReplicaSet]"}
	if !slices.Equal(names, want) {
		t.Fatalf("workloads %v, want %v", names, want)
	}
	if w, ok := in.Workload("shop/debug"); !ok || w.Name != "shop/debug[Pod]" {
		t.Fatalf("lookup without kind failed: %v %v", w, ok)
	}
}

func TestCovered(t *testing.T) {
	set := []netip.Prefix{netip.MustParsePrefix("224.0.0.0/4"), netip.MustParsePrefix("240.0.0.0/4"), netip.MustParsePrefix("fe80::/10"), netip.MustParsePrefix("fec0::/10")}
	tests := []struct {
		p    string
		want bool
	}{
		{"224.0.0.0/3", true},  // the union of two adjacent prefixes
		{"224.0.0.0/2", false}, // half of it is public
		{"239.1.2.3/32", true},
		{"fe80::/9", true},
		{"fe00::/8", false},
		{"10.0.0.0/8", false},
		{"::ffff:224.0.0.0/100", false}, // other family
	}
	for _, tt := range tests {
		if got := covered(netip.MustParsePrefix(tt.p), set); got != tt.want {
			t.Errorf("covered(%s) = %v, want %v", tt.p, got, tt.want)
		}
	}
}
