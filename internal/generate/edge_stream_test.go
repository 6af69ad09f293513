package generate_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/budnet/budnet/internal/platform"
)

// routeMiddlewares lists the Traefik Middlewares a host's HTTPS route runs,
// from an IngressRoute's routes or an HTTPRoute's ExtensionRef filters.
func routeMiddlewares(t *testing.T, u *unstructured.Unstructured) []string {
	t.Helper()
	var out []string
	sp, _ := u.Object["spec"].(map[string]any)
	for _, r := range asSlice(sp["routes"]) {
		for _, m := range asSlice(r.(map[string]any)["middlewares"]) {
			out = append(out, m.(map[string]any)["name"].(string))
		}
	}
	for _, r := range asSlice(sp["rules"]) {
		for _, f := range asSlice(r.(map[string]any)["filters"]) {
			if ref, ok := f.(map[string]any)["extensionRef"].(map[string]any); ok {
				out = append(out, ref["name"].(string))
			}
		}
	}
	return out
}

// hostRule is the Host matcher of a Traefik rule, which may be followed by path matchers.
var hostRule = regexp.MustCompile("^Host\\(`([^`]+)`\\)")

// routeHost is the one host an IngressRoute matches or an HTTPRoute names.
func routeHost(u *unstructured.Unstructured) string {
	sp, _ := u.Object["spec"].(map[string]any)
	if hs := asSlice(sp["hostnames"]); len(hs) == 1 {
		return fmt.Sprint(hs[0])
	}
	if rs := asSlice(sp["routes"]); len(rs) == 1 {
		m := fmt.Sprint(rs[0].(map[string]any)["match"])
		if h := hostRule.FindStringSubmatch(m); h != nil {
			return h[1]
		}
	}
	return ""
}

// TestStreamingHostsUnbuffered: the Bud model names the inference host as
// streaming, and its route runs no buffering Middleware (Traefik's buffers
// the whole response, so server-sent events would stall until the stream
// ends), while every other host keeps the request-size limit. On nginx the
// streaming host keeps proxy-body-size (a request limit only) and turns
// response buffering off explicitly.
func TestStreamingHostsUnbuffered(t *testing.T) {
	p := loadModel(t, "")
	var streaming []string
	for _, h := range p.Spec.Edge.Hosts {
		if h.Streaming {
			streaming = append(streaming, h.Name)
		}
	}
	if !slices.Contains(streaming, "inference.bud.example.com") {
		t.Fatalf("streaming hosts %v, want the inference API among them", streaming)
	}
	tests := []struct {
		name string
		edge platform.EdgeKind
		kind string
	}{
		{name: "traefik", edge: platform.EdgeTraefik, kind: "IngressRoute"},
		{name: "gateway-api", edge: platform.EdgeGatewayAPI, kind: "HTTPRoute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := edgeObjects(t, p, tt.edge)
			seen := 0
			for _, h := range p.Spec.Edge.Hosts {
				var route *unstructured.Unstructured
				for _, u := range byKind(objs, tt.kind) {
					if routeHost(u) == h.Name && !strings.HasSuffix(u.GetName(), "-http") && u.GetName() != "budnet-https-redirect" {
						route = u
					}
				}
				if route == nil {
					t.Fatalf("no %s for %s", tt.kind, h.Name)
				}
				seen++
				mws := routeMiddlewares(t, route)
				if !slices.Contains(mws, "budnet-rate-limit") {
					t.Errorf("%s: middlewares %v lack the rate limit", h.Name, mws)
				}
				if buffered := slices.Contains(mws, "budnet-request-size"); buffered == h.Streaming {
					t.Errorf("%s (streaming %v): middlewares %v", h.Name, h.Streaming, mws)
				}
			}
			if seen != len(p.Spec.Edge.Hosts) {
				t.Errorf("checked %d of %d hosts", seen, len(p.Spec.Edge.Hosts))
			}
		})
	}
	t.Run("nginx", func(t *testing.T) {
		for _, ing := range byKind(edgeObjects(t, p, platform.EdgeNginx), "Ingress") {
			a := ing.GetAnnotations()
			host := fmt.Sprint(asSlice(spec(t, ing, "spec", "rules"))[0].(map[string]any)["host"])
			off := a["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
			if off != slices.Contains(streaming, host) {
				t.Errorf("%s: proxy-buffering %q", host, a["nginx.ingress.kubernetes.io/proxy-buffering"])
			}
			if a["nginx.ingress.kubernetes.io/proxy-body-size"] == "" {
				t.Errorf("%s: no request size limit", host)
			}
		}
	})
}

