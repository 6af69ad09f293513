package netpol_test

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/netpol/netpoltest"
)

// parseCilium decodes "---"-separated Cilium policies (kind
// CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy) strictly.
func parseCilium(t testing.TB, c *netpol.Cluster, docs string) {
	t.Helper()
	for _, doc := range strings.Split(docs, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		p := &netpol.CiliumNetworkPolicy{}
		if err := yaml.UnmarshalStrict([]byte(doc), p); err != nil {
			t.Fatalf("yaml: %v\n%s", err, doc)
		}
		c.CiliumNetworkPolicies = append(c.CiliumNetworkPolicies, p)
	}
}

// TestCilium holds one case per rule of Cilium's policy semantics, each
// citing the source in github.com/cilium/cilium it follows, judged on
// fixtureCluster (a team=blue, b team=green, c no team; c/node is
// host-network; pods carry IPs in 10.0.0.0/16, c/api fd00::5).
func TestCilium(t *testing.T) {
	tests := []struct {
		name, ref   string
		objects     string // Cilium policies
		networkPols string // NetworkPolicies on the same endpoints
		opts        netpol.Options
		checks      []check
	}{
		{
			name: "a namespaced policy selects endpoints of its namespace only; peers default to it too",
			ref:  "pkg/k8s/apis/cilium.io/utils/utils.go ParseToCiliumRule and getEndpointSelector",
			objects: `
kind: CiliumNetworkPolicy
metadata: {namespace: a, name: web}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]`,
			checks: []check{
				{src: "a/client", dst: "a/web", port: 8080, want: true},
				{src: "b/client", dst: "a/web", port: 8080, want: false},
				{src: "b/client", dst: "b/web", port: 80, want: true}, // b/web not selected
			},
		},
		{
			name: "a namespaced policy's endpointSelector naming another namespace still selects its own",
			ref:  "pkg/k8s/apis/cilium.io/utils/utils.go ParseToCiliumRule (EndpointSelector.AddMatch replaces k8s:io.kubernetes.pod.namespace: 'removing illegal namespace match')",
			objects: `
kind: CiliumNetworkPolicy
metadata: {namespace: b, name: web}
spec:
  endpointSelector: {matchLabels: {k8s:io.kubernetes.pod.namespace: a, app: web}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]`,
			checks: []check{
				{src: "b/client", dst: "b/web", port: 80, want: true},
				{src: "a/client", dst: "b/web", port: 80, want: false},  // b/web is selected
				{src: "a/client", dst: "a/web", port: 8080, want: true}, // a/web is not
			},
		},
		{
			name: "only the k8s: namespace key is replaced; the same label named twice with two values matches nothing",
			ref:  "utils.go ParseToCiliumRule (AddMatch of podPrefixLbl only); pkg/labels: any: and k8s: name a pod's one k8s label",
			objects: `
kind: CiliumNetworkPolicy
metadata: {namespace: b, name: web}
spec:
  endpointSelector: {matchLabels: {io.kubernetes.pod.namespace: a, app: web}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
---
kind: CiliumNetworkPolicy
metadata: {namespace: b, name: db}
spec:
  endpointSelector: {matchLabels: {app: db}}
  ingress:
  - fromEndpoints: [{matchLabels: {k8s:app: client, any:app: web}}]`,
			checks: []check{
				{src: "a/client", dst: "b/web", port: 80, want: true}, // any:ns=a and k8s:ns=b: nothing selected
				{src: "b/client", dst: "b/db", port: 5432, want: false},
				{src: "b/web", dst: "b/db", port: 5432, want: false},
			},
		},
		{
			name: "the namespace key and namespace labels widen a peer beyond the policy's namespace",
			ref:  "utils.go getEndpointSelector (podPrefixLbl, podK8SNamespaceLabelsPrefix)",
			objects: `
kind: CiliumNetworkPolicy
metadata: {namespace: a, name: db}
spec:
  endpointSelector: {matchLabels: {k8s:app: db}}
  ingress:
  - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: b, app: client}}]
  - fromEndpoints: [{matchLabels: {k8s:io.cilium.k8s.namespace.labels.team: green, k8s:app: web}}]`,
			checks: []check{
				{src: "b/client", dst: "a/db", port: 5432, want: true},
				{src: "a/client", dst: "a/db", port: 5432, want: false},
				{src: "b/web", dst: "a/db", port: 5432, want: true},
				{src: "a/web", dst: "a/db", port: 5432, want: false},
			},
		},
		{
			name: "a clusterwide policy's empty peer selector is every pod of the cluster",
			ref:  "utils.go getEndpointSelector (namespace == \"\": Exists on the namespace label)",
			objects: `
kind: CiliumClusterwideNetworkPolicy
metadata: {name: all-pods}
spec:
  endpointSelector: {matchLabels: {app: db}}
  ingress:
  - fromEndpoints: [{}]`,
			checks: []check{
				{src: "b/client", dst: "a/db", port: 5432, want: true},
				{src: "c/api", dst: "b/db", port: 5432, want: true},
				{src: "8.8.8.8", dst: "a/db", port: 5432, want: false},
				{src: "c/node", dst: "a/db", port: 5432, want: false}, // the host is not a pod endpoint
			},
		},
		{
			name: "an L4-only rule allows every peer on its ports; an empty rule allows nothing",
			ref:  "pkg/policy/rule.go mergeIngress ('an empty slice of EndpointSelector indicates that the rule allows all at L3')",
			objects: `
kind: CiliumNetworkPolicy
metadata: {namespace: a, name: web}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress:
  - toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
---
kind: CiliumNetworkPolicy
metadata: {namespace: a, name: db}
spec:
  endpointSelector: {matchLabels: {app: db}}
  ingress:
  - {}`,
			checks: []check{
				{src: "8.8.8.8", dst: "a/web", port: 8080, want: true},
				{src: "b/client", dst: "a/web", port: 8081, want: false},
				{src: "a/web", dst: "a/db", port: 5432, want: false},
			},
		},
		{
			name: "ingressDeny wins over every allow, NetworkPolicies' included",
			ref:  "Documentation/security/policy/language.rst Deny Policies ('take precedence over allow policies, regardless of whether they are a Cilium Network Policy, a Clusterwide Cilium Network Policy or even a Kubernetes Network Policy')",
			objects: `
kind: CiliumClusterwideNetworkPolicy
metadata: {name: deny-green}
spec:
  endpointSelector: {}
  ingressDeny:
  - fromEndpoints: [{matchLabels: {io.cilium.k8s.namespace.labels.team: green}}]
    toPorts: [{ports: [{port: "5432"}]}]`,
			networkPols: `
metadata: {namespace: a, name: open}
spec:
  podSelector: {}
  ingress: [{}]`,
			checks: []check{
				{src: "b/client", dst: "a/db", port: 5432, want: false},
				{src: "b/client", dst: "a/db", proto: "UDP", port: 5432, want: false}, // ANY is the default protocol
				{src: "b/client", dst: "a/db", port: 9000, want: true},
				{src: "a/client", dst: "a/db", port: 5432, want: true},
			},
		},
		{
			name: "a deny-only policy isolates; enableDefaultDeny false does not",
			ref:  "pkg/policy/api/rule_validation.go Sanitize (EnableDefaultDeny defaults to len(Ingress)+len(IngressDeny) > 0); Documentation/security/policy/intro.rst",
			objects: `
kind: CiliumNetworkPolicy
metadata: {namespace: a, name: deny-only}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingressDeny:
  - fromEndpoints: [{matchLabels: {app: db}}]
---
kind: CiliumNetworkPolicy
metadata: {namespace: b, name: audit-only}
spec:
  endpointSelector: {matchLabels: {app: web}}
  enableDefaultDeny: {ingress: false}
  ingressDeny:
  - fromEndpoints: [{matchLabels: {app: db}}]`,
			checks: []check{
				{src: "a/client", dst: "a/web", port: 8080, want: false},
				{src: "b/client", dst: "b/web", port: 80, want: true},
				{src: "b/db", dst: "b/web", port: 80, want: false},
			},
		},
		{
			name: "entities: world is outside the cluster, cluster is every pod and node",
			ref:  "pkg/policy/api/entity.go (EntityWorld, EntityCluster, EntityAll)",
			objects: `
kind: CiliumNetworkPolicy
metadata: {namespace: a, name: client-out}
spec:
  endpointSelector: {matchLabels: {app: client}}
  egress:
  - toEntities: [world]
    toPorts: [{ports: [{port: "443", protocol: TCP}]}]
  - toEntities: [cluster]
    toPorts: [{ports: [{port: "80", endPort: 90}]}]`,
			checks: []check{
				{src: "a/client", dst: "8.8.8.8", port: 443, want: true},
				{src: "a/client", dst: "b/web", port: 443, want: false},
				{src: "a/client", dst: "b/web", port: 80, want: true},
				{src: "a/client", dst: "c/node", proto: "UDP", port: 85, want: true},
				{src: "a/client", dst: "8.8.8.8", port: 80, want: false},
			},
		},
		{
			name: "CIDR rules match only addresses outside the cluster, with except",
			ref:  "pkg/policy/api/ingress.go FromCIDR ('Only connections which do *not* originate from the cluster or from the local host are subject to CIDR rules')",
			opts: netpol.Options{IPBlockMatchesPods: true},
			objects: `
kind: CiliumNetworkPolicy
metadata: {namespace: a, name: client-out}
spec:
  endpointSelector: {matchLabels: {app: client}}
  egress:
  - toCIDRSet: [{cidr: 10.0.0.0/8, except: [10.1.0.0/16]}]`,
			checks: []check{
				{src: "a/client", dst: "10.2.0.1", port: 443, want: true},
				{src: "a/client", dst: "10.1.0.1", port: 443, want: false},
				{src: "a/client", dst: "a/db", port: 5432, want: false}, // 10.0.0.2 is a pod
			},
		},
		{
			name: "named ports, L7 rules allowed at L4, toFQDNs matching no address",
			ref:  "pkg/policy/api/l4.go PortProtocol (named ports), pkg/policy/l4.go (L7 redirect), pkg/policy/api/fqdn.go",
			objects: `
kind: CiliumNetworkPolicy
metadata: {namespace: a, name: client-out}
spec:
  endpointSelector: {matchLabels: {app: client}}
  egress:
  - toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: b}}]
    toPorts: [{ports: [{port: dns, protocol: UDP}], rules: {dns: [{matchPattern: "*"}]}}]
  - toFQDNs: [{matchName: api.example.com}]
    toPorts: [{ports: [{port: "443"}]}]`,
			checks: []check{
				{src: "a/client", dst: "b/web", proto: "UDP", port: 53, want: true},
				{src: "a/client", dst: "b/web", port: 53, want: false},
				{src: "a/client", dst: "8.8.8.8", port: 443, want: false},
			},
		},
		{
			name: "NetworkPolicy and Cilium allows on one endpoint are unioned",
			ref:  "Documentation/security/policy/intro.rst Rule Basics ('traffic matching the union of those rules will be allowed')",
			objects: `
kind: CiliumNetworkPolicy
metadata: {namespace: a, name: from-b}
spec:
  endpointSelector: {matchLabels: {app: db}}
  ingress:
  - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: b}}]`,
			networkPols: `
metadata: {namespace: a, name: from-a}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {}}]}]`,
			checks: []check{
				{src: "a/client", dst: "a/db", port: 5432, want: true},
				{src: "b/client", dst: "a/db", port: 5432, want: true},
				{src: "c/api", dst: "a/db", port: 5432, want: false},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := fixtureCluster()
			parseCilium(t, &c, tc.objects)
			c.Policies = parsePolicies(t, tc.networkPols)
			e, err := netpol.New(c, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, ck := range tc.checks {
				v := e.Evaluate(peerOf(t, c, ck.src), peerOf(t, c, ck.dst), ck.proto, ck.port)
				if v.Allowed != ck.want {
					t.Errorf("%s: allowed=%v, want %v (%s)\n  %s", ck, v.Allowed, ck.want, tc.ref, v)
				}
			}
			checkMatrix(t, c, e, e.Matrix(), -1, rand.New(rand.NewPCG(3, 4)))
		})
	}
}

// TestCiliumExplains: the verdict names the deny rule that decided, marks
// L7 filtering, and the FQDN rule is listed as unjudged.
func TestCiliumExplains(t *testing.T) {
	c := fixtureCluster()
	parseCilium(t, &c, `
kind: CiliumNetworkPolicy
metadata: {namespace: a, name: client-out}
spec:
  endpointSelector: {matchLabels: {app: client}}
  egress:
  - toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: b}}]
    toPorts: [{ports: [{port: "80"}], rules: {http: [{method: GET}]}}]
  - toFQDNs: [{matchPattern: "*.example.com"}]
  egressDeny:
  - toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: b, app: db}}]`)
	e, err := netpol.New(c, netpol.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v := e.Evaluate(peerOf(t, c, "a/client"), peerOf(t, c, "b/web"), "", 80)
	if want := "allowed at L4, filtered at L7 by a/client-out[CiliumNetworkPolicy] egress[0]"; !v.Allowed || !strings.Contains(v.String(), want) {
		t.Errorf("verdict %q, want allowed with %q", v, want)
	}
	v = e.Evaluate(peerOf(t, c, "a/client"), peerOf(t, c, "b/db"), "", 80)
	if want := "egress denied by NetworkPolicy tier: a/client-out[CiliumNetworkPolicy] egressDeny[0] (Deny)"; v.Allowed || !strings.Contains(v.String(), want) {
		t.Errorf("verdict %q, want %q", v, want)
	}
	var fqdn bool
	for _, u := range e.Unjudged() {
		fqdn = fqdn || u.Field == "spec.egress[1].toFQDNs"
	}
	if !fqdn {
		t.Errorf("unjudged %v lacks the toFQDNs rule", e.Unjudged())
	}
}

// TestCiliumEntities: each entity (and its one-reserved-label selector)
// selects what pkg/policy/api entity.go EntitySelectorMapping gives it, and
// is listed as unjudged exactly when the engine cannot know the answer:
// host and remote-node only where host-network pods (nodes) exist, since
// pods carry no node; kube-apiserver and health always. Judged on
// fixtureCluster, with or without its host-network pod c/node.
func TestCiliumEntities(t *testing.T) {
	tests := []struct {
		name     string
		peer     string // the egress rule's peer, YAML
		hostNet  bool   // keep c/node
		unjudged bool
		checks   []check
	}{
		{name: "host without nodes", peer: "toEntities: [host]",
			checks: []check{{src: "a/client", dst: "b/web", port: 80}, {src: "a/client", dst: "192.168.0.10", port: 80}}},
		{name: "remote-node with nodes", peer: "toEntities: [remote-node]", hostNet: true, unjudged: true,
			checks: []check{{src: "a/client", dst: "c/node", port: 80, want: true}, {src: "a/client", dst: "b/web", port: 80}}},
		{name: "reserved:host selector is the host entity", peer: `toEndpoints: [{matchLabels: {"reserved:host": ""}}]`,
			checks: []check{{src: "a/client", dst: "b/web", port: 80}}},
		{name: "reserved:host selector with nodes", peer: `toEndpoints: [{matchLabels: {"reserved:host": ""}}]`, hostNet: true, unjudged: true,
			checks: []check{{src: "a/client", dst: "c/node", port: 80, want: true}}},
		{name: "none selects nothing", peer: "toEntities: [none]",
			checks: []check{{src: "a/client", dst: "b/web", port: 80}, {src: "a/client", dst: "8.8.8.8", port: 80}}},
		{name: "cluster-mesh is the cluster", peer: "toEntities: [cluster-mesh]", hostNet: true,
			checks: []check{{src: "a/client", dst: "b/web", port: 80, want: true}, {src: "a/client", dst: "c/node", port: 80, want: true}, {src: "a/client", dst: "8.8.8.8", port: 80}}},
		{name: "world-ipv4 is one family", peer: "toEntities: [world-ipv4]",
			checks: []check{{src: "a/client", dst: "8.8.8.8", port: 80, want: true}, {src: "a/client", dst: "2001:db8::1", port: 80}, {src: "a/client", dst: "b/web", port: 80}}},
		{name: "kube-apiserver is listed", peer: "toEntities: [kube-apiserver]", unjudged: true,
			checks: []check{{src: "a/client", dst: "b/web", port: 80}, {src: "a/client", dst: "8.8.8.8", port: 80}}},
		{name: "reserved:health selector is listed", peer: `toEndpoints: [{matchLabels: {"reserved:health": ""}}]`, unjudged: true,
			checks: []check{{src: "a/client", dst: "b/web", port: 80}}},
		{name: "a reserved selector with more terms is not an entity", peer: `toEndpoints: [{matchLabels: {"reserved:host": "", app: web}}]`, unjudged: true,
			checks: []check{{src: "a/client", dst: "b/web", port: 80}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := fixtureCluster()
			if !tc.hostNet {
				c.Pods = slices.DeleteFunc(c.Pods, func(p netpol.Pod) bool { return p.HostNetwork })
			}
			parseCilium(t, &c, `
kind: CiliumNetworkPolicy
metadata: {namespace: a, name: client-out}
spec:
  endpointSelector: {matchLabels: {app: client}}
  egress:
  - `+tc.peer)
			e, err := netpol.New(c, netpol.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := len(e.Unjudged()) > 0; got != tc.unjudged {
				t.Errorf("unjudged = %v, want listed=%v", e.Unjudged(), tc.unjudged)
			}
			for _, ck := range tc.checks {
				v := e.Evaluate(peerOf(t, c, ck.src), peerOf(t, c, ck.dst), ck.proto, ck.port)
				if v.Allowed != ck.want {
					t.Errorf("%s: allowed=%v, want %v\n  %s", ck, v.Allowed, ck.want, v)
				}
			}
			checkMatrix(t, c, e, e.Matrix(), -1, rand.New(rand.NewPCG(3, 4)))
		})
	}
}

// TestCiliumRejects: what Cilium's validation rejects is an error naming the
// policy and field.
func TestCiliumRejects(t *testing.T) {
	tests := []struct{ name, objects, want string }{
		{"both selectors", `
kind: CiliumClusterwideNetworkPolicy
metadata: {name: x}
spec: {endpointSelector: {}, nodeSelector: {}}`, "mutually exclusive"},
		{"no spec", `
kind: CiliumNetworkPolicy
metadata: {name: x, namespace: a}`, "neither spec nor specs"},
		{"unknown entity", `
kind: CiliumNetworkPolicy
metadata: {name: x, namespace: a}
spec:
  endpointSelector: {}
  egress: [{toEntities: [internet]}]`, "unknown entity"},
		{"bad range", `
kind: CiliumNetworkPolicy
metadata: {name: x, namespace: a}
spec:
  endpointSelector: {}
  egress: [{toPorts: [{ports: [{port: "90", endPort: 80}]}]}]`, "invalid port range"},
		{"except outside", `
kind: CiliumNetworkPolicy
metadata: {name: x, namespace: a}
spec:
  endpointSelector: {}
  egress: [{toCIDRSet: [{cidr: 10.0.0.0/8, except: [192.168.0.0/16]}]}]`, "except"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := fixtureCluster()
			parseCilium(t, &c, tc.objects)
			_, err := netpol.New(c, netpol.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestCiliumGeneratedCluster samples pairs of the Cilium benchmark's
// cluster: the matrix agrees with pointwise evaluation there too.
func TestCiliumGeneratedCluster(t *testing.T) {
	c := netpoltest.GenerateCiliumCluster(7, 300)
	e, err := netpol.New(c, netpol.Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkMatrix(t, c, e, e.Matrix(), 400, rand.New(rand.NewPCG(5, 6)))
}
