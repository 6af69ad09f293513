package audit

import (
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
)

// Guide section 4.1: what the cluster exposes to the outside.

func checkExposedServices() Check {
	return Check{
		ID: "BUD-4.1-01", Title: "Only the edge's 80 and 443 are exposed outside the cluster", Section: "4.1", Severity: SeverityHigh,
		Remediation: "Make every other Service ClusterIP and publish it through the edge; restrict any load balancer that must stay with loadBalancerSourceRanges. `budnet generate` publishes only the edge hosts of the model.",
		Doc:         docOf("BUD-4.1-01"),
		Run: func(c *Context) []Result {
			var out []Result
			for _, s := range c.Inventory.Services {
				if s.Type != corev1.ServiceTypeLoadBalancer && s.Type != corev1.ServiceTypeNodePort {
					continue
				}
				out = append(out, exposure(c, s))
			}
			return out
		},
	}
}

// isEdge reports whether the Service fronts the model's ingress workload.
func isEdge(c *Context, s *manifest.Service) bool {
	if len(s.Selector) == 0 {
		return false
	}
	models := modelOf(c.Inventory, c.Platform)
	sel := labels.SelectorFromSet(s.Selector)
	for _, w := range c.Inventory.Workloads {
		if w.Namespace == s.Namespace && w.SelectedBy(sel) {
			if mw := models[w]; mw != nil && mw.Role == platform.RoleIngress {
				return true
			}
		}
	}
	return false
}

func exposure(c *Context, s *manifest.Service) Result {
	edge := isEdge(c, s)
	var extra []string
	for _, p := range s.Ports {
		if edge && p.Protocol == corev1.ProtocolTCP && (p.Port == 80 || p.Port == 443) {
			continue
		}
		extra = append(extra, fmt.Sprintf("%s/%d", p.Protocol, p.Port))
	}
	subject := s.Object.Ref()
	ranges := "no loadBalancerSourceRanges: open to every address"
	if len(s.LoadBalancerSourceRanges) > 0 {
		ranges = "loadBalancerSourceRanges " + strings.Join(s.LoadBalancerSourceRanges, ", ")
	}
	if s.Type == corev1.ServiceTypeNodePort {
		ranges = "a NodePort opens the port on every node's address"
	}
	if len(extra) == 0 {
		return res(StatusPass, subject, fmt.Sprintf("the edge Service %s exposes only 80 and 443", subject))
	}
	what := "the edge exposes"
	if !edge {
		what = "a Service that is not the edge exposes"
	}
	st := StatusFail
	if s.Type == corev1.ServiceTypeLoadBalancer && len(s.LoadBalancerSourceRanges) > 0 && !anyOpen(s.LoadBalancerSourceRanges) {
		st = StatusPartial
	}
	return res(st, subject, fmt.Sprintf("%s %s as %s (%s)", what, strings.Join(extra, ", "), s.Type, ranges),
		ObjectEvidence(s.Object, "spec.ports", strings.Join(extra, ", ")))
}

func anyOpen(cidrs []string) bool {
	for _, s := range cidrs {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil || p.Bits() == 0 {
			return true
		}
	}
	return false
}

func checkAdminAllowlist() Check {
	return Check{
		ID: "BUD-4.1-02", Title: "Admin hosts are reachable only from allowlisted addresses", Section: "4.1", Severity: SeverityHigh,
		Remediation: "Restrict each admin host to the model's admin source group: `budnet generate` emits a Traefik ipAllowList Middleware (or the nginx allowlist-source-range annotation) on the admin routes. Gateway API has no standard IP allowlist filter; use the implementation's extension (a Traefik Middleware via ExtensionRef).",
		Doc:         docOf("BUD-4.1-02"),
		Run:         runAdminAllowlist,
	}
}

func runAdminAllowlist(c *Context) []Result {
	if c.Platform == nil {
		return nil
	}
	e := newEdge(c.Inventory)
	lbRestricted := edgeLBRestricted(c)
	var out []Result
	for _, h := range c.Platform.Spec.Edge.Hosts {
		if !h.Admin {
			continue
		}
		for _, r := range e.routes {
			// A route that only redirects to https exposes nothing.
			if r.redirectOnly || !r.serves(h.Name) {
				continue
			}
			out = append(out, adminRoute(e, r, h.Name, lbRestricted))
		}
	}
	return out
}

