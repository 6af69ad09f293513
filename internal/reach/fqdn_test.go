package reach

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/budnet/budnet/internal/netpol"
)

// TestFQDNOpens: a host flow the NetworkPolicy matrix reports as blocked is
// open under Cilium only when toFQDNs rules admit every host of the flow,
// for a selector that selects the source, on every port of the flow. Model
// hosts are the egress allowlist's patterns; Cilium's "**." is its "*.".
func TestFQDNOpens(t *testing.T) {
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
		{name: "a flow without hosts is not opened by names", yaml: api + cnp("shop", "app: api", "{matchPattern: '*'}", "")},
		{name: "not a Cilium policy", yaml: api + strings.Replace(cnp("shop", "app: api", "{matchName: api.stripe.com}", tcp443), "cilium.io/v2", "example.com/v1", 1), hosts: []string{"api.stripe.com"}},
		// The engine evaluates the selector as Cilium does, expressions included.
		{name: "matchExpressions select", yaml: api + strings.Replace(cnp("shop", "app: api", "{matchName: api.stripe.com}", tcp443), "endpointSelector: {matchLabels: {app: api}}", "endpointSelector: {matchExpressions: [{key: app, operator: Exists}]}", 1), hosts: []string{"api.stripe.com"}, want: true},
		{name: "matchExpressions that do not select", yaml: api + strings.Replace(cnp("shop", "app: api", "{matchName: api.stripe.com}", tcp443), "endpointSelector: {matchLabels: {app: api}}", "endpointSelector: {matchExpressions: [{key: app, operator: NotIn, values: [api]}]}", 1), hosts: []string{"api.stripe.com"}},
		{name: "a deny of the world on the port closes the names", yaml: api + cnp("shop", "app: api", "{matchName: api.stripe.com}", tcp443) + "  egressDeny:\n    - toEntities: [world]\n" + tcp443, hosts: []string{"api.stripe.com"}},
		{name: "an AdminNetworkPolicy's domainNames", yaml: api + `apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: fqdn-admin}
spec:
  priority: 3
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: shop}}}
  egress:
  - {action: Allow, to: [{domainNames: ["*.stripe.com"]}], ports: [{portNumber: {protocol: TCP, port: 443}}]}
  - {action: Deny, to: [{networks: [0.0.0.0/0]}]}`, hosts: []string{"*.stripe.com", "api.stripe.com"}, want: true},
		{name: "a clusterwide policy in no namespace", yaml: api + strings.NewReplacer("kind: CiliumNetworkPolicy", "kind: CiliumClusterwideNetworkPolicy", "name: fqdn, namespace: shop", "name: fqdn").Replace(cnp("shop", "app: api", "{matchName: api.stripe.com}", tcp443)), hosts: []string{"api.stripe.com"}, want: true},
		{name: "specs entries count", yaml: api + strings.Replace(cnp("shop", "app: api", "{matchName: api.stripe.com}", tcp443), "spec:\n  endpointSelector: {matchLabels: {app: api}}\n  egress:\n    - toFQDNs: [{matchName: api.stripe.com}]\n"+tcp443,
			"specs:\n- endpointSelector: {matchLabels: {app: api}}\n  egress:\n    - toFQDNs: [{matchName: api.stripe.com}]\n"+tcp443, 1), hosts: []string{"api.stripe.com"}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.name, "specs") != strings.Contains(tt.yaml, "specs:") ||
				strings.Contains(tt.name, "clusterwide") != strings.Contains(tt.yaml, "Clusterwide") ||
				strings.Contains(tt.name, "matchExpressions") != strings.Contains(tt.yaml, "matchExpressions") ||
				strings.Contains(tt.name, "deny") != strings.Contains(tt.yaml, "egressDeny") {
				t.Fatal("the case's policy was not rewritten as its name says")
			}
			in := load(t, tt.yaml)
			if err := in.Err(); err != nil {
				t.Fatal(err)
			}
			eng, err := netpol.New(in.Cluster, netpol.Options{})
			if err != nil {
				t.Fatal(err)
			}
			c := &comparison{in: in, eng: eng}
			it := &intent{src: "shop/api[Deployment]", hosts: tt.hosts}
			got := c.fqdnOpens(it, netpol.NewPortSet(netpol.PortRange{Protocol: corev1.ProtocolTCP, Start: 443, End: 443}))
			if (got != nil) != tt.want {
				t.Fatalf("opened by %v, want opened: %v", got, tt.want)
			}
			for _, p := range got {
				if !strings.Contains(p, "fqdn") {
					t.Errorf("opened by %s", p)
				}
			}
		})
	}
}
