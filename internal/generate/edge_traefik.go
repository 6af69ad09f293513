package generate

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/budnet/budnet/internal/diag"
	"github.com/budnet/budnet/internal/platform"
)

// Traefik CRD names (https://doc.traefik.io/traefik/reference/routing-configuration/kubernetes/crd/).
const (
	apiTraefik       = "traefik.io/v1alpha1"
	kindMiddleware   = "Middleware"
	kindTLSOption    = "TLSOption"
	kindIngressRoute = "IngressRoute"

	mwRedirect  = "budnet-redirect-https"
	mwHeaders   = "budnet-security-headers"
	mwRateLimit = "budnet-rate-limit"
	mwBuffering = "budnet-request-size"
	mwAdmin     = "budnet-admin-allowlist"
	mwWAF       = "budnet-waf"
	tlsOption   = "budnet-tls"

	// The Coraza WAF plugin: Traefik has no WAF of its own, and a plugin
	// Middleware (spec.plugin.<name>) only works when Traefik's static
	// configuration loads the plugin under the same name
	// (https://doc.traefik.io/traefik/reference/install-configuration/experimental/plugins/),
	// which no Kubernetes object can set.
	corazaPlugin        = "coraza"
	corazaModule        = "github.com/jcchavezs/coraza-http-wasm-traefik"
	corazaVersion       = "v0.2.2"
	traefikPluginNeeded = "Traefik static configuration: experimental.plugins." + corazaPlugin +
		".moduleName=" + corazaModule + " and .version=" + corazaVersion

	traefikWeb       = "web"
	traefikWebsecure = "websecure"
)

// AnnotationRequires names what an object needs outside Kubernetes to take
// effect, such as the Traefik static configuration that loads a plugin.
const AnnotationRequires = "budnet.io/requires"

// traefikVersions maps the model's minimum TLS version to Traefik's names.
var traefikVersions = map[string]string{"1.2": "VersionTLS12", "1.3": "VersionTLS13"}

// traefikEdge is the Traefik form of the edge: in every backend zone the
// Middlewares and a TLSOption (plus the TLSOption named default, for clients
// without a known SNI), and per host an IngressRoute on the web entry
// point that only redirects and one on websecure with the TLS Secret, the
// TLSOption and the middlewares (the Coraza WAF among them when the model's
// edge.waf is on). IngressRoutes reference Services and
// Middlewares in their own namespace, so each zone gets its own set.
func traefikEdge(p *platform.Platform, hosts []edgeHost) ([]*unstructured.Unstructured, error) {
	mws, err := traefikMiddlewares(p, hosts, true)
	if err != nil {
		return nil, err
	}
	objs := slices.Clone(mws)
	for _, z := range hostZones(hosts) {
		objs = append(objs, traefikTLSOption(p, z))
	}
	// Traefik chooses TLS options by the SNI a client sends; a client that
	// sends none or an unknown name gets the TLSOption named default (one
	// in the whole cluster), not budnet-tls, so without it sniStrict and
	// the version floor do not apply to them (a handshake without SNI
	// succeeded in TestTraefikEnforcesGeneratedEdge). It lives with the
	// controller, as on the gateway-api edge.
	gw, err := edgeWorkload(p)
	if err != nil {
		return nil, err
	}
	def := traefikTLSOption(p, gw.Zone)
	def.SetName("default")
	objs = append(objs, def)
	for _, h := range hosts {
		objs = append(objs, traefikRoutes(p, h)...)
	}
	return objs, nil
}

// traefikMiddlewares are the zones' Middlewares; the admin allowlist only
// in zones with admin hosts. Routes from the Gateway API get only the
// limits and the allowlist: their redirect and headers are standard
// filters. The allowlist sees the client's address only when the load
// balancer preserves it (externalTrafficPolicy: Local or PROXY protocol).
func traefikMiddlewares(p *platform.Platform, hosts []edgeHost, redirectAndHeaders bool) ([]*unstructured.Unstructured, error) {
	rps, burst := rateLimit(p)
	_, body, err := maxBody(p)
	if err != nil {
		return nil, err
	}
	var objs []*unstructured.Unstructured
	for _, z := range hostZones(hosts) {
		mw := func(name, guide string, spec map[string]any) {
			objs = append(objs, Object(apiTraefik, kindMiddleware, z, name, "spec.edge", guide, map[string]any{"spec": spec}))
		}
		if redirectAndHeaders {
			mw(mwRedirect, "6.2 HTTP to HTTPS redirect", map[string]any{
				"redirectScheme": map[string]any{"scheme": "https", "permanent": true}})
			mw(mwHeaders, "6.2 security headers", traefikHeaders(p))
		}
		mw(mwRateLimit, "11.3 rate limiting per client address", map[string]any{
			"rateLimit": map[string]any{"average": rps, "burst": burst, "period": "1s"}})
		if slices.ContainsFunc(hosts, func(h edgeHost) bool { return !h.Streaming && h.backend.Zone == z }) {
			mw(mwBuffering, "11.3 request size limit", map[string]any{
				"buffering": map[string]any{"maxRequestBodyBytes": body}})
		}
		if wafEnabled(p) {
			waf, err := traefikWAF(p, z, body)
			if err != nil {
				return nil, err
			}
			objs = append(objs, waf)
		}
		if slices.ContainsFunc(hosts, func(h edgeHost) bool { return h.Admin && h.backend.Zone == z }) {
			cidrs, err := adminCIDRs(p)
			if err != nil {
				return nil, err
			}
			mw(mwAdmin, "11.3 IP allowlisting for admin access", map[string]any{
				"ipAllowList": map[string]any{"sourceRange": toAny(cidrs)}})
		}
	}
	return objs, nil
}

