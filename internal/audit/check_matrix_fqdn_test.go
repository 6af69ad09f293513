package audit

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"budnet/internal/netpol"
	"budnet/internal/reach"
)

// TestFQDNCarrier: a host flow the NetworkPolicy matrix reports as blocked
// is open under Cilium only when a toFQDNs rule names the host, for a
// selector that selects the source, on every port of the flow.
func TestFQDNCarrier(t *testing.T) {
	api := `apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, image: api:1}]}
---
`
	cnp := func(ns, selector, fqdn, ports string) string {
		return `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: fqdn, namespace: ` + ns + `}
spec:
  endpointSelector: {matchLabels: {` + selector + `}}
  egress:
    - toFQDNs: [` + fqdn + `]
` + ports
	}
	tcp443 := "      toPorts: [{ports: [{port: \"443\", protocol: TCP}]}]\n"
	tests := []struct {
		name string
		yaml string
		dst  string
		want bool
	}{
		{name: "matchName and port", yaml: api + cnp("shop", "app: api", "{matchName: api.stripe.com}", tcp443), dst: "api.stripe.com", want: true},
		{name: "k8s prefix in the selector", yaml: api + cnp("shop", "'k8s:app': api", "{matchName: api.stripe.com}", tcp443), dst: "api.stripe.com", want: true},
		{name: "pattern within one label", yaml: api + cnp("shop", "app: api", "{matchPattern: '*.openai.azure.com'}", tcp443), dst: "x.openai.azure.com", want: true},
		{name: "pattern does not cross a dot", yaml: api + cnp("shop", "app: api", "{matchPattern: '*.azure.com'}", tcp443), dst: "x.openai.azure.com"},
		{name: "no toPorts is every port", yaml: api + cnp("shop", "app: api", "{matchName: api.stripe.com}", ""), dst: "api.stripe.com", want: true},
		{name: "other host", yaml: api + cnp("shop", "app: api", "{matchName: api.stripe.com}", tcp443), dst: "evil.example.com"},
		{name: "other port", yaml: api + cnp("shop", "app: api", "{matchName: api.stripe.com}", "      toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]\n"), dst: "api.stripe.com"},
		{name: "other pods", yaml: api + cnp("shop", "app: web", "{matchName: api.stripe.com}", tcp443), dst: "api.stripe.com"},
		{name: "other namespace", yaml: api + cnp("shop-data", "app: api", "{matchName: api.stripe.com}", tcp443), dst: "api.stripe.com"},
		{name: "a workload is no host", yaml: api + cnp("shop", "app: api", "{matchPattern: '*'}", ""), dst: "shop/web[Deployment]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := loadFixture(t, "fqdn.yaml", []byte(tt.yaml), t.TempDir())
			d := reach.Discrepancy{Src: "shop/api[Deployment]", Dst: tt.dst,
				Ports: netpol.NewPortSet(netpol.PortRange{Protocol: corev1.ProtocolTCP, Start: 443, End: 443})}
			got := fqdnCarrier(c, d)
			if (got != nil) != tt.want {
				t.Fatalf("carrier %v, want one: %v", got, tt.want)
			}
			if got != nil && !strings.Contains(got.Ref(), "fqdn") {
				t.Errorf("carrier %s", got.Ref())
			}
		})
	}
}
