package audit

import (
	"slices"
	"strconv"
	"strings"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
)

// The edge as the checks of sections 4.1, 6 and 7 see it: every route
// (Ingress, Traefik IngressRoute, Gateway API HTTPRoute) with its hosts, TLS,
// and the Traefik middlewares that apply to it.

type edgeKind string

const (
	edgeNginx   edgeKind = "nginx"
	edgeTraefik edgeKind = "traefik"
	edgeGateway edgeKind = "gateway-api"
	edgeOther   edgeKind = "ingress"
)

type route struct {
	obj  *manifest.Object
	kind edgeKind
	// hosts are the host names served; hostsField locates them.
	hosts      []string
	hostsField string
	// plaintext is true when the route is served without TLS for some host;
	// tlsOnly when it is bound only to TLS listeners or entry points.
	plaintext, tlsOnly bool
	// secrets are the TLS secrets the route presents, as namespace/name, with their field.
	secrets []secretUse
	// middlewares are the Traefik Middlewares that apply, chains expanded,
	// entry-point middlewares included.
	middlewares []*manifest.Object
	// filters are the Gateway API filters of every rule.
	filters []map[string]any
	// redirectOnly is true for an HTTPRoute whose every rule redirects to
	// https, or an IngressRoute whose every route does.
	redirectOnly bool
	// gateway listeners the route is attached to.
	listeners []listener
}

type secretUse struct {
	namespace, name, field string
}

type listener struct {
	gateway  *manifest.Object
	index    int
	name     string
	protocol string
	hostname string
}

// edge is the parsed edge of an inventory.
type edge struct {
	inv    *manifest.Inventory
	routes []*route
	// traefik entry-point settings from the controller's arguments.
	epMiddlewares map[string][]string // entry point -> "ns-name@kubernetescrd"
	epRedirect    map[string]bool     // entry point redirected to https
	epTLS         map[string]bool
	traefikArgs   *manifest.Object
	nginxConfig   *manifest.Object // the ingress-nginx controller ConfigMap
}

func newEdge(inv *manifest.Inventory) *edge {
	e := &edge{inv: inv, epMiddlewares: map[string][]string{}, epRedirect: map[string]bool{}, epTLS: map[string]bool{}}
	e.controllers()
	for _, o := range objectsOf(inv, groupsNetworking, "Ingress") {
		e.routes = append(e.routes, e.ingress(o))
	}
	for _, o := range objectsOf(inv, groupsTraefik, "IngressRoute") {
		e.routes = append(e.routes, e.ingressRoute(o))
	}
	for _, o := range objectsOf(inv, groupsGateway, "HTTPRoute") {
		e.routes = append(e.routes, e.httpRoute(o))
	}
	return e
}

// controllers reads the Traefik and ingress-nginx controllers' arguments:
// entry-point middlewares, redirections and TLS
// (https://doc.traefik.io/traefik/routing/entrypoints/), and the nginx
// controller's --configmap.
func (e *edge) controllers() {
	var nginxCM string
	for _, w := range e.inv.Workloads {
		for _, ct := range w.PodSpec.Containers {
			img := strings.ToLower(ct.Image)
			args := append(slices.Clone(ct.Command), ct.Args...)
			switch {
			case strings.Contains(img, "traefik"):
				e.traefikArgs = w.Object
				for _, a := range args {
					e.traefikArg(a)
				}
			case strings.Contains(img, "ingress-nginx") || strings.Contains(img, "nginx-ingress-controller"):
				for _, a := range args {
					if v, ok := strings.CutPrefix(a, "--configmap="); ok {
						nginxCM = v
					}
				}
			}
		}
	}
	for _, o := range objectsOf(e.inv, groupsCore, "ConfigMap") {
		ref := o.Namespace + "/" + o.Name
		if ref == nginxCM || (nginxCM == "" && (o.Name == "ingress-nginx-controller" || o.Name == "nginx-configuration")) {
			e.nginxConfig = o
		}
	}
}