// cspOf reads the Content-Security-Policy however an edge spells it.
func cspOf(t *testing.T, objs []*unstructured.Unstructured, edge platform.EdgeKind) []string {
	t.Helper()
	var out []string
	switch edge {
	case platform.EdgeTraefik:
		for _, mw := range byKind(objs, "Middleware") {
			if mw.GetName() == "budnet-security-headers" {
				out = append(out, fmt.Sprint(spec(t, mw, "spec", "headers", "contentSecurityPolicy")))
			}
		}
	case platform.EdgeNginx:
		out = append(out, fmt.Sprint(spec(t, find(objs, "ConfigMap", "bud-infra", "budnet-security-headers"), "data", "Content-Security-Policy")))
	default:
		for _, r := range byKind(objs, "HTTPRoute") {
			for _, rule := range asSlice(spec(t, r, "spec", "rules")) {
				for _, f := range asSlice(rule.(map[string]any)["filters"]) {
					m, _ := f.(map[string]any)["responseHeaderModifier"].(map[string]any)
					for _, s := range asSlice(m["set"]) {
						if kv := s.(map[string]any); kv["name"] == "Content-Security-Policy" {
							out = append(out, fmt.Sprint(kv["value"]))
						}
					}
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no Content-Security-Policy", edge)
	}
	return out
}

// TestCSPConnectSrc: every edge's CSP has a connect-src naming 'self' and
// each origin the model's hosts say their pages call, the WebSocket one
// with its wss scheme; without it connect-src falls back to default-src
// 'self' and the browser refuses the web apps' API calls.
func TestCSPConnectSrc(t *testing.T) {
	p := loadModel(t, "")
	var want []string
	for _, h := range p.Spec.Edge.Hosts {
		want = append(want, h.Calls...)
	}
	if !slices.ContainsFunc(want, func(s string) bool { return strings.HasPrefix(s, "wss://") }) {
		t.Fatalf("the Bud model's calls %v name no WebSocket origin", want)
	}
	for _, edge := range []platform.EdgeKind{platform.EdgeGatewayAPI, platform.EdgeTraefik, platform.EdgeNginx} {
		t.Run(string(edge), func(t *testing.T) {
			for _, csp := range cspOf(t, edgeObjects(t, p, edge), edge) {
				var connect []string
				for _, d := range strings.Split(csp, ";") {
					if f := strings.Fields(d); len(f) > 0 && f[0] == "connect-src" {
						connect = f[1:]
					}
				}
				if !slices.Contains(connect, "'self'") {
					t.Errorf("CSP %q: connect-src %v lacks 'self'", csp, connect)
				}
				for _, o := range want {
					if !slices.Contains(connect, o) {
						t.Errorf("CSP %q: connect-src lacks %s", csp, o)
					}
				}
			}
		})
	}
	// A model whose hosts call nothing keeps the same-origin policy.
	p.Spec.Edge.Hosts = slices.Clone(p.Spec.Edge.Hosts)
	for i := range p.Spec.Edge.Hosts {
		p.Spec.Edge.Hosts[i].Calls = nil
	}
	for _, csp := range cspOf(t, edgeObjects(t, p, platform.EdgeGatewayAPI), platform.EdgeGatewayAPI) {
		if strings.Contains(csp, "connect-src") {
			t.Errorf("no calls, CSP %q", csp)
		}
	}
}

// nginxAnnotationRisk is the risk level ingress-nginx gives each annotation
// generate writes (internal/ingress/annotations/<group>/main.go, Risk
// field): the controller refuses an Ingress whose annotations are riskier
// than annotations-risk-level, whose default is High.
var nginxAnnotationRisk = map[string]string{
	"ssl-redirect":            "Low",
	"force-ssl-redirect":      "Medium",
	"limit-rps":               "Low",
	"limit-burst-multiplier":  "Low",
	"limit-connections":       "Low",
	"proxy-body-size":         "Low",
	"proxy-buffering":         "Low",
	"enable-modsecurity":      "Low",
	"enable-owasp-core-rules": "Low",
	"whitelist-source-range":  "Medium",
}

// TestNginxRiskLevel: the controller ConfigMap leaves annotations-risk-level
// at or below the upstream default High, and no generated annotation needs
// more. Raising it to Critical would let any Ingress author use the
// snippet annotations of CVE-2025-1974.
func TestNginxRiskLevel(t *testing.T) {
	objs := edgeObjects(t, loadModel(t, ""), platform.EdgeNginx)
	data := spec(t, find(objs, "ConfigMap", "bud-infra", "ingress-nginx-controller"), "data").(map[string]any)
	if lvl, set := data["annotations-risk-level"]; set && lvl != "High" && lvl != "Medium" && lvl != "Low" {
		t.Errorf("annotations-risk-level %v, above the upstream default High", lvl)
	}
	for _, ing := range byKind(objs, "Ingress") {
		for k := range ing.GetAnnotations() {
			name, ok := strings.CutPrefix(k, "nginx.ingress.kubernetes.io/")
			if !ok {
				continue
			}
			risk, known := nginxAnnotationRisk[name]
			if !known {
				t.Errorf("%s: annotation %s has no known risk level; look it up in ingress-nginx and add it", ing.GetName(), name)
			} else if risk == "Critical" {
				t.Errorf("%s: %s is Critical", ing.GetName(), name)
			}
		}
	}
}
