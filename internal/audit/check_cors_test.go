package audit

import (
	"strings"
	"testing"
)

// TestCORSAttacks tries to get past BUD-7-06 with the ways to say "any
// origin": *, .*, unanchored and suffix regexes, ingress-nginx's defaults,
// the Gateway API filter, and a Middleware reached through a chain.
func TestCORSAttacks(t *testing.T) {
	cors := func(spec string) string { return mw("cors", "  headers: {"+spec+"}") }
	tests := []struct {
		name string
		yaml string
		want Status
		msg  string
	}{
		{name: "regex .* with credentials", yaml: traefikRoute(cors(`accessControlAllowOriginListRegex: [".*"], accessControlAllowCredentials: true`)), want: StatusFail},
		{name: "unanchored regex of the own domain", yaml: traefikRoute(cors(`accessControlAllowOriginListRegex: ["https://app\\.bud\\.example\\.com"], accessControlAllowCredentials: true`)), want: StatusFail, msg: "attacker"},
		{name: "suffix regex without a dot", yaml: traefikRoute(cors(`accessControlAllowOriginListRegex: ["^https://.*bud\\.example\\.com$"], accessControlAllowCredentials: true`)), want: StatusFail},
		{name: "anchored regex of subdomains", yaml: traefikRoute(cors(`accessControlAllowOriginListRegex: ["^https://[a-z]+\\.bud\\.example\\.com$"], accessControlAllowCredentials: true`)), want: StatusPass},
		{name: "credentials as the string true", yaml: traefikRoute(cors(`accessControlAllowOriginListRegex: [".*"], accessControlAllowCredentials: "true"`)), want: StatusFail},
		{name: "literal * with credentials", yaml: traefikRoute(cors(`accessControlAllowOriginList: ["*"], accessControlAllowCredentials: true`)), want: StatusPartial},
		{name: "literal * with every header", yaml: traefikRoute(cors(`accessControlAllowOriginList: ["*"], accessControlAllowHeaders: ["*"]`)), want: StatusFail, msg: "header"},
		{name: "literal * without credentials", yaml: traefikRoute(cors(`accessControlAllowOriginList: ["*"], accessControlAllowHeaders: [content-type]`)), want: StatusPass},
		{name: "through a chain", yaml: traefikRoute(mw("chain", "  chain: {middlewares: [{name: cors}]}"), cors(`accessControlAllowOriginListRegex: [".*"], accessControlAllowCredentials: true`)), want: StatusFail},
		{name: "nginx enable-cors with its defaults", yaml: nginxIngress(`nginx.ingress.kubernetes.io/enable-cors: "true"`), want: StatusFail},
		{name: "nginx with listed origins", yaml: nginxIngress(`nginx.ingress.kubernetes.io/enable-cors: "true", nginx.ingress.kubernetes.io/cors-allow-origin: "https://app.bud.example.com"`), want: StatusPass},
		{name: "Gateway API CORS filter", yaml: `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: bud-frontend}
spec:
  hostnames: [app.bud.example.com]
  rules:
    - filters: [{type: CORS, cors: {allowOrigins: ["*"], allowCredentials: true}}]
      backendRefs: [{name: web, port: 80}]`, want: StatusFail},
		{name: "no CORS", yaml: traefikRoute(), want: StatusPass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := runYAML(t, checkCORS(), tt.yaml)
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
