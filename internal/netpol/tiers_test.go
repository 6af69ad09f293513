package netpol_test

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"

	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/netpol/netpoltest"
	"github.com/budnet/budnet/internal/testenv"
)

// parseObjects decodes "---"-separated documents of NetworkPolicy and the
// network-policy-api kinds into the cluster, strictly.
func parseObjects(t testing.TB, c *netpol.Cluster, docs string) {
	t.Helper()
	for _, doc := range strings.Split(docs, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var head struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatal(err)
		}
		var obj any
		switch head.Kind {
		case "AdminNetworkPolicy":
			p := &netpol.AdminNetworkPolicy{}
			c.AdminNetworkPolicies, obj = append(c.AdminNetworkPolicies, p), p
		case "BaselineAdminNetworkPolicy":
			p := &netpol.BaselineAdminNetworkPolicy{}
			c.BaselineAdminNetworkPolicies, obj = append(c.BaselineAdminNetworkPolicies, p), p
		case "ClusterNetworkPolicy":
			p := &netpol.ClusterNetworkPolicy{}
			c.ClusterNetworkPolicies, obj = append(c.ClusterNetworkPolicies, p), p
		default:
			p := &networkingv1.NetworkPolicy{}
			c.Policies, obj = append(c.Policies, p), p
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Fatalf("yaml: %v\n%s", err, doc)
		}
	}
}

