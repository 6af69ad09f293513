package netpol_test

import (
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/netpol"
)

// TestHostRules: the host rules that apply to a pod, with the ports left
// after earlier Admin-tier rules and Cilium denies decide for every
// external address ("DomainNames Accept rules should be used with a lower
// precedence egress deny": network-policy-api apis/v1alpha2
// ClusterNetworkPolicyEgressPeer.DomainNames).
func TestHostRules(t *testing.T) {
	tests := []struct {
		name, objects, cilium string
		want                  []string // rule and ports per host rule of a/client
	}{
		{
			name: "domain Accept before a Deny of the world stays open",
			objects: `
kind: ClusterNetworkPolicy
metadata: {name: egress}
spec:
  tier: Admin
  priority: 1
  subject: {namespaces: {}}
  egress:
  - {action: Accept, to: [{domainNames: ["*.example.com", api.stripe.com]}], protocols: [{tcp: {destinationPort: {number: 443}}}]}
  - {action: Deny, to: [{networks: [0.0.0.0/0]}]}`,
			want: []string{`egress[ClusterNetworkPolicy] egress[0] **.example.com,api.stripe.com TCP/443`},
		},
		{
			name: "a Deny of the world before the domain Accept closes it",
			objects: `
kind: ClusterNetworkPolicy
metadata: {name: egress}
spec:
  tier: Admin
  priority: 1
  subject: {namespaces: {}}
  egress:
  - {action: Deny, to: [{networks: [0.0.0.0/0]}]}
  - {action: Accept, to: [{domainNames: [api.stripe.com]}]}`,
		},
		{
			name: "Cilium toFQDNs less a deny of the world on one port",
			cilium: `
kind: CiliumNetworkPolicy
metadata: {name: out, namespace: a}
spec:
  endpointSelector: {matchLabels: {app: client}}
  egress:
  - toFQDNs: [{matchName: api.stripe.com}]
    toPorts: [{ports: [{port: "80", endPort: 443, protocol: TCP}]}]
  egressDeny:
  - toEntities: [world]
    toPorts: [{ports: [{port: "80", protocol: TCP}]}]`,
			want: []string{`a/out[CiliumNetworkPolicy] egress[0] api.stripe.com TCP/81-443`},
		},
		{
			name: "another pod's rule does not apply",
			cilium: `
kind: CiliumNetworkPolicy
metadata: {name: out, namespace: a}
spec:
  endpointSelector: {matchLabels: {app: web}}
  egress:
  - toFQDNs: [{matchName: api.stripe.com}]`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := fixtureCluster()
			parseObjects(t, &c, tc.objects)
			parseCilium(t, &c, tc.cilium)
			e, err := netpol.New(c, netpol.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, h := range e.HostRules(2) { // a/client
				got = append(got, h.Rule.String()+" "+strings.Join(append(append([]string{}, h.MatchPatterns...), h.MatchNames...), ",")+" "+h.Ports.String())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("host rules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
