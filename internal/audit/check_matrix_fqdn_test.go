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
	two := func(first, second string) string {
		return cnp("shop", "app: api", first, tcp443) + "    - toFQDNs: [" + second + "]\n" + tcp443
	}
	tests := []struct {
		name  string
		yaml  string
		hosts []string // the flow's hosts, as the model writes them
		dst   string   // a discrepancy without hosts (not a host flow)
		want  bool
	}{
		{name: "matchName and port", yaml: api + cnp("shop", "app: api", "{matchName: api.stripe.com}", tcp443), hosts: []string{"api.stripe.com"}, want: true},
		{name: "matchName in another case, fully qualified", yaml: api + cnp("shop", "app: api", "{matchName: API.Stripe.com.}", tcp443), hosts: []string{"api.stripe.com"}, want: true},
		{name: "k8s prefix in the selector", yaml: api + cnp("shop", "'k8s:app': api", "{matchName: api.stripe.com}", tcp443), hosts: []string{"api.stripe.com"}, want: true},
		{name: "pattern within one label", yaml: api + cnp("shop", "app: api", "{matchPattern: '*.openai.azure.com'}", tcp443), hosts: []string{"x.openai.azure.com"}, want: true},
		{name: "pattern does not cross a dot", yaml: api + cnp("shop", "app: api", "{matchPattern: '*.azure.com'}", tcp443), hosts: []string{"x.openai.azure.com"}},
		{name: "pattern inside a label", yaml: api + cnp("shop", "app: api", "{matchPattern: 'api-*.stripe.com'}", tcp443), hosts: []string{"api-eu.stripe.com"}, want: true},
		{name: "** matches any depth", yaml: api + cnp("shop", "app: api", "{matchPattern: '**.amazonaws.com'}", tcp443), hosts: []string{"s3.us-east-1.amazonaws.com"}, want: true},
		{name: "** is not the apex", yaml: api + cnp("shop", "app: api", "{matchPattern: '**.amazonaws.com'}", tcp443), hosts: []string{"amazonaws.com"}},
		{name: "** is not a suffix of a label", yaml: api + cnp("shop", "app: api", "{matchPattern: '**.amazonaws.com'}", tcp443), hosts: []string{"evilamazonaws.com"}},
		{name: "a model wildcard is covered by ** of its domain", yaml: api + cnp("shop", "app: api", "{matchPattern: '**.amazonaws.com'}", tcp443), hosts: []string{"*.amazonaws.com"}, want: true},
		{name: "a model wildcard is covered by ** of a parent", yaml: api + cnp("shop", "app: api", "{matchPattern: '**.amazonaws.com'}", tcp443), hosts: []string{"*.s3.amazonaws.com"}, want: true},
		{name: "a model wildcard is not covered by ** of a child", yaml: api + cnp("shop", "app: api", "{matchPattern: '**.s3.amazonaws.com'}", tcp443), hosts: []string{"*.amazonaws.com"}},
		{name: "a model wildcard is not covered by one label's *", yaml: api + cnp("shop", "app: api", "{matchPattern: '*.amazonaws.com'}", tcp443), hosts: []string{"*.amazonaws.com"}},
		{name: "a model wildcard is not covered by a name under it", yaml: api + cnp("shop", "app: api", "{matchName: s3.amazonaws.com}", tcp443), hosts: []string{"*.amazonaws.com"}},
		{name: "a lone * covers every name", yaml: api + cnp("shop", "app: api", "{matchPattern: '*'}", tcp443), hosts: []string{"*.amazonaws.com", "api.stripe.com"}, want: true},
		{name: "every host of a multi-host flow", yaml: api + cnp("shop", "app: api", "{matchName: api.openai.com}, {matchPattern: '**.openai.azure.com'}", tcp443),
			hosts: []string{"api.openai.com", "*.openai.azure.com"}, want: true},
		{name: "one host of a multi-host flow missing", yaml: api + cnp("shop", "app: api", "{matchName: api.openai.com}", tcp443),
			hosts: []string{"api.openai.com", "api.anthropic.com"}},
		{name: "hosts in two rules", yaml: api + two("{matchName: api.openai.com}", "{matchName: api.anthropic.com}"),
			hosts: []string{"api.openai.com", "api.anthropic.com"}, want: true},
		{name: "hosts in two policies", yaml: api + cnp("shop", "app: api", "{matchName: api.openai.com}", tcp443) + "---\n" +
			strings.Replace(cnp("shop", "app: api", "{matchName: api.anthropic.com}", tcp443), "name: fqdn,", "name: fqdn-2,", 1),
			hosts: []string{"api.openai.com", "api.anthropic.com"}, want: true},
		{name: "no toPorts is every port", yaml: api + cnp("shop", "app: api", "{matchName: api.stripe.com}", ""), hosts: []string{"api.stripe.com"}, want: true},
		{name: "other host", yaml: api + cnp("shop", "app: api", "{matchName: api.stripe.com}", tcp443), hosts: []string{"evil.example.com"}},
		{name: "a look-alike host", yaml: api + cnp("shop", "app: api", "{matchName: api.stripe.com}", tcp443), hosts: []string{"api.stripe.com.evil.io"}},
		{name: "other port", yaml: api + cnp("shop", "app: api", "{matchName: api.stripe.com}", "      toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]\n"), hosts: []string{"api.stripe.com"}},
		{name: "other pods", yaml: api + cnp("shop", "app: web", "{matchName: api.stripe.com}", tcp443), hosts: []string{"api.stripe.com"}},
		{name: "other namespace", yaml: api + cnp("shop-data", "app: api", "{matchName: api.stripe.com}", tcp443), hosts: []string{"api.stripe.com"}},
		{name: "a workload is no host", yaml: api + cnp("shop", "app: api", "{matchPattern: '*'}", ""), dst: "shop/web[Deployment]"},
		{name: "an address range is no host", yaml: api + cnp("shop", "app: api", "{matchPattern: '*'}", ""), dst: "0.0.0.0/0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := loadFixture(t, "fqdn.yaml", []byte(tt.yaml), t.TempDir())
			d := reach.Discrepancy{Src: "shop/api[Deployment]", Dst: tt.dst, Hosts: tt.hosts,
				Ports: netpol.NewPortSet(netpol.PortRange{Protocol: corev1.ProtocolTCP, Start: 443, End: 443})}
			if len(tt.hosts) > 0 {
				d.Dst = strings.Join(tt.hosts, ",")
			}
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
