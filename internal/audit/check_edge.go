package audit

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/budnet/budnet/internal/platform"
)

// Guide sections 7 and 11.2: edge hardening. Each edge kind says it its own
// way: ingress-nginx annotations and its controller ConfigMap
// (https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/),
// Traefik Middlewares (https://doc.traefik.io/traefik/middlewares/http/overview/),
// Gateway API HTTPRoute filters (https://gateway-api.sigs.k8s.io/reference/spec/#httproutefilter).

const hstsMinAge = 31536000 // one year, the HSTS preload list's minimum

func edgeCheck(id, title string, sev Severity, remediation string, judge func(*edge, *route) Result) Check {
	return Check{
		ID: id, Title: title, Section: "7", Severity: sev, Remediation: remediation, Doc: docOf(id),
		Run: func(c *Context) []Result {
			e := newEdge(c.Inventory)
			var out []Result
			for _, r := range e.routes {
				if r.redirectOnly && id != "BUD-7-01" {
					continue
				}
				out = append(out, judge(e, r))
			}
			return out
		},
	}
}

func checkRedirect() Check {
	return edgeCheck("BUD-7-01", "HTTP is redirected to HTTPS", SeverityMedium,
		"Redirect port 80 to https: `budnet generate` emits an HTTP listener whose HTTPRoute has a RequestRedirect filter (scheme https, 301), or a Traefik redirectScheme Middleware.",
		judgeRedirect)
}

func judgeRedirect(e *edge, r *route) Result {
	subject := r.obj.Ref()
	switch r.kind {
	case edgeTraefik:
		if u := mwSpecs(r.middlewares, "redirectScheme"); len(u) > 0 && strings.EqualFold(stringIn(u[0].spec, "scheme"), "https") {
			return res(StatusPass, subject, "redirected by Middleware "+u[0].obj.Ref(), ObjectEvidence(u[0].obj, u[0].field, "scheme https"))
		}
		for ep, on := range e.epRedirect {
			if on {
				return res(StatusPass, subject, "the Traefik entry point "+ep+" redirects to https", ObjectEvidence(e.traefikArgs, "", "entryPoints."+ep+".http.redirections"))
			}
		}
		if redirectFor(e, r) {
			return res(StatusPass, subject, "an IngressRoute that only redirects to https serves these hosts on plain HTTP")
		}
	case edgeNginx:
		ann := annotationsOf(r.obj)
		cfg := nginxSetting(e, "ssl-redirect")
		switch {
		case ann["nginx.ingress.kubernetes.io/force-ssl-redirect"] == "true":
			return res(StatusPass, subject, "force-ssl-redirect is on")
		case !r.plaintext && ann["nginx.ingress.kubernetes.io/ssl-redirect"] != "false" && cfg != "false":
			// ingress-nginx redirects Ingresses with TLS to https by default (ssl-redirect: true).
			return res(StatusPass, subject, "ingress-nginx redirects Ingresses with TLS to https by default")
		}
	case edgeGateway:
		if r.redirectOnly {
			return res(StatusPass, subject, "the route redirects to https")
		}
		if redirectFor(e, r) {
			return res(StatusPass, subject, "an HTTPRoute on the HTTP listener redirects these hosts to https")
		}
	}
	if r.tlsOnly {
		return res(StatusPartial, subject, "served on TLS entry points only: plain HTTP gets no redirect (a 404), so users who type http:// never reach the site securely",
			ObjectEvidence(r.obj, r.hostsField, ""))
	}
	return res(StatusFail, subject, fmt.Sprintf("%s serves %s over HTTP without redirecting to https", subject, listing(r.hosts, 4)), ObjectEvidence(r.obj, r.hostsField, ""))
}

// redirectFor reports whether a redirect-only route of the same kind covers
// the route's hosts: for HTTPRoutes on one of its gateways; for Traefik
// IngressRoutes on any entry point, since Traefik serves every entry point
// from the same controller.
func redirectFor(e *edge, r *route) bool {
	for _, o := range e.routes {
		if o.kind != r.kind || !o.redirectOnly || o == r {
			continue
		}
		if r.kind == edgeTraefik {
			if len(r.hosts) > 0 && coversHosts(o.hosts, r.hosts) {
				return true
			}
			continue
		}
		for _, l := range o.listeners {
			for _, rl := range r.listeners {
				if l.gateway == rl.gateway && (len(o.hosts) == 0 || coversHosts(o.hosts, r.hosts)) {
					return true
				}
			}
		}
	}
	return false
}

func coversHosts(patterns, hosts []string) bool {
	for _, h := range hosts {
		ok := false
		for _, p := range patterns {
			ok = ok || hostMatches(p, h)
		}
		if !ok {
			return false
		}
	}
	return true
}

