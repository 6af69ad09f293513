package audit

import (
	"strings"
	"testing"
)

func nginxIngress(annotations string, extra ...string) string {
	return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: bud-frontend
  annotations: {` + annotations + `}
spec:
  ingressClassName: nginx
  tls: [{hosts: [app.bud.example.com], secretName: web-tls}]
  rules:
    - host: app.bud.example.com
      http:
        paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]
` + strings.Join(extra, "\n")
}

const nginxController = `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ingress-nginx-controller, namespace: ingress-nginx}
spec:
  selector: {matchLabels: {app: ingress-nginx}}
  template:
    metadata: {labels: {app: ingress-nginx}}
    spec:
      containers:
        - name: controller
          image: registry.k8s.io/ingress-nginx/controller:v1.12.0
          args: [/nginx-ingress-controller, --configmap=ingress-nginx/ingress-nginx-controller]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ingress-nginx-controller, namespace: ingress-nginx}
data:
`

func traefikRoute(middlewares ...string) string {
	var out []string
	var refs []string
	for _, m := range middlewares {
		out = append(out, m)
		name := m[strings.Index(m, "name: ")+6:]
		name = name[:strings.IndexAny(name, ",}")]
		refs = append(refs, "{name: "+name+"}")
	}
	return strings.Join(out, "\n---\n") + `
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: web, namespace: bud-frontend}
spec:
  entryPoints: [websecure]
  routes:
    - match: Host(` + "`app.bud.example.com`" + `)
      kind: Rule
      services: [{name: web, port: 80}]
      middlewares: [` + strings.Join(refs, ", ") + `]
  tls: {secretName: web-tls}
`
}

// traefikHTTPRoute is an IngressRoute on the web entry point for the
// traefikRoute host whose one route runs a redirectScheme Middleware.
func traefikHTTPRoute(scheme string) string {
	return mw("redirect", "  redirectScheme: {scheme: "+scheme+", permanent: true}") + `
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: web-http, namespace: bud-frontend}
spec:
  entryPoints: [web]
  routes:
    - match: Host(` + "`app.bud.example.com`" + `)
      kind: Rule
      services: [{name: web, port: 80}]
      middlewares: [{name: redirect}]
