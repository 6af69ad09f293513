package audit

import (
	"strings"
	"testing"
)

// TestTLSSecretAttacks tries to get past BUD-6.1-04: TLS without a secret
// name, a Secret without its keys, and manifests-only input that cannot
// know about a Secret created out of band (not judged, never a pass).
func TestTLSSecretAttacks(t *testing.T) {
	ing := func(tls string, ann ...string) string {
		return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: bud-frontend, annotations: {` + strings.Join(ann, ", ") + `}}
spec:
  ingressClassName: traefik
  tls: ` + tls + `
  rules: [{host: app.bud.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}}]
`
	}
	secret := func(data string) string {
		return "---\napiVersion: v1\nkind: Secret\nmetadata: {name: web-tls, namespace: bud-frontend}\ntype: kubernetes.io/tls\ndata: {" + data + "}\n"
	}
	ir := func(tls string) string {
		return "apiVersion: traefik.io/v1alpha1\nkind: IngressRoute\nmetadata: {name: web, namespace: bud-frontend}\nspec:\n  entryPoints: [websecure]\n  routes: [{match: \"Host(`app.bud.example.com`)\", kind: Rule, services: [{name: web, port: 80}]}]\n  tls: " + tls + "\n"
	}
	tests := []struct {
		name, yaml, source string
		want               Status
	}{
		{name: "Ingress tls without secretName", yaml: ing("[{hosts: [app.bud.example.com]}]"), want: StatusFail},
		{name: "IngressRoute tls {}", yaml: ir("{}"), want: StatusFail},
		{name: "IngressRoute tls with only options", yaml: ir("{options: {name: modern}}"), want: StatusFail},
		{name: "IngressRoute certResolver", yaml: ir("{certResolver: letsencrypt}"), want: StatusPass},
		{name: "default TLSStore certificate", yaml: ir("{}") + "---\napiVersion: traefik.io/v1alpha1\nkind: TLSStore\nmetadata: {name: default, namespace: bud-infra}\nspec: {defaultCertificate: {secretName: wildcard-tls}}\n", want: StatusPass},
		{name: "secret absent from manifests is not judged", yaml: ing("[{hosts: [app.bud.example.com], secretName: web-tls}]"), want: StatusNotApplicable},
		{name: "secret absent from the cluster", yaml: ing("[{hosts: [app.bud.example.com], secretName: web-tls}]"), source: "cluster", want: StatusFail},
		{name: "Secret in the input", yaml: ing("[{hosts: [app.bud.example.com], secretName: web-tls}]") + secret("tls.crt: "+b64("CERT")+", tls.key: "+b64("KEY")), want: StatusPass},
		{name: "Secret without tls.key", yaml: ing("[{hosts: [app.bud.example.com], secretName: web-tls}]") + secret("tls.crt: "+b64("CERT")), want: StatusFail},
		{name: "Secret in another namespace does not count", yaml: ing("[{hosts: [app.bud.example.com], secretName: web-tls}]") + strings.Replace(secret("tls.crt: "+b64("C")+", tls.key: "+b64("K")), "bud-frontend", "bud-system", 1), source: "cluster", want: StatusFail},
		{name: "Certificate creates it", yaml: ing("[{hosts: [app.bud.example.com], secretName: web-tls}]") + "---\napiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: web, namespace: bud-frontend}\nspec: {secretName: web-tls, dnsNames: [app.bud.example.com], issuerRef: {name: le, kind: ClusterIssuer}}\n", want: StatusPass},
		{name: "ingress-shim annotation", yaml: ing("[{hosts: [app.bud.example.com], secretName: web-tls}]", "cert-manager.io/cluster-issuer: le"), want: StatusPass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := loadFixture(t, "t.yaml", []byte(tt.yaml), t.TempDir())
			if tt.source != "" {
				ctx.Source = tt.source
			}
			st, msg := statusOf(checkTLSSecretProvided().Run(ctx), "web")
			if st != tt.want {
				t.Fatalf("status %q (%s), want %q", st, msg, tt.want)
			}
		})
	}
}

// TestPublicIngressWithoutTLS: the issue's "public Ingress with no TLS at
// all" is BUD-4.1-03's cause; this pins that it stays reported.
func TestPublicIngressWithoutTLS(t *testing.T) {
	y := `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: bud-frontend}
spec:
  ingressClassName: traefik
  rules: [{host: app.bud.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}}]
`
	if st, msg := statusOf(runYAML(t, checkRouteTLS(), y), "web"); st != StatusFail {
		t.Fatalf("BUD-4.1-03: status %q (%s), want fail", st, msg)
	}
	if rs := runYAML(t, checkTLSSecretProvided(), y); len(rs) != 0 {
		t.Fatalf("BUD-6.1-04 reports the same cause again: %+v", rs)
	}
}
