package generate

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/budnet/budnet/internal/diag"
	"github.com/budnet/budnet/internal/platform"
)

// FileEdge holds the edge hardening objects of the chosen edge.
const FileEdge = "50-edge.yaml"

// EdgeGatewayName is the Gateway generate writes for --edge gateway-api.
const EdgeGatewayName = "budnet-edge"

// Listener names of the Gateway.
const listenerHTTP = "http"

// Defaults for edge limits the model leaves unset: generous enough for an
// API behind a UI, low enough that one client cannot starve the others.
const (
	defaultRPS         = 50
	defaultBurst       = 100
	defaultMaxBodySize = "10m"
	adminGroup         = "admin"
	// hstsMaxAge is one year, the minimum the HSTS preload list accepts
	// (https://hstspreload.org/#submission-requirements).
	hstsMaxAge = 31536000
)

// securityHeaders are the response headers every edge sets (guide 6.2 and
// the OWASP Secure Headers Project): HSTS for a year with subdomains, no
// framing, no MIME sniffing, a same-origin content policy that lets the
// pages call the origins the model's hosts name (contentSecurityPolicy) and
// a referrer policy that leaks no paths to other sites.
func securityHeaders(p *platform.Platform) [][2]string {
	return [][2]string{
		{"Strict-Transport-Security", fmt.Sprintf("max-age=%d; includeSubDomains", hstsMaxAge)},
		{"X-Frame-Options", "DENY"},
		{"X-Content-Type-Options", "nosniff"},
		{"Content-Security-Policy", contentSecurityPolicy(p)},
		{"Referrer-Policy", referrerPolicy},
	}
}

const (
	cspBase        = "default-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
	referrerPolicy = "strict-origin-when-cross-origin"
)

// contentSecurityPolicy is the edge's CSP. Without connect-src the browser
// falls back to default-src 'self' and refuses every fetch, XHR,
// EventSource and WebSocket to another origin, so a web app on
// app.example.com could not call its API on api.example.com
// (https://www.w3.org/TR/CSP3/#directive-connect-src). connect-src lists
// 'self' and every origin an edge host's pages call (spec.edge.hosts[].calls),
// sorted; one policy serves all hosts because ingress-nginx can only set
// response headers for the whole controller (add-headers) and Traefik's
// headers Middleware is shared by a zone's routes. A WebSocket origin is
// named with its wss scheme: an https source does not match a wss URL
// (CSP3 "scheme-part matching" lets ws and wss sources match https, never
// the reverse).
func contentSecurityPolicy(p *platform.Platform) string {
	var origins []string
	for _, h := range p.Spec.Edge.Hosts {
		for _, c := range h.Calls {
			if o, err := platform.ParseOrigin(c); err == nil {
				origins = append(origins, o.String())
			}
		}
	}
	if len(origins) == 0 {
		return cspBase
	}
	slices.Sort(origins)
	return cspBase + "; connect-src 'self' " + strings.Join(slices.Compact(origins), " ")
}

// edgeHost is a model edge host resolved to its backend.
type edgeHost struct {
	platform.EdgeHost
	backend *platform.Workload
	port    int32
	secret  string // the TLS Secret's name
	row     string
}

// edgeHosts resolves the model's edge hosts. The Service port is taken to be
// the container port's number, as the Bud charts publish them.
func edgeHosts(p *platform.Platform) ([]edgeHost, error) {
	var out []edgeHost
	for i, h := range p.Spec.Edge.Hosts {
		field := fmt.Sprintf("spec.edge.hosts[%d]", i)
		w, ok := p.Workload(h.Workload)
		if !ok {
			return nil, &diag.InputError{File: p.Source.File, Field: field + ".workload", Msg: fmt.Sprintf("workload %q does not exist", h.Workload)}
		}
		var port int32
		for _, np := range w.Ports {
			if (h.Port == "" || np.Name == h.Port) && !isSidecarPort(np.Name) {
				port = np.Port
				break
			}
		}
		if port == 0 {
			return nil, &diag.InputError{File: p.Source.File, Field: field + ".port", Msg: fmt.Sprintf("workload %s has no port named %q", w.Name, h.Port)}
		}
		out = append(out, edgeHost{EdgeHost: h, backend: w, port: port,
			secret: objectName(h.Name, "tls"), row: ModelRow(field, h.Name)})
	}
	return out, nil
}

func isSidecarPort(name string) bool {
	return slices.ContainsFunc(platform.DaprSidecarPorts(), func(np platform.NamedPort) bool { return np.Name == name })
}

// edgeKind is --edge, else the model's edge kind.
func edgeKind(p *platform.Platform, o Options) platform.EdgeKind {
	if o.Edge != "" {
		return o.Edge
	}
	if p.Spec.Edge.Kind != "" {
		return p.Spec.Edge.Kind
	}
	return platform.EdgeGatewayAPI
}

// edgeClass is the IngressClass or GatewayClass: the model's when the edge
// is the model's kind (a class named for another controller does not carry
// over to --edge), else the controller's usual name.
func edgeClass(p *platform.Platform, kind platform.EdgeKind) string {
	model := p.Spec.Edge.Kind
	if model == "" {
		model = platform.EdgeGatewayAPI
	}
	if c := p.Spec.Edge.ClassName; c != "" && model == kind {
		return c
	}
	if kind == platform.EdgeNginx {
		return "nginx"
	}
	return "traefik"
}

