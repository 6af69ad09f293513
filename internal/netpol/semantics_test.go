package netpol_test

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/budnet/budnet/internal/netpol"
)

type check struct {
	src, dst string
	proto    corev1.Protocol // "" is TCP
	port     int32
	want     bool
}

func (c check) String() string {
	proto := c.proto
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	return fmt.Sprintf("%s -> %s %s/%d", c.src, c.dst, proto, c.port)
}

// TestSemantics holds one case per rule of the API reference; each has a check
// that the usual wrong implementation of that rule gets wrong (named in the
// case's wrong field).
func TestSemantics(t *testing.T) {
	tests := []struct {
		name     string
		wrong    string // the mistake a check in this case catches
		opts     netpol.Options
		policies string
		checks   []check
	}{
		{
			name:  "no policy: everything allowed",
			wrong: "default deny without policies",
			checks: []check{
				{src: "a/web", dst: "b/db", port: 1, want: true},
				{src: "8.8.8.8", dst: "a/web", proto: "SCTP", port: 9, want: true},
				{src: "a/web", dst: "2001:db8::1", proto: "UDP", port: 53, want: true},
			},
		},
		{
			name:  "policyTypes defaulting: ingress-only policy leaves egress open",
			wrong: "treating a selected pod as isolated in both directions",
			policies: `
metadata: {namespace: a, name: in-only}
spec:
  podSelector: {}
  ingress:
  - from: [{podSelector: {}}]`,
			checks: []check{
				{src: "a/web", dst: "8.8.8.8", port: 443, want: true},
				{src: "8.8.8.8", dst: "a/web", port: 443, want: false},
				{src: "a/db", dst: "a/web", port: 8080, want: true},
			},
		},
		{
			name:  "policyTypes defaulting: egress rules without policyTypes isolate both directions",
			wrong: "policyTypes defaulting to Egress only when egress rules are present, forgetting Ingress",
			policies: `
metadata: {namespace: a, name: eg-rules}
spec:
  podSelector: {matchLabels: {app: web}}
  egress:
  - to: [{podSelector: {}}]`,
			checks: []check{
				{src: "a/web", dst: "a/db", port: 5432, want: true},
				{src: "a/web", dst: "8.8.8.8", port: 443, want: false},
				{src: "a/db", dst: "a/web", port: 8080, want: false},
			},
		},
		{
			name:  "policyTypes [Egress] ignores ingress rules",
			wrong: "honouring rules of a direction the policy does not govern",
			policies: `
metadata: {namespace: a, name: eg-only}
spec:
  podSelector: {}
  policyTypes: [Egress]
  ingress: []
  egress: []`,
			checks: []check{
				{src: "8.8.8.8", dst: "a/web", port: 8080, want: true},
				{src: "a/web", dst: "8.8.8.8", port: 443, want: false},
			},
		},
		{
			name:  "ingress: [] isolates and allows nothing, ingress: [{}] allows everything",
			wrong: "reading an empty rule list as allow-all, or an empty rule as allow-nothing",
			policies: `
metadata: {namespace: a, name: deny}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: []
---
metadata: {namespace: a, name: allow-all}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{}]`,
			checks: []check{
				{src: "a/client", dst: "a/web", port: 8080, want: false},
				{src: "8.8.8.8", dst: "a/db", proto: "UDP", port: 7, want: true},
				{src: "b/client", dst: "a/db", port: 5432, want: true},
			},
		},
		{
			name:  "absent from and from: [] mean all sources, external included",
			wrong: "treating an absent peer list as pods only",
			policies: `
metadata: {namespace: a, name: ports-only}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - ports: [{port: 8080}]
---
metadata: {namespace: a, name: empty-from}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: []
    ports: [{port: 5432}]`,
			checks: []check{
				{src: "8.8.8.8", dst: "a/web", port: 8080, want: true},
				{src: "b/client", dst: "a/web", port: 8080, want: true},
				{src: "8.8.8.8", dst: "a/web", port: 8081, want: false},
				{src: "2001:db8::1", dst: "a/db", port: 5432, want: true},
			},
		},
		{
			name:  "namespaceSelector {} alone selects all pods in all namespaces but no external address",
			wrong: "treating an empty namespaceSelector as everything",
			policies: `
metadata: {namespace: a, name: cluster-only}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{namespaceSelector: {}}]`,
			checks: []check{
				{src: "b/client", dst: "a/web", port: 8080, want: true},
				{src: "c/api", dst: "a/web", port: 8080, want: true},
				{src: "8.8.8.8", dst: "a/web", port: 8080, want: false},
				{src: "10.0.1.3", dst: "a/web", port: 8080, want: false},
			},
		},
		{
			name:  "podSelector {} alone selects pods of the policy's namespace only",
			wrong: "treating a bare podSelector as cluster-wide",
			policies: `
metadata: {namespace: a, name: same-ns}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {}}]`,
			checks: []check{
				{src: "a/client", dst: "a/web", port: 8080, want: true},
				{src: "b/client", dst: "a/web", port: 8080, want: false},
			},
		},
		{
			name:  "namespaceSelector and podSelector in one peer are ANDed",
			wrong: "ORing the two selectors of one peer",
			policies: `
metadata: {namespace: a, name: and}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: green}}
      podSelector: {matchLabels: {app: client}}`,
			checks: []check{
				{src: "b/client", dst: "a/db", port: 5432, want: true},
				{src: "b/web", dst: "a/db", port: 5432, want: false},
				{src: "a/client", dst: "a/db", port: 5432, want: false},
			},
		},
		{
			name:  "peers of a rule are ORed",
			wrong: "ANDing separate peers",
			policies: `
metadata: {namespace: a, name: or}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: green}}
    - podSelector: {matchLabels: {app: client}}`,
			checks: []check{
				{src: "b/web", dst: "a/db", port: 5432, want: true},
				{src: "a/client", dst: "a/db", port: 5432, want: true},
				{src: "a/web", dst: "a/db", port: 5432, want: false},
			},
		},
		{
			name:  "rules and policies are ORed",
			wrong: "letting a second policy narrow the first",
			policies: `
metadata: {namespace: a, name: one}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: 5432}]
  - from: [{podSelector: {matchLabels: {app: client}}}]
    ports: [{port: 9000}]
---
metadata: {namespace: a, name: two}
spec:
  podSelector: {}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {team: green}}}]
    ports: [{port: 5432}]`,
			checks: []check{
				{src: "a/web", dst: "a/db", port: 5432, want: true},
				{src: "a/client", dst: "a/db", port: 9000, want: true},
				{src: "a/client", dst: "a/db", port: 5432, want: false},
				{src: "b/client", dst: "a/db", port: 5432, want: true},
				{src: "b/client", dst: "a/web", port: 5432, want: true},
			},
		},
		{
			name:  "matchExpressions In, NotIn (absent key matches), Exists, DoesNotExist",
			wrong: "NotIn failing on pods without the key",
			policies: `
metadata: {namespace: a, name: exprs}
spec:
  podSelector:
    matchExpressions: [{key: app, operator: In, values: [web, db]}]
  ingress:
  - from:
    - podSelector:
        matchExpressions: [{key: tier, operator: NotIn, values: [front]}]
    ports: [{port: 1}]
  - from:
    - podSelector:
        matchExpressions: [{key: tier, operator: Exists}]
    ports: [{port: 2}]
  - from:
    - podSelector:
        matchExpressions: [{key: tier, operator: DoesNotExist}]
    ports: [{port: 3}]`,
			checks: []check{
				{src: "a/client", dst: "a/web", port: 1, want: true},
				{src: "a/db", dst: "a/web", port: 1, want: true},
				{src: "a/web", dst: "a/db", port: 1, want: false},
				{src: "a/web", dst: "a/db", port: 2, want: true},
				{src: "a/client", dst: "a/db", port: 2, want: false},
				{src: "a/client", dst: "a/db", port: 3, want: true},
				{src: "a/web", dst: "a/db", port: 3, want: false},
				{src: "a/web", dst: "a/client", port: 3, want: true}, // client not selected by In
			},
		},
		{
			name:  "ipBlock with except, IPv4 and IPv6",
			wrong: "ignoring except",
			policies: `
metadata: {namespace: a, name: blocks}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from:
    - ipBlock: {cidr: 172.16.0.0/12, except: [172.17.0.0/16]}
    - ipBlock: {cidr: "2001:db8::/32", except: ["2001:db8:1::/48"]}`,
			checks: []check{
				{src: "172.16.5.5", dst: "a/web", port: 8080, want: true},
				{src: "172.17.5.5", dst: "a/web", port: 8080, want: false},
				{src: "172.32.0.1", dst: "a/web", port: 8080, want: false},
				{src: "2001:db8:2::1", dst: "a/web", port: 8080, want: true},
				{src: "2001:db8:1::1", dst: "a/web", port: 8080, want: false},
				{src: "::ffff:172.16.0.1", dst: "a/web", port: 8080, want: true},
			},
		},
		{
			name:  "ipBlock does not match pod IPs by default",
			wrong: "matching pod IPs against ipBlock without the option",
			policies: `
metadata: {namespace: a, name: internal-block}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.0/8}}]`,
			checks: []check{
				{src: "b/client", dst: "a/web", port: 8080, want: false},
				{src: "10.9.9.9", dst: "a/web", port: 8080, want: true},
			},
		},
		{
			name:  "IPBlockMatchesPods: ipBlock matches pod IPs",
			wrong: "ignoring the option",
			opts:  netpol.Options{IPBlockMatchesPods: true},
			policies: `
metadata: {namespace: a, name: internal-block}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.1.2/32]}}]`,
			checks: []check{
				{src: "b/client", dst: "a/web", port: 8080, want: true},
				{src: "b/db", dst: "a/web", port: 8080, want: false},
				{src: "c/api", dst: "a/web", port: 8080, want: false},
			},
		},
		{
			name:  "egress to a named port resolves on the destination pod",
			wrong: "resolving the port name on the source pod",
			policies: `
metadata: {namespace: a, name: named-egress}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {}}]
    ports: [{port: http}]`,
			checks: []check{
				{src: "a/web", dst: "b/web", port: 80, want: true},
				{src: "a/web", dst: "b/web", port: 8080, want: false},
				{src: "a/web", dst: "a/db", port: 9000, want: true},
				{src: "a/web", dst: "b/db", port: 80, want: false},
				{src: "a/web", dst: "8.8.8.8", port: 80, want: false},
			},
		},
		{
			name:  "ingress named port: resolved per selected pod, protocol must match, absent name matches nothing",
			wrong: "resolving a name to one number for all pods, or ignoring its protocol",
			policies: `
metadata: {namespace: b, name: named-ingress}
spec:
  podSelector: {}
  ingress:
  - ports: [{port: http}, {port: dns, protocol: TCP}]`,
			checks: []check{
				{src: "a/client", dst: "b/web", port: 80, want: true},
				{src: "a/client", dst: "b/db", port: 80, want: false},
				{src: "a/client", dst: "b/web", proto: "UDP", port: 53, want: false},
				{src: "a/client", dst: "b/web", port: 53, want: false},
			},
		},
		{
			name:  "omitted protocol is TCP",
			wrong: "matching any protocol when none is given",
			policies: `
metadata: {namespace: b, name: tcp-default}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - ports: [{port: 53}]`,
			checks: []check{
				{src: "a/client", dst: "b/web", port: 53, want: true},
				{src: "a/client", dst: "b/web", proto: "UDP", port: 53, want: false},
				{src: "a/client", dst: "b/web", proto: "SCTP", port: 53, want: false},
			},
		},
		{
			name:  "omitted port allows every port of the protocol only",
			wrong: "treating a protocol-only entry as all protocols",
			policies: `
metadata: {namespace: b, name: udp-all}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - ports: [{protocol: UDP}, {protocol: SCTP, port: 3868}]`,
			checks: []check{
				{src: "a/client", dst: "b/web", proto: "UDP", port: 1, want: true},
				{src: "a/client", dst: "b/web", proto: "UDP", port: 65535, want: true},
				{src: "a/client", dst: "b/web", port: 80, want: false},
				{src: "a/client", dst: "b/web", proto: "SCTP", port: 3868, want: true},
				{src: "a/client", dst: "b/web", proto: "SCTP", port: 3869, want: false},
			},
		},
		{
			name:  "endPort range is inclusive",
			wrong: "an exclusive end",
			policies: `
metadata: {namespace: b, name: range}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - ports: [{port: 8000, endPort: 8010}]`,
			checks: []check{
				{src: "a/client", dst: "b/web", port: 7999, want: false},
				{src: "a/client", dst: "b/web", port: 8000, want: true},
				{src: "a/client", dst: "b/web", port: 8010, want: true},
				{src: "a/client", dst: "b/web", port: 8011, want: false},
			},
		},
		{
			name:  "omitted ports list allows every port of every protocol",
			wrong: "defaulting an absent ports list to TCP only",
			policies: `
metadata: {namespace: b, name: any-port}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {}}]`,
			checks: []check{
				{src: "b/client", dst: "b/web", proto: "SCTP", port: 9, want: true},
				{src: "b/client", dst: "b/web", proto: "UDP", port: 65535, want: true},
				{src: "a/client", dst: "b/web", port: 80, want: false},
			},
		},
		{
			name:  "source egress and destination ingress must both allow",
			wrong: "deciding on one side only",
			policies: `
metadata: {namespace: a, name: web-out}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {}}]
    ports: [{port: 5432}]
---
metadata: {namespace: b, name: db-in}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - ports: [{port: 80}, {port: 5432}]`,
			checks: []check{
				{src: "a/web", dst: "b/db", port: 5432, want: true},
				{src: "a/web", dst: "b/db", port: 80, want: false},
				{src: "a/client", dst: "b/db", port: 80, want: true},
				{src: "a/client", dst: "b/db", port: 81, want: false},
			},
		},
		{
			name:  "host-network pods are neither isolated nor selected by selectors; ipBlock sees their node address",
			wrong: "treating a host-network pod like a pod-network pod",
			policies: `
metadata: {namespace: c, name: deny-all}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
---
metadata: {namespace: a, name: from-cluster}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{namespaceSelector: {}}]
---
metadata: {namespace: a, name: from-node}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{ipBlock: {cidr: 192.168.0.0/24}}]
---
metadata: {namespace: a, name: client-named-out}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress:
  - ports: [{port: http}]`,
			checks: []check{
				{src: "a/client", dst: "b/web", port: 80, want: true},
				{src: "a/client", dst: "c/node", port: 10250, want: false}, // a node has no named ports
				{src: "b/client", dst: "c/node", port: 10250, want: true},
				{src: "c/node", dst: "8.8.8.8", port: 443, want: true},
				{src: "c/api", dst: "8.8.8.8", port: 443, want: false},
				{src: "c/node", dst: "a/web", port: 8080, want: false},
				{src: "c/node", dst: "a/db", port: 5432, want: true},
				{src: "a/client", dst: "c/api", port: 8443, want: false},
			},
		},
		{
			name:  "policies apply only in their own namespace",
			wrong: "matching spec.podSelector across namespaces",
			policies: `
metadata: {namespace: b, name: deny}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: []`,
			checks: []check{
				{src: "a/client", dst: "a/web", port: 8080, want: true},
				{src: "a/client", dst: "b/web", port: 80, want: false},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := fixtureCluster()
			c.Policies = parsePolicies(t, tc.policies)
			e, err := netpol.New(c, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, ck := range tc.checks {
				v := e.Evaluate(peerOf(t, c, ck.src), peerOf(t, c, ck.dst), ck.proto, ck.port)
				if v.Allowed != ck.want {
					t.Errorf("%s: allowed=%v, want %v (would be the mistake: %s)\n  %s", ck, v.Allowed, ck.want, tc.wrong, v)
				}
			}
		})
	}
}