---
`
}

func mw(name, spec string) string {
	return "apiVersion: traefik.io/v1alpha1\nkind: Middleware\nmetadata: {name: " + name + ", namespace: bud-frontend}\nspec:\n" + spec
}

// TestEdgeAttacks: headers that are ignored (snippets since ingress-nginx
// 1.9), too-short HSTS, middlewares reached through chains and ExtensionRefs,
// ModSecurity without rules.
func TestEdgeAttacks(t *testing.T) {
	allHeaders := `  headers: {stsSeconds: 31536000, frameDeny: true, contentTypeNosniff: true, contentSecurityPolicy: "default-src 'self'", referrerPolicy: no-referrer}`
	snippet := `nginx.ingress.kubernetes.io/configuration-snippet: "more_set_headers \"X-Frame-Options: DENY\"; more_set_headers \"X-Content-Type-Options: nosniff\"; more_set_headers \"Content-Security-Policy: default-src self\"; more_set_headers \"Referrer-Policy: no-referrer\";"`
	tests := []struct {
		name  string
		check Check
		yaml  string
		want  Status
		msg   string
	}{
		{name: "nginx snippet headers are ignored since 1.9", check: checkSecurityHeaders(), yaml: nginxIngress(snippet, nginxController+"  hsts: \"true\""), want: StatusPartial, msg: "X-Frame-Options"},
		{name: "nginx snippet headers with snippets allowed", check: checkSecurityHeaders(), yaml: nginxIngress(snippet, nginxController+"  allow-snippet-annotations: \"true\""), want: StatusPass},
		{name: "nginx hsts off", check: checkSecurityHeaders(), yaml: nginxIngress("", nginxController+"  hsts: \"false\""), want: StatusFail},
		{name: "HSTS of five minutes", check: checkSecurityHeaders(), yaml: traefikRoute(mw("h", strings.Replace(allHeaders, "31536000", "300", 1))), want: StatusPartial, msg: "Strict-Transport-Security"},
		{name: "headers through a chain", check: checkSecurityHeaders(), yaml: traefikRoute(mw("chain", "  chain: {middlewares: [{name: h}]}"), mw("h", allHeaders)), want: StatusPass},
		{name: "rate limit through a Gateway ExtensionRef", check: checkRateLimit(), yaml: mw("rl", "  rateLimit: {average: 50}") + `
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: bud-frontend}
spec:
  hostnames: [app.bud.example.com]
  rules:
    - filters: [{type: ExtensionRef, extensionRef: {group: traefik.io, kind: Middleware, name: rl}}]
      backendRefs: [{name: web, port: 80}]`, want: StatusPass},
		{name: "rate limit of zero", check: checkRateLimit(), yaml: traefikRoute(mw("rl", "  rateLimit: {average: 0}")), want: StatusFail},
		{name: "ModSecurity without the core rules", check: checkWAF(), yaml: nginxIngress(`nginx.ingress.kubernetes.io/enable-modsecurity: "true"`), want: StatusPartial, msg: "OWASP"},
		{name: "ModSecurity with the core rules", check: checkWAF(), yaml: nginxIngress(`nginx.ingress.kubernetes.io/enable-modsecurity: "true", nginx.ingress.kubernetes.io/enable-owasp-core-rules: "true"`), want: StatusPass},
		{name: "nginx redirects TLS Ingresses by default", check: checkRedirect(), yaml: nginxIngress(""), want: StatusPass},
		{name: "nginx redirect switched off", check: checkRedirect(), yaml: nginxIngress(`nginx.ingress.kubernetes.io/ssl-redirect: "false"`), want: StatusFail},
		{name: "nginx body limit disabled", check: checkBodyLimit(), yaml: nginxIngress(`nginx.ingress.kubernetes.io/proxy-body-size: "0"`), want: StatusFail},
		{name: "Traefik entry point redirect", check: checkRedirect(), yaml: `apiVersion: apps/v1
kind: Deployment
metadata: {name: traefik, namespace: bud-infra}
spec:
  selector: {matchLabels: {app: traefik}}
  template:
    metadata: {labels: {app: traefik}}
    spec:
      containers: [{name: traefik, image: traefik:v3.3, args: [--entryPoints.web.http.redirections.entryPoint.to=websecure, --entryPoints.web.http.redirections.entryPoint.scheme=https]}]
---
` + traefikRoute(mw("h", allHeaders)), want: StatusPass},
		// The redirect-only IngressRoute on web is what `budnet generate
		// --edge traefik` emits beside the hardened one on websecure.
		{name: "Traefik redirect-only IngressRoute for the host", check: checkRedirect(), yaml: traefikHTTPRoute("https") + traefikRoute(mw("h", allHeaders)), want: StatusPass},
		{name: "Traefik web route redirecting to http", check: checkRedirect(), yaml: traefikHTTPRoute("http") + traefikRoute(mw("h", allHeaders)), want: StatusFail},
		{name: "Coraza plugin, redirect-only route not judged", check: checkWAF(), yaml: traefikHTTPRoute("https") + traefikRoute(mw("waf", "  plugin: {coraza: {directives: [SecRuleEngine On]}}")), want: StatusPass},
		{name: "a web route that serves needs its own WAF", check: checkWAF(), yaml: traefikHTTPRoute("http") + traefikRoute(mw("waf", "  plugin: {coraza: {directives: [SecRuleEngine On]}}")), want: StatusFail},
		{name: "plugin that is no WAF", check: checkWAF(), yaml: traefikRoute(mw("x", "  plugin: {rewritebody: {lastModified: true}}")), want: StatusFail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := runYAML(t, tt.check, tt.yaml)
			st, msg := statusOf(rs, "web")
			if st != tt.want {
				t.Fatalf("status %q (%s), want %q; results %+v", st, msg, tt.want, rs)
			}
			if tt.msg != "" && !strings.Contains(msg, tt.msg) {
				t.Errorf("message %q does not say %q", msg, tt.msg)
			}
		})
	}
}