func (e *edge) traefikArg(a string) {
	k, v, ok := strings.Cut(strings.TrimLeft(a, "-"), "=")
	if !ok {
		v = "true"
	}
	parts := strings.Split(k, ".")
	if len(parts) < 3 || !strings.EqualFold(parts[0], "entrypoints") {
		return
	}
	ep, rest := parts[1], strings.ToLower(strings.Join(parts[2:], "."))
	switch {
	case rest == "http.middlewares":
		e.epMiddlewares[ep] = append(e.epMiddlewares[ep], splitList(v)...)
	case rest == "http.redirections.entrypoint.to":
		e.epRedirect[ep] = true
	case rest == "http.redirections.entrypoint.scheme":
		e.epRedirect[ep] = strings.EqualFold(v, "https")
	case rest == "http.tls" || strings.HasPrefix(rest, "http.tls."):
		e.epTLS[ep] = v != "false"
	}
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func ingressClass(o *manifest.Object) string {
	if c := nestedString(o, "spec", "ingressClassName"); c != "" {
		return c
	}
	return annotationsOf(o)["kubernetes.io/ingress.class"]
}

func (e *edge) ingress(o *manifest.Object) *route {
	r := &route{obj: o, kind: edgeOther, hostsField: "spec.rules"}
	class := strings.ToLower(ingressClass(o))
	ann := annotationsOf(o)
	switch {
	case strings.Contains(class, "nginx") || hasPrefixKey(ann, "nginx.ingress.kubernetes.io/"):
		r.kind = edgeNginx
	case strings.Contains(class, "traefik") || hasPrefixKey(ann, "traefik.ingress.kubernetes.io/"):
		r.kind = edgeTraefik
	}
	covered := map[string]bool{}
	wildcard := false
	for i, t := range nestedSlice(o, "spec", "tls") {
		tm := asMap(t)
		hs := stringsIn(tm, "hosts")
		if len(hs) == 0 {
			wildcard = true
		}
		for _, h := range hs {
			covered[strings.ToLower(h)] = true
		}
		if s := stringIn(tm, "secretName"); s != "" {
			r.secrets = append(r.secrets, secretUse{o.Namespace, s, "spec.tls[" + itoa(i) + "].secretName"})
		}
	}
	for _, rule := range nestedSlice(o, "spec", "rules") {
		h := strings.ToLower(stringIn(asMap(rule), "host"))
		r.hosts = append(r.hosts, h)
		if !wildcard && !covered[h] {
			r.plaintext = true
		}
	}
	if len(nestedSlice(o, "spec", "tls")) == 0 {
		r.plaintext = true
	}
	if r.kind == edgeTraefik {
		eps := splitList(ann["traefik.ingress.kubernetes.io/router.entrypoints"])
		r.middlewares = e.entryPointMiddlewares(eps)
		for _, ref := range splitList(ann["traefik.ingress.kubernetes.io/router.middlewares"]) {
			r.middlewares = append(r.middlewares, e.middlewareByRef(ref, 0)...)
		}
		if len(eps) > 0 && !r.plaintext {
			r.tlsOnly = true
		}
		if ann["traefik.ingress.kubernetes.io/router.tls"] == "true" && len(eps) > 0 && e.allTLS(eps) {
			r.plaintext, r.tlsOnly = false, true
		}
	}
	return r
}

func (e *edge) allTLS(eps []string) bool {
	for _, ep := range eps {
		if !e.epTLS[ep] {
			return false
		}
	}
	return len(eps) > 0
}

func hasPrefixKey(m map[string]string, prefix string) bool {
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

func itoa(i int) string { return strconv.Itoa(i) }

// entryPointMiddlewares are the middlewares the controller attaches to the
// entry points (all of them when eps is empty: routers listen on every
// entry point by default).
func (e *edge) entryPointMiddlewares(eps []string) []*manifest.Object {
	var out []*manifest.Object
	for ep, refs := range e.epMiddlewares {
		if len(eps) > 0 && !slices.Contains(eps, ep) {
			continue
		}
		for _, ref := range refs {
			out = append(out, e.middlewareByRef(ref, 0)...)
		}
	}
	return out
}

// middlewareByRef resolves "<namespace>-<name>@kubernetescrd", the form
// Ingress annotations and entry points use
// (https://doc.traefik.io/traefik/routing/providers/kubernetes-ingress/).
func (e *edge) middlewareByRef(ref string, depth int) []*manifest.Object {
	base, provider, _ := strings.Cut(ref, "@")
	if provider != "" && provider != "kubernetescrd" {
		return nil
	}
	for _, m := range objectsOf(e.inv, groupsTraefik, "Middleware") {
		if m.Namespace+"-"+m.Name == base {
			return e.expand(m, depth)
		}
	}
	return nil
}

func (e *edge) middleware(ns, name string, depth int) []*manifest.Object {
	if i := strings.IndexByte(name, '@'); i >= 0 {
		return e.middlewareByRef(name, depth)
	}
	for _, m := range objectsOf(e.inv, groupsTraefik, "Middleware") {
		if m.Namespace == ns && m.Name == name {
			return e.expand(m, depth)
		}
	}
	return nil
}

// expand follows chain middlewares (bounded, since chains can loop).
func (e *edge) expand(m *manifest.Object, depth int) []*manifest.Object {
	out := []*manifest.Object{m}
	if depth > 8 {
		return out
	}
	for _, c := range nestedSlice(m, "spec", "chain", "middlewares") {
		cm := asMap(c)
		ns := stringIn(cm, "namespace")
		if ns == "" {
			ns = m.Namespace
		}
		out = append(out, e.middleware(ns, stringIn(cm, "name"), depth+1)...)
	}
	return out
}

func (e *edge) ingressRoute(o *manifest.Object) *route {
	r := &route{obj: o, kind: edgeTraefik, hostsField: "spec.routes"}
	eps := stringsIn(o.Unstructured.Object, "spec", "entryPoints")
	r.middlewares = e.entryPointMiddlewares(eps)
	routes := nestedSlice(o, "spec", "routes")
	// A route whose middlewares include a redirectScheme to https answers
	// every request with the redirect and never calls its service
	// (https://doc.traefik.io/traefik/middlewares/http/redirectscheme/), so
	// an IngressRoute of only such routes serves nothing, like an HTTPRoute
	// of RequestRedirect rules.
	r.redirectOnly = len(routes) > 0
	for _, rt := range routes {
		rm := asMap(rt)
		r.hosts = append(r.hosts, hostsOfMatch(stringIn(rm, "match"))...)
		var own []*manifest.Object
		for _, mw := range sliceIn(rm, "middlewares") {
			mm := asMap(mw)
			ns := stringIn(mm, "namespace")
			if ns == "" {
				ns = o.Namespace
			}
			own = append(own, e.middleware(ns, stringIn(mm, "name"), 0)...)
		}
		r.middlewares = append(r.middlewares, own...)
		r.redirectOnly = r.redirectOnly && redirectsToHTTPS(own)
	}
	_, hasTLS := nested(o, "spec", "tls")
	if s := nestedString(o, "spec", "tls", "secretName"); s != "" {
		r.secrets = append(r.secrets, secretUse{o.Namespace, s, "spec.tls.secretName"})
	}
	switch {
	case hasTLS || e.allTLS(eps):
		r.tlsOnly = true
	default:
		r.plaintext = true
	}
	return r
}

// hostsOfMatch extracts the names of Host(`a`, `b`) and HostSNI matchers.
func hostsOfMatch(match string) []string {
	var out []string
	for _, fn := range []string{"Host(", "HostSNI("} {
		rest := match
		for {
			i := strings.Index(rest, fn)
			if i < 0 {
				break
			}
			rest = rest[i+len(fn):]
			end := strings.IndexByte(rest, ')')
			if end < 0 {
				break
			}
			for _, a := range strings.Split(rest[:end], ",") {
				a = strings.Trim(strings.TrimSpace(a), "`\"'")
				if a != "" {
					out = append(out, strings.ToLower(a))
				}
			}
			rest = rest[end:]
		}
	}
	return out
}

func (e *edge) httpRoute(o *manifest.Object) *route {
	r := &route{obj: o, kind: edgeGateway, hostsField: "spec.hostnames"}
	for _, h := range stringsIn(o.Unstructured.Object, "spec", "hostnames") {
		r.hosts = append(r.hosts, strings.ToLower(h))
	}
	rules := nestedSlice(o, "spec", "rules")
	r.redirectOnly = len(rules) > 0
	for _, rule := range rules {
		redirects := false
		for _, f := range sliceIn(asMap(rule), "filters") {
			fm := asMap(f)
			r.filters = append(r.filters, fm)
			if stringIn(fm, "type") == "RequestRedirect" && strings.EqualFold(stringIn(fm, "requestRedirect", "scheme"), "https") {
				redirects = true
			}
			if stringIn(fm, "type") == "ExtensionRef" && slices.Contains(groupsTraefik, stringIn(fm, "extensionRef", "group")) &&
				stringIn(fm, "extensionRef", "kind") == "Middleware" {
				r.middlewares = append(r.middlewares, e.middleware(o.Namespace, stringIn(fm, "extensionRef", "name"), 0)...)
			}
		}
		r.redirectOnly = r.redirectOnly && redirects
	}
	for _, p := range nestedSlice(o, "spec", "parentRefs") {
		pm := asMap(p)
		if k := stringIn(pm, "kind"); k != "" && k != "Gateway" {
			continue
		}
		ns := stringIn(pm, "namespace")
		if ns == "" {
			ns = o.Namespace
		}
		r.listeners = append(r.listeners, e.listeners(ns, stringIn(pm, "name"), stringIn(pm, "sectionName"))...)
	}
	for _, l := range r.listeners {
		switch l.protocol {
		case "HTTPS", "TLS":
			r.tlsOnly = true
		default:
			r.plaintext = true
		}
	}
	if r.plaintext {
		r.tlsOnly = false
	}
	return r
}

func (e *edge) listeners(ns, name, section string) []listener {
	var out []listener
	for _, g := range objectsOf(e.inv, groupsGateway, "Gateway") {
		if g.Namespace != ns || g.Name != name {
			continue
		}
		for i, l := range nestedSlice(g, "spec", "listeners") {
			lm := asMap(l)
			if section != "" && stringIn(lm, "name") != section {
				continue
			}
			out = append(out, listener{gateway: g, index: i, name: stringIn(lm, "name"), protocol: stringIn(lm, "protocol"), hostname: stringIn(lm, "hostname")})
		}
	}
	return out
}

// redirectsToHTTPS reports whether a redirectScheme Middleware to https is
// among the middlewares.
func redirectsToHTTPS(mws []*manifest.Object) bool {
	for _, u := range mwSpecs(mws, "redirectScheme") {
		if strings.EqualFold(stringIn(u.spec, "scheme"), "https") {
			return true
		}
	}
	return false
}

// mwSpec returns the middlewares' specs of one type ("headers", "rateLimit", ...).
func mwSpecs(mws []*manifest.Object, typ string) []mwUse {
	var out []mwUse
	for _, m := range mws {
		if v, ok := nested(m, "spec", typ); ok {
			out = append(out, mwUse{obj: m, spec: asMap(v), field: "spec." + typ})
		}
	}
	return out
}

type mwUse struct {
	obj   *manifest.Object
	spec  map[string]any
	field string
}

// hostMatches reports whether a route host serves every name the host
// name stands for (exact or *.domain, as the model's host pattern reads
// them: platform.HostPattern.Covers). Hosts that are no host pattern serve
// only a host spelled the same.
func hostMatches(pattern, name string) bool {
	p, errP := platform.ReadHostPattern(pattern)
	n, errN := platform.ReadHostPattern(name)
	if errP != nil || errN != nil {
		return strings.EqualFold(pattern, name)
	}
	return p.Covers(n)
}
