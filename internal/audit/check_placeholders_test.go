package audit

import (
	"testing"
)

// TestPlaceholderAttacks: spellings that must not slip past the check, and
// real values that must not be flagged.
func TestPlaceholderAttacks(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		fail bool
	}{
		{name: "IPv6 documentation subnet", fail: true, yaml: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec: {podSelector: {}, ingress: [{from: [{ipBlock: {cidr: "2001:db8:a::/48"}}]}]}`},
		{name: "egress to TEST-NET-3", fail: true, yaml: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec: {podSelector: {}, egress: [{to: [{ipBlock: {cidr: 203.0.113.7/32}}]}]}`},
		{name: "upper-case host with trailing dot", fail: true, yaml: `
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: c, namespace: a}
spec: {secretName: s, dnsNames: [APP.Example.COM.], issuerRef: {name: x}}`},
		{name: "wildcard under example.org", fail: true, yaml: `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: a}
spec: {hostnames: ["*.example.org"]}`},
		{name: ".test TLD", fail: true, yaml: `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: i, namespace: a}
spec: {rules: [{host: shop.test}]}`},
		{name: "nginx allowlist with spaces", fail: true, yaml: `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: i
  namespace: a
  annotations: {nginx.ingress.kubernetes.io/whitelist-source-range: "100.64.0.0/10, 198.51.100.0/24"}
spec: {rules: [{host: admin.acme-corp.io}]}`},
		{name: "Traefik allowlist address", fail: true, yaml: `
apiVersion: traefik.io/v1alpha1
kind: Middleware
metadata: {name: m, namespace: a}
spec: {ipAllowList: {sourceRange: [192.0.2.1]}}`},
		{name: "example mailbox", fail: true, yaml: `
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: i, namespace: a}
spec: {acme: {email: ops@example.net, server: https://acme.invalid, privateKeySecretRef: {name: k}, solvers: []}}`},
		{name: "look-alike domains are real", yaml: `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: i, namespace: a}
spec: {rules: [{host: myexample.com}, {host: example.com.evil.io}, {host: examples.org}]}`},
		{name: "except lists are not judged", yaml: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec: {podSelector: {}, egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0, except: [192.0.2.0/24]}}]}]}`},
	}
	ch := checkPlaceholders()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := runYAML(t, ch, tt.yaml)
			if len(rs) == 0 {
				t.Fatal("no result: the object was not judged")
			}
			if got := len(failing(rs)) > 0; got != tt.fail {
				t.Errorf("failing %v, want %v: %+v", got, tt.fail, rs)
			}
		})
	}
}