func (r *route) serves(host string) bool {
	for _, p := range r.hosts {
		if hostMatches(p, host) {
			return true
		}
	}
	return false
}

func edgeLBRestricted(c *Context) []string {
	for _, s := range c.Inventory.Services {
		if s.Type == corev1.ServiceTypeLoadBalancer && isEdge(c, s) && len(s.LoadBalancerSourceRanges) > 0 && !anyOpen(s.LoadBalancerSourceRanges) {
			return s.LoadBalancerSourceRanges
		}
	}
	return nil
}

func adminRoute(e *edge, r *route, host string, lbRanges []string) Result {
	subject := r.obj.Ref() + " " + host
	if len(lbRanges) > 0 {
		return res(StatusPass, subject, "the edge load balancer admits only "+strings.Join(lbRanges, ", "))
	}
	ranges, ev := allowlistOf(r)
	switch {
	case len(ranges) > 0 && !anyOpen(ranges):
		return res(StatusPass, subject, fmt.Sprintf("admin host %s is allowlisted to %s", host, strings.Join(ranges, ", ")), ev)
	case len(ranges) > 0:
		return res(StatusFail, subject, fmt.Sprintf("admin host %s has an allowlist that admits every address (%s)", host, strings.Join(ranges, ", ")), ev)
	case r.kind == edgeGateway:
		return res(StatusFail, subject, fmt.Sprintf("admin host %s is routed by an HTTPRoute without an IP allowlist: Gateway API has no standard allowlist filter, so none applies unless an implementation extension (ExtensionRef) adds one", host),
			ObjectEvidence(r.obj, r.hostsField, host))
	}
	return res(StatusFail, subject, fmt.Sprintf("admin host %s is reachable from every address: no source-range allowlist on its route and none on the edge load balancer", host),
		ObjectEvidence(r.obj, r.hostsField, host))
}

// allowlistOf returns the source ranges a route admits: the ingress-nginx
// allowlist annotation (whitelist-source-range before 1.9's rename), or
// Traefik ipAllowList / ipWhiteList middlewares
// (https://doc.traefik.io/traefik/middlewares/http/ipallowlist/).
func allowlistOf(r *route) ([]string, Evidence) {
	if r.kind == edgeNginx {
		ann := annotationsOf(r.obj)
		for _, k := range []string{"nginx.ingress.kubernetes.io/allowlist-source-range", "nginx.ingress.kubernetes.io/whitelist-source-range"} {
			if v := ann[k]; v != "" {
				return splitList(v), ObjectEvidence(r.obj, "metadata.annotations["+k+"]", v)
			}
		}
		return nil, Evidence{}
	}
	for _, typ := range []string{"ipAllowList", "ipWhiteList"} {
		for _, u := range mwSpecs(r.middlewares, typ) {
			if rs := stringsIn(u.spec, "sourceRange"); len(rs) > 0 {
				return rs, ObjectEvidence(u.obj, u.field+".sourceRange", strings.Join(rs, ", "))
			}
		}
	}
	return nil, Evidence{}
}

func checkRouteTLS() Check {
	return Check{
		ID: "BUD-4.1-03", Title: "Every route and listener serves TLS", Section: "4.1", Severity: SeverityHigh,
		Remediation: "Serve every host over TLS (Ingress spec.tls covering each host, IngressRoute spec.tls, HTTPS Gateway listeners) and keep port 80 for the redirect only; `budnet generate` emits an HTTPS listener with a cert-manager certificate and an HTTP listener whose only route redirects.",
		Doc:         docOf("BUD-4.1-03"),
		Run: func(c *Context) []Result {
			e := newEdge(c.Inventory)
			var out []Result
			for _, r := range e.routes {
				out = append(out, routeTLS(r))
			}
			return out
		},
	}
}

func routeTLS(r *route) Result {
	subject := r.obj.Ref()
	switch {
	case r.redirectOnly:
		return res(StatusPass, subject, "redirects every request to https")
	case !r.plaintext:
		return res(StatusPass, subject, "served over TLS only")
	}
	field := "spec.tls"
	if r.kind == edgeGateway {
		field = "spec.parentRefs"
	}
	return res(StatusFail, subject, fmt.Sprintf("%s serves %s without TLS", subject, listing(r.hosts, 4)), ObjectEvidence(r.obj, field, "no TLS for some host or listener"))
}