// TestTiers holds one case per rule of the network-policy-api reference
// (sigs.k8s.io/network-policy-api v0.3.1 apis/v1alpha1, apis/v1alpha2 and the
// conformance tests named in each case), judged on fixtureCluster: a (team=blue),
// b (team=green), c (no team; c/node is host-network).
func TestTiers(t *testing.T) {
	tests := []struct {
		name    string
		ref     string // the upstream source of the rule
		objects string
		checks  []check
		// tier is the deciding tier of the first check's ingress side
		tier netpol.Tier
	}{
		{
			name: "Admin Deny overrides a NetworkPolicy allow",
			ref:  "conformance/tests/admin-network-policy-standard-integration.go 'Should Deny traffic from slytherin to gryffindor'",
			objects: `
kind: ClusterNetworkPolicy
metadata: {name: pass-example}
spec:
  tier: Admin
  priority: 10
  subject: {namespaces: {matchLabels: {team: blue}}}
  ingress:
  - {name: deny-from-green, action: Deny, from: [{namespaces: {matchLabels: {team: green}}}]}
---
metadata: {namespace: a, name: allow-green}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {team: green}}}]}]`,
			checks: []check{
				{src: "b/client", dst: "a/web", port: 80, want: false},
				{src: "c/api", dst: "a/web", port: 80, want: false}, // NP isolates, no rule
			},
			tier: netpol.TierAdmin,
		},
		{
			name: "Admin Pass hands on to the NetworkPolicy tier",
			ref:  "conformance/tests/admin-network-policy-standard-integration.go 'pass-ingress ... respect the match for network policy'",
			objects: `
kind: ClusterNetworkPolicy
metadata: {name: pass-example}
spec:
  tier: Admin
  priority: 10
  subject: {namespaces: {matchLabels: {team: blue}}}
  ingress:
  - {action: Pass, from: [{namespaces: {matchLabels: {team: green}}}]}
  - {action: Deny, from: [{namespaces: {}}]}
---
metadata: {namespace: a, name: allow-green}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {team: green}}}]}]`,
			checks: []check{
				{src: "b/client", dst: "a/web", port: 80, want: true},
				{src: "a/client", dst: "a/web", port: 80, want: false}, // the later Deny rule
			},
			tier: netpol.TierNetworkPolicy,
		},
		{
			name: "Pass with no NetworkPolicy falls to the Baseline tier",
			ref:  "conformance/tests/admin-network-policy-standard-integration.go 'pass-ingress ... respect the match for baseline cluster network policy'",
			objects: `
kind: ClusterNetworkPolicy
metadata: {name: pass-example}
spec:
  tier: Admin
  priority: 10
  subject: {namespaces: {matchLabels: {team: blue}}}
  ingress:
  - {action: Pass, from: [{namespaces: {matchLabels: {team: green}}}]}
---
kind: ClusterNetworkPolicy
metadata: {name: default}
spec:
  tier: Baseline
  priority: 10
  subject: {namespaces: {matchLabels: {team: blue}}}
  ingress:
  - {action: Deny, from: [{namespaces: {matchLabels: {team: green}}}]}`,
			checks: []check{
				{src: "b/client", dst: "a/web", port: 80, want: false},
				{src: "c/api", dst: "a/web", port: 80, want: true}, // default allow
			},
			tier: netpol.TierBaseline,
		},
		{
			name: "Baseline applies only where no NetworkPolicy selects the pod",
			ref:  "apis/v1alpha2 ClusterNetworkPolicySpec.Tier: 'v1.NetworkPolicy always makes a final decision for selected pods'",
			objects: `
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {}}
  ingress:
  - {action: Deny, from: [{namespaces: {}}]}
---
metadata: {namespace: a, name: web-open}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{}]`,
			checks: []check{
				{src: "b/client", dst: "a/web", port: 8080, want: true}, // NP decides
				{src: "b/client", dst: "a/db", port: 5432, want: false},
				{src: "8.8.8.8", dst: "a/db", port: 5432, want: true}, // peers are pods only
			},
			tier: netpol.TierNetworkPolicy,
		},
		{
			name: "lower priority value first; rule order within a policy",
			ref:  "conformance/tests/admin-network-policy-standard-priority.go; apis/v1alpha1 AdminNetworkPolicySpec.Ingress (order of rules)",
			objects: `
kind: AdminNetworkPolicy
metadata: {name: p60}
spec:
  priority: 60
  subject: {namespaces: {}}
  ingress:
  - {action: Allow, from: [{namespaces: {}}]}
---
kind: AdminNetworkPolicy
metadata: {name: p50}
spec:
  priority: 50
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: db}}}}
  ingress:
  - {name: deny-80, action: Deny, from: [{namespaces: {}}], ports: [{portNumber: {protocol: TCP, port: 5432}}]}
  - {action: Allow, from: [{namespaces: {}}]}`,
			checks: []check{
				{src: "b/client", dst: "a/db", port: 5432, want: false},
				{src: "b/client", dst: "a/db", port: 5433, want: true},
				{src: "b/client", dst: "a/web", port: 5432, want: true},
			},
			tier: netpol.TierAdmin,
		},
		{
			name: "Admin Allow opens what a NetworkPolicy isolates",
			ref:  "apis/v1alpha1 AdminNetworkPolicyRuleActionAllow: 'allowed regardless of NetworkPolicy'",
			objects: `
kind: AdminNetworkPolicy
metadata: {name: monitoring}
spec:
  priority: 5
  subject: {namespaces: {}}
  ingress:
  - {action: Allow, from: [{pods: {namespaceSelector: {matchLabels: {team: green}}, podSelector: {matchLabels: {app: client}}}}], ports: [{portRange: {start: 9000, end: 9100}}]}
---
metadata: {namespace: a, name: deny-all}
spec:
  podSelector: {}
  ingress: []`,
			checks: []check{
				{src: "b/client", dst: "a/db", port: 9090, want: true},
				{src: "b/client", dst: "a/db", proto: "UDP", port: 9090, want: false},
				{src: "b/web", dst: "a/db", port: 9090, want: false},
			},
			tier: netpol.TierAdmin,
		},
		{
			name: "named ports resolve on the destination, whatever its protocol",
			ref:  "apis/v1alpha1 AdminNetworkPolicyPort.NamedPort; apis/v1alpha2 ClusterNetworkPolicyProtocol.DestinationNamedPort",
			objects: `
kind: ClusterNetworkPolicy
metadata: {name: dns}
spec:
  tier: Admin
  priority: 1
  subject: {namespaces: {}}
  egress:
  - {action: Accept, to: [{namespaces: {}}], protocols: [{destinationNamedPort: dns}, {tcp: {destinationPort: {range: {start: 8000, end: 8100}}}}]}
  - {action: Deny, to: [{namespaces: {}}]}`,
			checks: []check{
				{src: "a/client", dst: "b/web", proto: "UDP", port: 53, want: true},
				{src: "a/client", dst: "b/web", proto: "TCP", port: 53, want: false},
				{src: "a/client", dst: "a/web", port: 8080, want: true},
				{src: "a/client", dst: "a/web", port: 80, want: false},
			},
		},
		{
			name: "networks match pod addresses too; host-network pods are neither subjects nor pod peers",
			ref:  "apis/v1alpha2 ClusterNetworkPolicyEgressPeer.Networks ('cluster-internal traffic will be checked against the rule as well'), ClusterNetworkPolicySubject",
			objects: `
kind: ClusterNetworkPolicy
metadata: {name: egress-lockdown}
spec:
  tier: Admin
  priority: 20
  subject: {namespaces: {}}
  egress:
  - {action: Accept, to: [{nodes: {}}]}
  - {action: Deny, to: [{networks: [10.0.0.0/24]}]}
  - {action: Deny, to: [{namespaces: {matchLabels: {team: green}}}]}`,
			checks: []check{
				{src: "b/client", dst: "a/db", port: 5432, want: false}, // 10.0.0.2 in the network
				{src: "a/client", dst: "10.0.0.9", port: 5432, want: false},
				{src: "a/client", dst: "c/node", port: 10250, want: true},
				{src: "a/client", dst: "b/db", port: 5432, want: false},
				{src: "c/node", dst: "b/db", port: 5432, want: true}, // host-network: no subject
				{src: "a/client", dst: "c/api", port: 8443, want: true},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := fixtureCluster()
			parseObjects(t, &c, tc.objects)
			e, err := netpol.New(c, netpol.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for i, ck := range tc.checks {
				v := e.Evaluate(peerOf(t, c, ck.src), peerOf(t, c, ck.dst), ck.proto, ck.port)
				if v.Allowed != ck.want {
					t.Errorf("%s: allowed=%v, want %v (%s)\n  %s", ck, v.Allowed, ck.want, tc.ref, v)
				}
				if i == 0 && tc.tier != netpol.TierDefault && v.Ingress.Tier != tc.tier && v.Egress.Tier != tc.tier {
					t.Errorf("%s: decided by tiers %s/%s, want %s\n  %s", ck, v.Egress.Tier, v.Ingress.Tier, tc.tier, v)
				}
			}
			checkMatrix(t, c, e, e.Matrix(), -1, rand.New(rand.NewPCG(1, 2)))
		})
	}
}

// TestTierNodeSelectorWithLabels: the engine's nodes are host-network pods,
// which carry no node labels. A node selector with labels matches nothing;
// it is listed as unjudged where host-network pods exist (some might be
// the nodes it names), judged where none do (it selects among no peer).
func TestTierNodeSelectorWithLabels(t *testing.T) {
	const objects = `
kind: ClusterNetworkPolicy
metadata: {name: to-infra}
spec:
  tier: Admin
  priority: 20
  subject: {namespaces: {}}
  egress:
  - {action: Deny, to: [{nodes: {matchLabels: {worker-group: infra}}}]}
  - {action: Accept, to: [{networks: [0.0.0.0/0]}]}`
	for _, tc := range []struct {
		name     string
		hostNet  bool
		unjudged bool
		checks   []check
	}{
		{name: "with host-network pods", hostNet: true, unjudged: true,
			checks: []check{{src: "a/client", dst: "c/node", port: 10250, want: true}, {src: "a/client", dst: "b/db", port: 5432, want: true}}},
		{name: "without host-network pods", checks: []check{{src: "a/client", dst: "b/db", port: 5432, want: true}, {src: "a/client", dst: "8.8.8.8", port: 443, want: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fixtureCluster()
			if !tc.hostNet {
				c.Pods = slices.DeleteFunc(c.Pods, func(p netpol.Pod) bool { return p.HostNetwork })
			}
			parseObjects(t, &c, objects)
			e, err := netpol.New(c, netpol.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := len(e.Unjudged()) > 0; got != tc.unjudged {
				t.Errorf("unjudged = %v, want listed=%v", e.Unjudged(), tc.unjudged)
			}
			for _, ck := range tc.checks {
				if v := e.Evaluate(peerOf(t, c, ck.src), peerOf(t, c, ck.dst), ck.proto, ck.port); v.Allowed != ck.want {
					t.Errorf("%s: allowed=%v, want %v\n  %s", ck, v.Allowed, ck.want, v)
				}
			}
			checkMatrix(t, c, e, e.Matrix(), -1, rand.New(rand.NewPCG(1, 2)))
		})
	}
}

// TestTierAmbiguity: two policies of one tier and priority that decide
// differently are reported, in the verdict and in Warnings.
func TestTierAmbiguity(t *testing.T) {
	c := fixtureCluster()
	parseObjects(t, &c, `
kind: AdminNetworkPolicy
metadata: {name: allow}
spec:
  priority: 7
  subject: {namespaces: {}}
  ingress: [{action: Allow, from: [{namespaces: {}}]}]
---
kind: ClusterNetworkPolicy
metadata: {name: deny}
spec:
  tier: Admin
  priority: 7
  subject: {namespaces: {}}
  ingress: [{action: Deny, from: [{namespaces: {}}]}]`)
	e, err := netpol.New(c, netpol.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v := e.Evaluate(peerOf(t, c, "a/web"), peerOf(t, c, "b/db"), "", 5432)
	if len(v.Ingress.Ambiguous) != 1 || !strings.Contains(v.String(), "ambiguous") {
		t.Errorf("verdict does not report the ambiguity: %s", v)
	}
	if len(e.Warnings()) != 1 {
		t.Errorf("warnings = %q, want one", e.Warnings())
	}
}

// TestTierRejects: objects the CRD validation rejects are errors naming the
// policy and field, never skipped.
func TestTierRejects(t *testing.T) {
	tests := []struct{ name, objects, want string }{
		{"Pass in the baseline", `
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {}}
  ingress: [{action: Pass, from: [{namespaces: {}}]}]`, "default[BaselineAdminNetworkPolicy]: spec.ingress[0]: action"},
		{"unknown tier", `
kind: ClusterNetworkPolicy
metadata: {name: x}
spec: {tier: Developer, priority: 1, subject: {namespaces: {}}}`, "spec.tier"},
		{"two subjects", `
kind: AdminNetworkPolicy
metadata: {name: x}
spec: {priority: 1, subject: {namespaces: {}, pods: {namespaceSelector: {}, podSelector: {}}}}`, "spec.subject"},
		{"empty peer", `
kind: AdminNetworkPolicy
metadata: {name: x}
spec:
  priority: 1
  subject: {namespaces: {}}
  egress: [{action: Deny, to: [{}]}]`, "spec.egress[0]: to[0]: exactly one"},
		{"bad network", `
kind: AdminNetworkPolicy
metadata: {name: x}
spec:
  priority: 1
  subject: {namespaces: {}}
  egress: [{action: Deny, to: [{networks: [10.0.0.0]}]}]`, "networks[0]"},
		{"domain names on a Deny", `
kind: ClusterNetworkPolicy
metadata: {name: x}
spec:
  tier: Admin
  priority: 1
  subject: {namespaces: {}}
  egress: [{action: Deny, to: [{domainNames: [example.com]}]}]`, "domainNames"},
		{"accept in v1alpha1", `
kind: AdminNetworkPolicy
metadata: {name: x}
spec:
  priority: 1
  subject: {namespaces: {}}
  ingress: [{action: Accept, from: [{namespaces: {}}]}]`, "action"},
		{"priority out of range", `
kind: AdminNetworkPolicy
metadata: {name: x}
spec: {priority: 1001, subject: {namespaces: {}}}`, "spec.priority"},
		{"port range backwards", `
kind: AdminNetworkPolicy
metadata: {name: x}
spec:
  priority: 1
  subject: {namespaces: {}}
  ingress: [{action: Deny, from: [{namespaces: {}}], ports: [{portRange: {start: 90, end: 80}}]}]`, "ports[0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := fixtureCluster()
			parseObjects(t, &c, tc.objects)
			_, err := netpol.New(c, netpol.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestTieredMatrixAgreesWithEvaluate checks the port-set walk of the tiers in
// the matrix against pointwise evaluation on random clusters with random
// tiered policies.
func TestTieredMatrixAgreesWithEvaluate(t *testing.T) {
	clusters := 300
	if testenv.CI() {
		clusters = 2000
	}
	r := rand.New(rand.NewPCG(20261207, 15))
	for i := range clusters {
		c := netpoltest.RandomCluster(r, netpoltest.RandomOptions{HostNetwork: true})
		netpoltest.AddRandomTiers(r, &c)
		e, err := netpol.New(c, netpol.Options{IPBlockMatchesPods: i%2 == 1})
		if err != nil {
			t.Fatal(err)
		}
		checkMatrix(t, c, e, e.Matrix(), -1, r)
		if t.Failed() {
			t.Fatalf("cluster %d:\n%s", i, netpoltest.Describe(c))
		}
	}
}

// TestCiliumMatrixAgreesWithEvaluate: the same for Cilium's policies mixed
// with NetworkPolicies and the network-policy-api tiers.
func TestCiliumMatrixAgreesWithEvaluate(t *testing.T) {
	clusters := 300
	if testenv.CI() {
		clusters = 2000
	}
	r := rand.New(rand.NewPCG(20261207, 16))
	for i := range clusters {
		c := netpoltest.RandomCluster(r, netpoltest.RandomOptions{HostNetwork: true})
		netpoltest.AddRandomCilium(r, &c)
		if i%3 == 0 {
			netpoltest.AddRandomTiers(r, &c)
		}
		e, err := netpol.New(c, netpol.Options{IPBlockMatchesPods: i%2 == 1})
		if err != nil {
			t.Fatal(err)
		}
		checkMatrix(t, c, e, e.Matrix(), -1, r)
		if t.Failed() {
			t.Fatalf("cluster %d:\n%s", i, netpoltest.Describe(c))
		}
	}
}