func nginxSetting(e *edge, key string) string {
	if e.nginxConfig == nil {
		return ""
	}
	return nestedString(e.nginxConfig, "data", key)
}

// headers are the response headers a route adds, lower-case names.
type headers map[string]string

func (e *edge) headersOf(r *route) (headers, []Evidence) {
	h := headers{}
	var ev []Evidence
	for _, u := range mwSpecs(r.middlewares, "headers") {
		ev = append(ev, ObjectEvidence(u.obj, u.field, ""))
		traefikHeaders(u.spec, h)
	}
	switch r.kind {
	case edgeNginx:
		ev = append(ev, e.nginxHeaders(r, h)...)
	case edgeGateway:
		for _, f := range r.filters {
			if stringIn(f, "type") != "ResponseHeaderModifier" {
				continue
			}
			for _, k := range []string{"set", "add"} {
				for _, x := range sliceIn(f, "responseHeaderModifier", k) {
					xm := asMap(x)
					h[strings.ToLower(stringIn(xm, "name"))] = stringIn(xm, "value")
				}
			}
			ev = append(ev, ObjectEvidence(r.obj, "spec.rules", "ResponseHeaderModifier"))
		}
	}
	return h, ev
}

// traefikHeaders maps the headers middleware's options onto the headers they
// send (https://doc.traefik.io/traefik/middlewares/http/headers/).
func traefikHeaders(spec map[string]any, h headers) {
	if n, _ := strconv.ParseInt(stringIn(spec, "stsSeconds"), 10, 64); n > 0 {
		h["strict-transport-security"] = "max-age=" + strconv.FormatInt(n, 10)
	}
	if stringIn(spec, "frameDeny") == "true" {
		h["x-frame-options"] = "DENY"
	}
	if v := stringIn(spec, "customFrameOptionsValue"); v != "" {
		h["x-frame-options"] = v
	}
	if stringIn(spec, "contentTypeNosniff") == "true" {
		h["x-content-type-options"] = "nosniff"
	}
	if v := stringIn(spec, "contentSecurityPolicy"); v != "" {
		h["content-security-policy"] = v
	}
	if v := stringIn(spec, "referrerPolicy"); v != "" {
		h["referrer-policy"] = v
	}
	if m, ok := nestedIn(spec, "customResponseHeaders"); ok {
		for k, v := range asMap(m) {
			if s := scalar(v); s != "" {
				h[strings.ToLower(k)] = s
			}
		}
	}
}

var (
	moreSetHeaders = regexp.MustCompile(`more_set_headers\s+["']([^:"']+):\s*([^"']*)["']`)
	addHeader      = regexp.MustCompile(`add_header\s+([A-Za-z-]+)\s+["']?([^;"']*)`)
)

// nginxHeaders: HSTS is on by default for TLS hosts (hsts, hsts-max-age);
// other headers come from the add-headers ConfigMap, or from snippets, which
// ingress-nginx ignores since 1.9 unless allow-snippet-annotations is true.
func (e *edge) nginxHeaders(r *route, h headers) []Evidence {
	var ev []Evidence
	if !r.plaintext && nginxSetting(e, "hsts") != "false" {
		age := nginxSetting(e, "hsts-max-age")
		if age == "" {
			age = strconv.Itoa(hstsMinAge)
		}
		h["strict-transport-security"] = "max-age=" + age
	}
	if ref := nginxSetting(e, "add-headers"); ref != "" {
		ns, name, _ := strings.Cut(ref, "/")
		for _, cm := range objectsOf(e.inv, groupsCore, "ConfigMap") {
			if cm.Namespace == ns && cm.Name == name {
				if d, ok := nested(cm, "data"); ok {
					for k, v := range asMap(d) {
						h[strings.ToLower(k)] = scalar(v)
					}
				}
				ev = append(ev, ObjectEvidence(cm, "data", "add-headers"))
			}
		}
	}
	snippet := annotationsOf(r.obj)["nginx.ingress.kubernetes.io/configuration-snippet"]
	if snippet != "" && nginxSetting(e, "allow-snippet-annotations") == "true" {
		for _, m := range moreSetHeaders.FindAllStringSubmatch(snippet, -1) {
			h[strings.ToLower(strings.TrimSpace(m[1]))] = strings.TrimSpace(m[2])
		}
		for _, m := range addHeader.FindAllStringSubmatch(snippet, -1) {
			h[strings.ToLower(m[1])] = strings.TrimSpace(m[2])
		}
	}
	return ev
}

func checkSecurityHeaders() Check {
	return edgeCheck("BUD-7-02", "HSTS and the other security headers are sent", SeverityMedium,
		"Send Strict-Transport-Security (max-age >= 31536000), X-Frame-Options or CSP frame-ancestors, X-Content-Type-Options nosniff, Content-Security-Policy and Referrer-Policy: `budnet generate` emits a ResponseHeaderModifier filter on every HTTPRoute (or a Traefik headers Middleware).",
		judgeHeaders)
}

