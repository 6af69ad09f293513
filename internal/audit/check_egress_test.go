package audit

import (
	"strings"
	"testing"
	"time"

	"github.com/budnet/budnet/internal/platform"
)

const gatewayDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: budgateway, namespace: bud-system}
spec:
  selector: {matchLabels: {app: budgateway}}
  template:
    metadata: {labels: {app: budgateway}}
    spec:
      containers: [{name: budgateway, image: budstudio/budgateway:nightly}]
`

func egressPolicy(to string) string {
	return gatewayDeployment + policy(`metadata: {name: egress, namespace: bud-system}
spec:
  podSelector: {matchLabels: {app: budgateway}}
  policyTypes: [Egress]
  egress:
    - to: [`+to+`]
      ports: [{protocol: TCP, port: 443}]`)
}

func ciliumFQDN(dns bool, hosts ...string) string {
	var names []string
	for _, h := range hosts {
		if !strings.HasPrefix(h, "{") {
			h = "{matchName: " + h + "}"
		}
		names = append(names, h)
	}
	rules := `    - toFQDNs: [` + strings.Join(names, ", ") + `]
      toPorts: [{ports: [{port: "443", protocol: TCP}]}]
`
	if dns {
		rules += `    - toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, k8s-app: kube-dns}}]
      toPorts: [{ports: [{port: "53", protocol: ANY}], rules: {dns: [{matchPattern: "*"}]}}]
`
	}
	return `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: budgateway-egress, namespace: bud-system}
spec:
  endpointSelector: {matchLabels: {app.kubernetes.io/name: budgateway}}
  egress:
` + rules
}

// budModelHosts lists the embedded model's egress hosts as toFQDNs
// selectors, its wildcards "*.x" written as prefix+"x" patterns.
func budModelHosts(t *testing.T, prefix string) []string {
	t.Helper()
	p, err := platform.Default()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range p.Spec.Flows.Egress {
		for _, h := range f.Hosts {
			if rest, ok := strings.CutPrefix(h, "*."); ok {
				out = append(out, "{matchPattern: '"+prefix+rest+"'}")
			} else {
				out = append(out, "{matchName: "+h+"}")
			}
		}
	}
	return out
}

func TestEgressAttacks(t *testing.T) {
	tests := []struct {
		name  string
		check Check
		yaml  string
		want  Status
		msg   string
	}{
		{name: "except 10/8 only: metadata and other private ranges stay open", check: checkEgressOpen(),
			yaml: egressPolicy(`{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}}`), want: StatusFail, msg: "169.254.169.254"},
		{name: "unisolated egress", check: checkEgressOpen(), yaml: gatewayDeployment, want: StatusFail},
		{name: "a provider's CIDR only", check: checkEgressOpen(), yaml: egressPolicy(`{ipBlock: {cidr: 162.159.140.0/24}}`), want: ""},
		{name: "toFQDNs without the DNS proxy rule", check: checkEgressAllowlist(),
			yaml: ciliumFQDN(false, "api.openai.com"), want: StatusPartial, msg: "DNS proxy"},
		{name: "toFQDNs missing model hosts", check: checkEgressAllowlist(),
			yaml: ciliumFQDN(true, "api.openai.com"), want: StatusPartial, msg: "api.anthropic.com"},
		{name: "every model host, wildcards as Cilium's **.", check: checkEgressAllowlist(),
			yaml: ciliumFQDN(true, budModelHosts(t, "**.")...), want: StatusPass},
		{name: "a model wildcard as Cilium's *. covers one label only", check: checkEgressAllowlist(),
			yaml: ciliumFQDN(true, budModelHosts(t, "*.")...), want: StatusPartial, msg: "*.amazonaws.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := runYAML(t, tt.check, tt.yaml)
			st, msg := statusOf(rs, "")
			if st != tt.want {
				t.Fatalf("status %q (%s), want %q; results %+v", st, msg, tt.want, rs)
			}
			if tt.msg != "" && !strings.Contains(msg, tt.msg) {
				t.Errorf("message %q does not say %q", msg, tt.msg)
			}
		})
	}
}

func TestExposureAndCertAttacks(t *testing.T) {
	admin := func(ranges string) string {
		return mw("admin", "  ipAllowList: {sourceRange: ["+ranges+"]}") + `
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: admin, namespace: bud-frontend}
spec:
  entryPoints: [websecure]
  routes:
    - match: Host(` + "`admin.bud.example.com`" + `)
      kind: Rule
      services: [{name: budadmin, port: 8007}]
      middlewares: [{name: admin}]
  tls: {secretName: admin-tls}
`
	}
	cert := func(notAfter string) string {
		return `apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: web, namespace: bud-frontend}
spec: {secretName: web-tls, issuerRef: {kind: ClusterIssuer, name: missing}}
status: {notAfter: "` + notAfter + `"}
`
	}
	tests := []struct {
		name    string
		check   Check
		yaml    string
		subject string
		want    Status
		msg     string
	}{
		{name: "an allowlist of 0.0.0.0/0", check: checkAdminAllowlist(), yaml: admin("0.0.0.0/0"), subject: "admin", want: StatusFail, msg: "admits every address"},
		{name: "an allowlist of the admin range", check: checkAdminAllowlist(), yaml: admin("203.0.113.0/24"), subject: "admin", want: StatusPass},
		{name: "Gateway API admin route", check: checkAdminAllowlist(), yaml: `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: admin, namespace: bud-frontend}
spec:
  hostnames: [admin.bud.example.com]
  rules: [{backendRefs: [{name: budadmin, port: 8007}]}]`, subject: "admin", want: StatusFail, msg: "no standard allowlist"},
		{name: "NodePort for a database", check: checkExposedServices(), yaml: `apiVersion: v1
kind: Service
metadata: {name: pg, namespace: bud-data}
spec: {type: NodePort, selector: {app: pg}, ports: [{port: 5432}]}`, subject: "pg", want: StatusFail, msg: "NodePort"},
		{name: "restricted load balancer is partial", check: checkExposedServices(), yaml: `apiVersion: v1
kind: Service
metadata: {name: pg, namespace: bud-data}
spec: {type: LoadBalancer, loadBalancerSourceRanges: [203.0.113.0/24], selector: {app: pg}, ports: [{port: 5432}]}`, subject: "pg", want: StatusPartial},
		{name: "certificate about to expire", check: checkCertExpiry(), yaml: cert("2026-12-01T00:00:00Z"), subject: "web", want: StatusPartial},
		{name: "certificate issuer missing", check: checkCertManaged(), yaml: cert("2027-12-01T00:00:00Z") + "---\n" + nginxIngress(""), subject: "web-tls", want: StatusFail, msg: "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := loadFixture(t, "attack.yaml", []byte(tt.yaml), "testdata/none")
			c.Now = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
			rs := tt.check.Run(c)
			st, msg := statusOf(rs, tt.subject)
			if st != tt.want {
				t.Fatalf("status %q (%s), want %q; results %+v", st, msg, tt.want, rs)
			}
			if tt.msg != "" && !strings.Contains(msg, tt.msg) {
				t.Errorf("message %q does not say %q", msg, tt.msg)
			}
		})
	}
}