// traefikWAF is the Coraza plugin Middleware with the OWASP Core Rule Set
// the plugin embeds. Plugin v0.2.2 ships coraza-http-wasm v0.2.2, whose
// go.mod pins coraza/v3 v3.1.0 and coraza-coreruleset/v4 v4.0.0 and whose
// main.go sets coreruleset.FS as the WAF's root FS: the names an Include can
// open are that module's rules/ directory, @coraza.conf-recommended,
// @crs-setup.conf.example and @owasp_crs/. (@recommended-conf and
// @crs-setup-conf are coraza-proxy-wasm's names; with them Coraza fails
// "open @recommended-conf: file does not exist", the plugin exits at init
// and every route using it stops.) Directives are a list, as in the
// plugin's README; after the recommended configuration:
//   - SecRuleEngine On: the recommended configuration only detects;
//   - the request body limit is the model's (the recommended 12.5 MiB would
//     answer 413 below or above the edge's own limit), within what Coraza
//     accepts: at most 1 GiB, and an in-memory limit not above it;
//   - CRS rule 900200 (commented out in crs-setup.conf.example) allows the
//     REST verbs the services' APIs use: CRS's default allowed_methods is
//     GET HEAD POST OPTIONS, and rule 911100 would refuse every PUT, PATCH
//     and DELETE.
//
// Proven by TestCorazaLoadsGeneratedWAF (hack/coraza-check).
func traefikWAF(p *platform.Platform, zone string, body int64) (*unstructured.Unstructured, error) {
	// Coraza v3.1.0 refuses a body that reaches its limit (transaction.go
	// ReadRequestBodyFrom: length == RequestBodyLimit is an interruption),
	// Traefik's buffering one that exceeds it: one byte more makes them agree.
	limit := body + 1
	if limit > corazaMaxBody {
		return nil, &diag.InputError{File: p.Source.File, Field: "spec.edge.maxBodySize",
			Msg: fmt.Sprintf("%d bytes is above the %d the Coraza WAF can inspect (SecRequestBodyLimit); lower it or set spec.edge.waf: false", body, corazaMaxBody-1)}
	}
	directives := []any{
		"Include @coraza.conf-recommended",
		"SecRuleEngine On",
		fmt.Sprintf("SecRequestBodyLimit %d", limit),
	}
	if limit < corazaInMemoryBody {
		directives = append(directives, fmt.Sprintf("SecRequestBodyInMemoryLimit %d", limit))
	}
	directives = append(directives,
		"Include @crs-setup.conf.example",
		`SecAction "id:900200,phase:1,pass,t:none,nolog,setvar:'tx.allowed_methods=`+corazaAllowedMethods+`'"`,
		"Include @owasp_crs/*.conf",
	)
	u := Object(apiTraefik, kindMiddleware, zone, mwWAF, "spec.edge.waf",
		"11.3 web application firewall (Coraza with the OWASP Core Rule Set)",
		map[string]any{"spec": map[string]any{"plugin": map[string]any{corazaPlugin: map[string]any{
			"directives": directives,
		}}}})
	ann := u.GetAnnotations()
	ann[AnnotationRequires] = traefikPluginNeeded
	u.SetAnnotations(ann)
	return u, nil
}

// Coraza v3.1.0 limits (internal/corazawaf/waf.go Validate: the body limit
// at most 1 GiB and not below the in-memory limit, which
// coraza.conf-recommended sets to 128 KiB) and the methods the WAF lets
// through.
const (
	corazaMaxBody        = 1 << 30
	corazaInMemoryBody   = 128 << 10
	corazaAllowedMethods = "GET HEAD POST PUT PATCH DELETE OPTIONS"
)