func judgeHeaders(e *edge, r *route) Result {
	h, ev := e.headersOf(r)
	var missing []string
	age := int64(0)
	if v, ok := h["strict-transport-security"]; ok {
		for _, part := range strings.Split(v, ";") {
			if a, ok := strings.CutPrefix(strings.TrimSpace(strings.ToLower(part)), "max-age="); ok {
				age, _ = strconv.ParseInt(a, 10, 64)
			}
		}
	}
	if age < hstsMinAge {
		missing = append(missing, fmt.Sprintf("Strict-Transport-Security max-age >= %d", hstsMinAge))
	}
	xfo := strings.ToUpper(h["x-frame-options"])
	if xfo != "DENY" && xfo != "SAMEORIGIN" && !strings.Contains(h["content-security-policy"], "frame-ancestors") {
		missing = append(missing, "X-Frame-Options or CSP frame-ancestors")
	}
	if !strings.EqualFold(h["x-content-type-options"], "nosniff") {
		missing = append(missing, "X-Content-Type-Options: nosniff")
	}
	if h["content-security-policy"] == "" {
		missing = append(missing, "Content-Security-Policy")
	}
	if h["referrer-policy"] == "" {
		missing = append(missing, "Referrer-Policy")
	}
	subject := r.obj.Ref()
	switch {
	case len(missing) == 0:
		return res(StatusPass, subject, "sends HSTS, frame, nosniff, CSP and Referrer-Policy headers", ev...)
	case len(missing) == 5:
		return res(StatusFail, subject, "sends none of the security headers: "+strings.Join(missing, ", "), append(ev, ObjectEvidence(r.obj, "", "no security headers"))...)
	}
	return res(StatusPartial, subject, "missing "+strings.Join(missing, ", "), append(ev, ObjectEvidence(r.obj, "", "missing "+strings.Join(missing, ", ")))...)
}

func checkRateLimit() Check {
	return edgeCheck("BUD-7-03", "Requests are rate limited", SeverityMedium,
		"Limit requests per client: `budnet generate` emits a Traefik rateLimit Middleware from the model's edge.rateLimit (nginx: limit-rps); Gateway API has no standard rate-limit filter, so it is attached through an ExtensionRef.",
		func(e *edge, r *route) Result {
			subject := r.obj.Ref()
			if r.kind == edgeNginx {
				ann := annotationsOf(r.obj)
				for _, k := range []string{"limit-rps", "limit-rpm", "limit-connections", "global-rate-limit"} {
					if v := ann["nginx.ingress.kubernetes.io/"+k]; v != "" && v != "0" {
						return res(StatusPass, subject, k+" "+v, ObjectEvidence(r.obj, "metadata.annotations[nginx.ingress.kubernetes.io/"+k+"]", v))
					}
				}
			}
			for _, u := range mwSpecs(r.middlewares, "rateLimit") {
				if n, _ := strconv.ParseInt(stringIn(u.spec, "average"), 10, 64); n > 0 {
					return res(StatusPass, subject, "rate limited by Middleware "+u.obj.Ref(), ObjectEvidence(u.obj, u.field+".average", strconv.FormatInt(n, 10)))
				}
			}
			return res(StatusFail, subject, "no rate limit applies to "+subject+gatewayNote(r, "rate-limit"), ObjectEvidence(r.obj, "", "no rate limit"))
		})
}

func gatewayNote(r *route, what string) string {
	if r.kind == edgeGateway {
		return fmt.Sprintf(" (Gateway API has no standard %s filter: attach the implementation's, e.g. a Traefik Middleware through an ExtensionRef filter)", what)
	}
	return ""
}

func checkBodyLimit() Check {
	c := edgeCheck("BUD-7-04", "Request bodies are size limited", SeverityLow,
		"Limit request bodies: `budnet generate` emits a Traefik buffering Middleware (maxRequestBodyBytes) from the model's edge.maxBodySize; ingress-nginx limits to 1m unless proxy-body-size is 0.",
		judgeBodyLimit)
	// Hosts the model marks streaming get no Traefik buffering Middleware,
	// which would hold the whole response (vulcand/oxy buffer): their
	// missing limit is the model's choice, not a finding.
	c.Run = func(ctx *Context) []Result {
		e := newEdge(ctx.Inventory)
		var out []Result
		for _, r := range e.routes {
			if r.redirectOnly {
				continue
			}
			res0 := judgeBodyLimit(e, r)
			if res0.Status == StatusFail && streamingOnly(ctx.Platform, r.hosts) {
				res0 = res(StatusNotApplicable, r.obj.Ref(), "streaming host in the model (spec.edge.hosts[].streaming): a Traefik buffering Middleware would hold every response until it ends, so the backend limits request bodies")
			}
			out = append(out, res0)
		}
		return out
	}
	return c
}

