package generate

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/budnet/budnet/internal/platform"
)

// The nginx edge is what the guide describes. The community ingress-nginx
// controller was retired in March 2026 and gets no more security fixes:
// prefer --edge gateway-api or traefik. Since ingress-nginx 1.9 snippet
// annotations are off by default (allow-snippet-annotations false), so the
// security headers go through the controller ConfigMap's add-headers, which
// names a ConfigMap of headers, never through configuration-snippet
// (https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/configmap/).
// annotations-risk-level is left at the controller's default (High): the
// annotations generated here are Low (enable-modsecurity,
// enable-owasp-core-rules, ssl-redirect, limits, proxy-body-size,
// proxy-buffering) or Medium (whitelist-source-range) in ingress-nginx's
// internal/ingress/annotations/*/main.go, and raising the level to Critical
// would let every Ingress author use the snippet annotations behind
// CVE-2025-1974 (IngressNightmare).
const (
	nginxAnn             = "nginx.ingress.kubernetes.io/"
	nginxControllerCM    = "ingress-nginx-controller"
	nginxHeadersCM       = "budnet-security-headers"
	nginxConnectionLimit = 20
)

// nginxProtocols maps the minimum TLS version to ssl-protocols.
var nginxProtocols = map[string]string{"1.2": "TLSv1.2 TLSv1.3", "1.3": "TLSv1.3"}

// nginxEdge is the controller ConfigMap, the headers ConfigMap it names,
// and per host an Ingress with the limits, redirect, WAF and, for admin
// hosts, the source allowlist as annotations.
func nginxEdge(p *platform.Platform, hosts []edgeHost) ([]*unstructured.Unstructured, error) {
	ctl, err := edgeWorkload(p)
	if err != nil {
		return nil, err
	}
	headers := map[string]any{}
	for _, hv := range securityHeaders(p) {
		// HSTS comes from the controller's own hsts settings, which only
		// send it over HTTPS as RFC 6797 requires.
		if hv[0] != "Strict-Transport-Security" {
			headers[hv[0]] = hv[1]
		}
	}
	waf := fmt.Sprint(wafEnabled(p))
	controller := map[string]any{
		"ssl-protocols":                 nginxProtocols[tlsMin(p)],
		"hsts":                          "true",
		"hsts-max-age":                  fmt.Sprint(hstsMaxAge),
		"hsts-include-subdomains":       "true",
		"ssl-redirect":                  "true",
		"add-headers":                   ctl.Zone + "/" + nginxHeadersCM,
		"allow-snippet-annotations":     "false",
		"enable-modsecurity":            waf,
		"enable-owasp-modsecurity-crs":  waf,
		"server-tokens":                 "false",
		"use-forwarded-headers":         "false",
		"compute-full-forwarded-for":    "false",
		"strict-validate-path-type":     "true",
		"enable-underscores-in-headers": "false",
	}
	objs := []*unstructured.Unstructured{
		Object("v1", "ConfigMap", ctl.Zone, nginxHeadersCM, "spec.edge", "6.2 security headers (add-headers)",
			map[string]any{"data": headers}),
		Object("v1", "ConfigMap", ctl.Zone, nginxControllerCM, "spec.tls.minVersion",
			"6.2 TLS, HSTS and WAF settings of the ingress-nginx controller (retired March 2026)",
			map[string]any{"data": controller}),
	}
	for _, h := range hosts {
		ing, err := nginxIngress(p, h)
		if err != nil {
			return nil, err
		}
		objs = append(objs, ing)
	}
	return objs, nil
}

// nginxIngress is a host's Ingress (https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/).
func nginxIngress(p *platform.Platform, h edgeHost) (*unstructured.Unstructured, error) {
	rps, _ := rateLimit(p)
	rlBurst := rateLimitBurstMultiplier(p)
	body, _, err := maxBody(p)
	if err != nil {
		return nil, err
	}
	waf := fmt.Sprint(wafEnabled(p))
	ann := map[string]string{
		nginxAnn + "ssl-redirect":            "true",
		nginxAnn + "force-ssl-redirect":      "true",
		nginxAnn + "limit-rps":               fmt.Sprint(rps),
		nginxAnn + "limit-burst-multiplier":  fmt.Sprint(rlBurst),
		nginxAnn + "limit-connections":       fmt.Sprint(nginxConnectionLimit),
		nginxAnn + "proxy-body-size":         body,
		nginxAnn + "enable-modsecurity":      waf,
		nginxAnn + "enable-owasp-core-rules": waf,
	}
	if h.Streaming {
		// Responses reach the client as the backend writes them; the
		// request body is still limited by proxy-body-size (nginx's
		// client_max_body_size buffers nothing of the response).
		ann[nginxAnn+"proxy-buffering"] = "off"
	}
	if h.Admin {
		cidrs, err := adminCIDRs(p)
		if err != nil {
			return nil, err
		}
		ann[nginxAnn+"whitelist-source-range"] = strings.Join(cidrs, ",")
	}
	u := Object("networking.k8s.io/v1", "Ingress", h.backend.Zone, objectName(h.Name), h.row,
		"6.2 hardened HTTPS ingress for "+h.Name,
		map[string]any{"spec": map[string]any{
			"ingressClassName": edgeClass(p, platform.EdgeNginx),
			"tls":              []any{map[string]any{"hosts": []any{h.Name}, "secretName": h.secret}},
			"rules":            []any{map[string]any{"host": h.Name, "http": map[string]any{"paths": nginxPaths(h)}}},
		}})
	all := u.GetAnnotations()
	for k, v := range ann {
		all[k] = v
	}
	u.SetAnnotations(all)
	return u, nil
}

// rateLimitBurstMultiplier expresses the model's burst as ingress-nginx's
// multiple of the rate (at least 1).
func rateLimitBurstMultiplier(p *platform.Platform) int64 {
	rps, burst := rateLimit(p)
	if rps <= 0 {
		return 1
	}
	return max(1, (burst+rps-1)/rps)
}

// nginxPaths routes each routed path prefix to the host's backend; an
// Ingress Prefix path matches element by element, as the model's paths mean.
func nginxPaths(h edgeHost) []any {
	var out []any
	for _, p := range h.RoutedPaths() {
		out = append(out, map[string]any{
			"path": p, "pathType": "Prefix",
			"backend": map[string]any{"service": map[string]any{"name": h.backend.Service, "port": map[string]any{"number": int64(h.port)}}},
		})
	}
	return out
}
