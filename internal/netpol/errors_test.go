package netpol_test

import (
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/netpol"
)

// TestNewRejectsInvalidPolicies: what API validation rejects is an error
// naming the policy and the field, not a silent guess.
func TestNewRejectsInvalidPolicies(t *testing.T) {
	tests := []struct {
		name     string
		policies string
		want     string
	}{
		{name: "unknown operator", want: "a/bad: spec.podSelector", policies: `
metadata: {namespace: a, name: bad}
spec:
  podSelector: {matchExpressions: [{key: app, operator: Like, values: [x]}]}`},
		{name: "In without values", want: "a/bad: spec.ingress[0]: peer 0: podSelector", policies: `
metadata: {namespace: a, name: bad}
spec:
  podSelector: {}
  ingress: [{from: [{podSelector: {matchExpressions: [{key: app, operator: In}]}}]}]`},
		{name: "bad CIDR", want: `a/bad: spec.egress[0]: peer 0: ipBlock.cidr: "10.0.0.0/33" is not a CIDR`, policies: `
metadata: {namespace: a, name: bad}
spec:
  podSelector: {}
  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/33}}]}]`},
		{name: "bad except", want: `ipBlock.except[0]: "10.0.0.0" is not a CIDR`, policies: `
metadata: {namespace: a, name: bad}
spec:
  podSelector: {}
  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0]}}]}]`},
		{name: "except outside cidr", want: "is not within 10.0.0.0/8", policies: `
metadata: {namespace: a, name: bad}
spec:
  podSelector: {}
  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/16]}}]}]`},
		{name: "ipBlock with selector", want: "ipBlock may not be combined", policies: `
metadata: {namespace: a, name: bad}
spec:
  podSelector: {}
  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]}]`},
		{name: "empty peer", want: "a peer needs", policies: `
metadata: {namespace: a, name: bad}
spec:
  podSelector: {}
  ingress: [{from: [{}]}]`},
		{name: "endPort with named port", want: "endPort requires a numeric port", policies: `
metadata: {namespace: a, name: bad}
spec:
  podSelector: {}
  ingress: [{ports: [{port: http, endPort: 90}]}]`},
		{name: "endPort below port", want: "invalid port range 90-80", policies: `
metadata: {namespace: a, name: bad}
spec:
  podSelector: {}
  ingress: [{ports: [{port: 90, endPort: 80}]}]`},
		{name: "unknown protocol", want: `unsupported protocol "ICMP"`, policies: `
metadata: {namespace: a, name: bad}
spec:
  podSelector: {}
  ingress: [{ports: [{protocol: ICMP}]}]`},
		{name: "unknown policy type", want: `unknown type "Both"`, policies: `
metadata: {namespace: a, name: bad}
spec:
  podSelector: {}
  policyTypes: [Both]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := fixtureCluster()
			c.Policies = parsePolicies(t, tc.policies)
			_, err := netpol.New(c, netpol.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "networkpolicy a/bad") {
				t.Fatalf("New() error = %v, want it to name the policy and contain %q", err, tc.want)
			}
			// Users read these; Go function names are no help to them.
			if strings.Contains(err.Error(), "netip") || strings.Contains(err.Error(), "Parse") {
				t.Errorf("New() error leaks Go internals: %v", err)
			}
		})
	}
}