// streamingOnly reports whether every host is an edge host the model
// marks streaming.
func streamingOnly(p *platform.Platform, hosts []string) bool {
	if p == nil || len(hosts) == 0 {
		return false
	}
	for _, h := range hosts {
		i := slices.IndexFunc(p.Spec.Edge.Hosts, func(eh platform.EdgeHost) bool { return eh.Name == h })
		if i < 0 || !p.Spec.Edge.Hosts[i].Streaming {
			return false
		}
	}
	return true
}

func judgeBodyLimit(e *edge, r *route) Result {
	subject := r.obj.Ref()
	if r.kind == edgeNginx {
		k := "nginx.ingress.kubernetes.io/proxy-body-size"
		v := annotationsOf(r.obj)[k]
		if v == "" {
			v = nginxSetting(e, "proxy-body-size")
		}
		if v == "0" {
			return res(StatusFail, subject, "proxy-body-size 0 disables the limit", ObjectEvidence(r.obj, "metadata.annotations["+k+"]", v))
		}
		if v == "" {
			v = "1m (the default)"
		}
		return res(StatusPass, subject, "body size limited to "+v)
	}
	for _, u := range mwSpecs(r.middlewares, "buffering") {
		if n, _ := strconv.ParseInt(stringIn(u.spec, "maxRequestBodyBytes"), 10, 64); n > 0 {
			return res(StatusPass, subject, "bodies limited by Middleware "+u.obj.Ref(), ObjectEvidence(u.obj, u.field+".maxRequestBodyBytes", strconv.FormatInt(n, 10)))
		}
	}
	return res(StatusFail, subject, "no request body limit applies to "+subject+gatewayNote(r, "body-size"), ObjectEvidence(r.obj, "", "no body limit"))
}

// wafPlugins are Traefik plugin names that embed a WAF engine with the OWASP
// core rule set (Traefik itself has none).
var wafPlugins = []string{"coraza", "modsecurity", "waf", "crowdsec"}

func checkWAF() Check {
	return edgeCheck("BUD-7-05", "A web application firewall inspects requests", SeverityMedium,
		"Put a WAF in front of the routes: ingress-nginx enable-modsecurity with enable-owasp-core-rules; Traefik has no built-in WAF, so `budnet generate` emits a Middleware for the Coraza WAF plugin with the OWASP core rule set when the model's edge.waf is on.",
		func(e *edge, r *route) Result {
			subject := r.obj.Ref()
			if r.kind == edgeNginx {
				return nginxWAF(e, r)
			}
			for _, u := range mwSpecs(r.middlewares, "plugin") {
				for name := range u.spec {
					for _, p := range wafPlugins {
						if strings.Contains(strings.ToLower(name), p) {
							return res(StatusPass, subject, "WAF plugin "+name+" in Middleware "+u.obj.Ref(), ObjectEvidence(u.obj, u.field+"."+name, ""))
						}
					}
				}
			}
			msg := "no WAF applies to " + subject
			if r.kind == edgeTraefik {
				msg += ": Traefik has no built-in WAF; only a plugin middleware (such as Coraza) counts"
			}
			return res(StatusFail, subject, msg+gatewayNote(r, "WAF"), ObjectEvidence(r.obj, "", "no WAF"))
		})
}

// nginxWAF: ModSecurity alone runs the recommended configuration in
// DetectionOnly mode; blocking needs the OWASP core rules
// (https://kubernetes.github.io/ingress-nginx/user-guide/third-party-addons/modsecurity/).
func nginxWAF(e *edge, r *route) Result {
	ann := annotationsOf(r.obj)
	on := func(k string) bool {
		return ann["nginx.ingress.kubernetes.io/"+k] == "true"
	}
	modsec := on("enable-modsecurity") || nginxSetting(e, "enable-modsecurity") == "true"
	crs := on("enable-owasp-core-rules") || nginxSetting(e, "enable-owasp-modsecurity-crs") == "true" ||
		strings.Contains(ann["nginx.ingress.kubernetes.io/modsecurity-snippet"], "owasp")
	subject := r.obj.Ref()
	switch {
	case modsec && crs:
		return res(StatusPass, subject, "ModSecurity with the OWASP core rules")
	case modsec:
		return res(StatusPartial, subject, "ModSecurity is on without the OWASP core rules: it detects nothing useful and blocks nothing", ObjectEvidence(r.obj, "metadata.annotations", "enable-modsecurity"))
	}
	return res(StatusFail, subject, "no WAF: ModSecurity is off", ObjectEvidence(r.obj, "metadata.annotations", "no enable-modsecurity"))
}