// edgeWorkload is the ingress controller: the one workload with role
// ingress.
func edgeWorkload(p *platform.Platform) (*platform.Workload, error) {
	ws := p.Select(platform.Selector{Role: platform.RoleIngress})
	if len(ws) != 1 {
		return nil, &diag.InputError{File: p.Source.File, Field: "spec.workloads",
			Msg: fmt.Sprintf("the edge needs exactly one workload with role ingress, found %d", len(ws))}
	}
	return ws[0], nil
}

// edgePorts are the ingress controller's container ports for plain HTTP and
// HTTPS: Traefik's Gateway provider binds listeners to the entry point with
// the same port, so listeners must use the container ports (8000 and 8443
// in the Traefik chart), not the Service's 80 and 443.
func edgePorts(w *platform.Workload) (httpPort, httpsPort int64) {
	httpPort, httpsPort = 80, 443
	for _, np := range slices.Backward(w.Ports) {
		switch {
		case np.TLS:
			httpsPort = int64(np.Port)
		case np.Name == "web" || np.Name == "http":
			httpPort = int64(np.Port)
		}
	}
	return httpPort, httpsPort
}

// rateLimit is the model's edge rate limit or the default.
func rateLimit(p *platform.Platform) (rps, burst int64) {
	rps, burst = defaultRPS, defaultBurst
	if rl := p.Spec.Edge.RateLimit; rl != nil {
		rps = int64(rl.RPS)
		burst = int64(max(rl.Burst, rl.RPS))
	}
	return rps, burst
}

// maxBody is the model's request size limit in nginx notation ("10m") and
// in bytes.
func maxBody(p *platform.Platform) (string, int64, error) {
	s := p.Spec.Edge.MaxBodySize
	if s == "" {
		s = defaultMaxBodySize
	}
	n, err := parseSize(s)
	if err != nil {
		return "", 0, &diag.InputError{File: p.Source.File, Field: "spec.edge.maxBodySize",
			Msg: fmt.Sprintf("%q: %v", s, err)}
	}
	return s, n, nil
}

// parseSize reads a size as nginx's client_max_body_size does: digits and an
// optional k, m or g suffix (powers of 1024;
// https://nginx.org/en/docs/syntax.html). Zero, which nginx reads as no
// limit, is refused, as is anything Traefik's byte count cannot hold.
func parseSize(s string) (int64, error) {
	digits, mult := s, int64(1)
	if s != "" {
		switch s[len(s)-1] {
		case 'k', 'K':
			digits, mult = s[:len(s)-1], 1<<10
		case 'm', 'M':
			digits, mult = s[:len(s)-1], 1<<20
		case 'g', 'G':
			digits, mult = s[:len(s)-1], 1<<30
		}
	}
	if digits == "" {
		return 0, errors.New("expected a size such as 10m or 512k")
	}
	var n int64
	for _, r := range digits {
		if r < '0' || r > '9' {
			return 0, errors.New("expected a size such as 10m or 512k")
		}
		if n > (math.MaxInt64-int64(r-'0'))/10 {
			return 0, errors.New("too large")
		}
		n = n*10 + int64(r-'0')
	}
	if n == 0 {
		return 0, errors.New("zero means no limit, expected a size such as 10m")
	}
	if n > math.MaxInt64/mult {
		return 0, errors.New("too large")
	}
	return n * mult, nil
}

// adminCIDRs are the admin source group's ranges; admin hosts answer only
// them (guide 11.3, IP allowlisting for admin access).
func adminCIDRs(p *platform.Platform) ([]string, error) {
	g, ok := p.Group(adminGroup)
	if !ok {
		return nil, &diag.InputError{File: p.Source.File, Field: "spec.sourceGroups",
			Msg: "an edge host is admin: true, expected a source group named admin with the administrators' addresses"}
	}
	out := make([]string, 0, len(g.CIDRs))
	for _, c := range g.CIDRs {
		pfx, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, &diag.InputError{File: p.Source.File, Field: "spec.sourceGroups", Msg: fmt.Sprintf("admin CIDR %q: %v", c, err)}
		}
		out = append(out, pfx.Masked().String())
	}
	return out, nil
}

// wafEnabled is the model's waf, on by default.
func wafEnabled(p *platform.Platform) bool {
	return p.Spec.Edge.WAF == nil || *p.Spec.Edge.WAF
}

// tlsMin is the model's minimum TLS version: "1.2" or "1.3".
func tlsMin(p *platform.Platform) string {
	if v := p.Spec.TLS.MinVersion; v != "" {
		return v
	}
	return platform.DefaultTLSMinVersion
}

// Edge implements guide section 6.2 and 11.3 at the edge for the chosen
// implementation (--edge or spec.edge.kind): TLS 1.2 or later, HTTP to
// HTTPS redirect, security headers, rate and size limits, the admin
// allowlist and, where the edge has one, a WAF.
func Edge(p *platform.Platform, o Options) ([]File, error) {
	hosts, err := edgeHosts(p)
	if err != nil || len(hosts) == 0 {
		return nil, err
	}
	var objs []*unstructured.Unstructured
	kind := edgeKind(p, o)
	switch kind {
	case platform.EdgeTraefik:
		objs, err = traefikEdge(p, hosts)
	case platform.EdgeNginx:
		objs, err = nginxEdge(p, hosts)
	default:
		objs, err = gatewayEdge(p, hosts)
	}
	if err != nil {
		return nil, err
	}
	return []File{{Name: FileEdge, Concern: fmt.Sprintf("edge hardening for %s (guide 6.2, 11.3)", kind), Objects: objs}}, nil
}

// hostZones are the backend zones of the hosts, sorted.
func hostZones(hosts []edgeHost) []string {
	var zones []string
	for _, h := range hosts {
		zones = append(zones, h.backend.Zone)
	}
	slices.Sort(zones)
	return slices.Compact(zones)
}