// edgeMiddlewares are the Middlewares a host's HTTPS route runs, in order:
// the admin allowlist first so refused clients cost nothing else, then the
// WAF before the limits so that a blocked request is not buffered.
//
// Streaming hosts get no request-size Middleware: Traefik's buffering
// Middleware is vulcand/oxy's buffer, which reads the whole response into
// a buffer before sending any of it (oxy v2.1.0 buffer/buffer.go; Traefik
// v3.7 pkg/middlewares/buffering), so server-sent events would arrive only
// when the stream ends (traefik/traefik#12869). Its disableResponseBuffer
// switch is "only configurable via code" (pkg/config/dynamic
// middlewares.go) and the CRD has no such field. The request size of a
// streaming host is then limited only by its backend (and by the WAF's
// SecRequestBodyLimit where the WAF runs).
func edgeMiddlewares(p *platform.Platform, h edgeHost, headers bool) []string {
	var names []string
	if h.Admin {
		names = append(names, mwAdmin)
	}
	if wafEnabled(p) {
		names = append(names, mwWAF)
	}
	if headers {
		names = append(names, mwHeaders)
	}
	names = append(names, mwRateLimit)
	if !h.Streaming {
		names = append(names, mwBuffering)
	}
	return names
}

// traefikHeaders is the headers middleware with the security headers in
// Traefik's own fields (https://doc.traefik.io/traefik/middlewares/http/headers/).
func traefikHeaders(p *platform.Platform) map[string]any {
	return map[string]any{"headers": map[string]any{
		"stsSeconds":            int64(hstsMaxAge),
		"stsIncludeSubdomains":  true,
		"forceSTSHeader":        true,
		"frameDeny":             true,
		"contentTypeNosniff":    true,
		"contentSecurityPolicy": contentSecurityPolicy(p),
		"referrerPolicy":        referrerPolicy,
	}}
}

// traefikTLSOption sets the minimum TLS version and, for TLS 1.2, only the
// AEAD suites with forward secrecy (TLS 1.3 suites are not configurable in
// Go); sniStrict refuses clients that send no known host name.
func traefikTLSOption(p *platform.Platform, zone string) *unstructured.Unstructured {
	spec := map[string]any{"minVersion": traefikVersions[tlsMin(p)], "sniStrict": true}
	if tlsMin(p) == "1.2" {
		spec["cipherSuites"] = []any{
			"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
			"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
			"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
		}
	}
	return Object(apiTraefik, kindTLSOption, zone, tlsOption, "spec.tls.minVersion",
		"11.1 TLS "+tlsMin(p)+" or later at the edge", map[string]any{"spec": spec})
}

// traefikRoutes are a host's two IngressRoutes.
func traefikRoutes(p *platform.Platform, h edgeHost) []*unstructured.Unstructured {
	match := traefikMatch(h)
	service := []any{map[string]any{"name": h.backend.Service, "port": int64(h.port)}}
	var mws []any
	for _, n := range edgeMiddlewares(p, h, true) {
		mws = append(mws, map[string]any{"name": n})
	}
	redirect := Object(apiTraefik, kindIngressRoute, h.backend.Zone, objectName(h.Name, "http"), h.row,
		"6.2 HTTP to HTTPS redirect for "+h.Name,
		map[string]any{"spec": map[string]any{
			"entryPoints": []any{traefikWeb},
			"routes": []any{map[string]any{"match": match, "kind": "Rule", "services": service,
				"middlewares": []any{map[string]any{"name": mwRedirect}}}},
		}})
	secure := Object(apiTraefik, kindIngressRoute, h.backend.Zone, objectName(h.Name), h.row,
		"6.2 hardened HTTPS route for "+h.Name,
		map[string]any{"spec": map[string]any{
			"entryPoints": []any{traefikWebsecure},
			"routes":      []any{map[string]any{"match": match, "kind": "Rule", "services": service, "middlewares": mws}},
			"tls":         map[string]any{"secretName": h.secret, "options": map[string]any{"name": tlsOption}},
		}})
	return []*unstructured.Unstructured{redirect, secure}
}

// traefikMatch is the host's router rule. Traefik's PathPrefix is a string
// prefix, so each routed path is matched as itself or followed by a slash,
// the element-wise meaning the model's paths have (/realms must not match
// /realmsx). Paths are validated to hold no backtick.
func traefikMatch(h edgeHost) string {
	host := fmt.Sprintf("Host(`%s`)", h.Name)
	if len(h.Paths) == 0 {
		return host
	}
	var alts []string
	for _, p := range h.Paths {
		alts = append(alts, fmt.Sprintf("Path(`%s`) || PathPrefix(`%s/`)", p, p))
	}
	return host + " && (" + strings.Join(alts, " || ") + ")"
}
