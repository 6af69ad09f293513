package platform

import (
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

func (v *validator) flows() {
	f := v.p.Spec.Flows
	seen := map[string]string{}
	// Flow names are unique across the three tables: findings and generated
	// policies name flows without saying which table they came from.
	for i, fl := range f.Internal {
		path := fmt.Sprintf("spec.flows.internal[%d]", i)
		v.unique(seen, path+".name", fl.Name, "flow")
		src := v.selector(path+".from", fl.From)
		dst := v.selector(path+".to", fl.To)
		v.flowPorts(path+".ports", fl.Ports, dst)
		v.invoke(path, fl.Invoke, src, dst)
	}
	for i, fl := range f.Ingress {
		path := fmt.Sprintf("spec.flows.ingress[%d]", i)
		v.unique(seen, path+".name", fl.Name, "flow")
		if len(fl.Groups) == 0 && len(fl.CIDRs) == 0 {
			v.add(path, "no sources, expected groups or cidrs")
		}
		v.groupRefs(path+".groups", fl.Groups)
		v.cidrs(path+".cidrs", fl.CIDRs)
		dst := v.selector(path+".to", fl.To)
		v.flowPorts(path+".ports", fl.Ports, dst)
	}
	for i, fl := range f.Egress {
		path := fmt.Sprintf("spec.flows.egress[%d]", i)
		v.unique(seen, path+".name", fl.Name, "flow")
		v.selector(path+".from", fl.From)
		v.egressDestinations(path, fl)
		v.flowPorts(path+".ports", fl.Ports, nil)
	}
}

// selector checks s and returns the workloads it selects.
func (v *validator) selector(path string, s Selector) []*Workload {
	if s.empty() {
		v.add(path, "empty selector, expected at least one of zone, workload, role or dapr")
		return nil
	}
	ok := true
	if s.Zone != "" {
		if _, found := v.p.Zone(s.Zone); !found {
			v.add(path+".zone", "zone %q does not exist, expected one of %s", s.Zone, v.zoneNames())
			ok = false
		}
	}
	if s.Workload != "" {
		if _, found := v.p.Workload(s.Workload); !found {
			v.add(path+".workload", "workload %q does not exist", s.Workload)
			ok = false
		}
	}
	if s.Role != "" && !slices.Contains(Roles, s.Role) {
		v.role(path+".role", s.Role, false)
		ok = false
	}
	if !ok {
		return nil
	}
	ws := v.p.Select(s)
	if len(ws) == 0 {
		v.add(path, "selects no workload (%s), expected at least one", s)
	}
	return ws
}

// flowPorts checks the ports of a flow; dst are the destination workloads,
// nil for egress flows, whose destinations have no named ports.
func (v *validator) flowPorts(path string, ports []Port, dst []*Workload) {
	if len(ports) == 0 {
		v.add(path, "empty, expected at least one port (a flow never means all ports)")
	}
	for i, pt := range ports {
		pp := fmt.Sprintf("%s[%d]", path, i)
		v.protocol(pp+".protocol", pt.Protocol)
		switch {
		case pt.Name != "" && (pt.Port != 0 || pt.EndPort != 0):
			v.add(pp, "sets both name %q and a port number, expected one of them", pt.Name)
		case pt.Name != "":
			v.namedFlowPort(pp+".name", pt, dst)
		case pt.Port == 0:
			v.add(pp, "no port, expected port (a number) or name (a named port of the destination)")
		default:
			v.portNumber(pp+".port", pt.Port)
			if pt.EndPort != 0 {
				v.portNumber(pp+".endPort", pt.EndPort)
				if pt.EndPort < pt.Port {
					v.add(pp+".endPort", "is %d, below port %d, expected endPort >= port", pt.EndPort, pt.Port)
				}
			}
		}
	}
}

func (v *validator) namedFlowPort(path string, pt Port, dst []*Workload) {
	if dst == nil {
		v.add(path, "named port %q on an egress flow, expected a port number (external destinations have no named ports)", pt.Name)
		return
	}
	for _, w := range dst {
		np, ok := w.Port(pt.Name)
		if !ok {
			v.add(path, "destination workload %q has no port named %q", w.Name, pt.Name)
			continue
		}
		if np.Protocol != pt.Protocol {
			v.add(path, "port %q of workload %q is %s, the flow asks for %s", pt.Name, w.Name, np.Protocol, pt.Protocol)
		}
	}
}

// httpVerbs are the verbs Dapr access control policies accept.
var httpVerbs = []string{"*", "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}

func (v *validator) invoke(path string, ops []DaprOperation, src, dst []*Workload) {
	if len(ops) == 0 {
		return
	}
	for _, w := range append(slices.Clone(src), dst...) {
		if w.Dapr == nil {
			v.add(path+".invoke", "workload %q has no Dapr sidecar, expected invoke only on flows between Dapr apps", w.Name)
			break
		}
	}
	for i, op := range ops {
		pp := fmt.Sprintf("%s.invoke[%d]", path, i)
		if !strings.HasPrefix(op.Name, "/") {
			v.add(pp+".name", "is %q, expected a path starting with / such as /v1/* or /*", op.Name)
		}
		for j, verb := range op.Verbs {
			if !slices.Contains(httpVerbs, verb) {
				v.add(fmt.Sprintf("%s.verbs[%d]", pp, j), "is %q, expected an upper-case HTTP verb or *", verb)
			}
		}
	}
}

func (v *validator) groupRefs(path string, groups []string) {
	for i, g := range groups {
		if _, ok := v.p.Group(g); !ok {
			v.add(fmt.Sprintf("%s[%d]", path, i), "source group %q does not exist, expected one of %s", g, v.groupNames())
		}
	}
}

func (v *validator) egressDestinations(path string, fl EgressFlow) {
	if len(fl.Hosts) == 0 && len(fl.CIDRs) == 0 && len(fl.Groups) == 0 {
		v.add(path, "no destinations, expected hosts, cidrs or groups")
	}
	for i, h := range fl.Hosts {
		if msg := HostError(h); msg != "" {
			v.add(fmt.Sprintf("%s.hosts[%d]", path, i), "%q %s", h, msg)
		}
	}
	var own, fromGroups []netip.Prefix
	everything := false
	for i, c := range fl.CIDRs {
		pp := fmt.Sprintf("%s.cidrs[%d]", path, i)
		if pfx, ok := v.cidr(pp, c); ok {
			own = append(own, pfx)
			if pfx.Bits() == 0 {
				everything = true
				v.add(pp, "%s allows every destination, which is not an allowlist (guide 8.2); name hosts instead", c)
			}
		}
	}
	v.groupRefs(path+".groups", fl.Groups)
	for i, name := range fl.Groups {
		g, ok := v.p.Group(name)
		if !ok {
			continue
		}
		for _, c := range g.CIDRs {
			pfx, err := netip.ParsePrefix(c)
			if err != nil || pfx.Masked() != pfx {
				continue // reported where the group is defined
			}
			fromGroups = append(fromGroups, pfx)
			if pfx.Bits() == 0 {
				everything = true
				v.add(fmt.Sprintf("%s.groups[%d]", path, i), "group %q holds %s, which allows every destination: not an allowlist (guide 8.2)", name, c)
			}
		}
	}
	if !everything {
		v.egressRangeUnion(path, own, fromGroups)
	}
}

// egressRangeUnion refuses a flow whose ranges together cover at least half
// of an address family: 0.0.0.0/1 + 128.0.0.0/1 is 0.0.0.0/0 written in two
// pieces, and a flow that lets a workload reach half of all addresses is no
// more an allowlist than one that lets it reach all of them. Half is where we
// draw "nearly the whole family": it catches every split of 0.0.0.0/0 and ::/0
// and any single /1, while the widest ranges a real flow names (a provider's
// published blocks, /8 and narrower in IPv4) are orders of magnitude below it.
// The problem is reported at the flow's cidrs, or its groups (or the flow when
// both contribute).
func (v *validator) egressRangeUnion(path string, own, fromGroups []netip.Prefix) {
	all := append(slices.Clip(own), fromGroups...)
	for _, v4 := range []bool{true, false} {
		covered, width := addressCoverage(all, v4)
		// covered / 2^width >= 1/2
		if covered.Cmp(new(big.Int).Lsh(big.NewInt(1), uint(width-1))) < 0 {
			continue
		}
		family, field := "IPv6", path
		if v4 {
			family = "IPv4"
		}
		inFamily := func(p netip.Prefix) bool { n, _ := addressCoverage([]netip.Prefix{p}, v4); return n.Sign() > 0 }
		hasOwn := slices.ContainsFunc(own, inFamily)
		hasGroup := slices.ContainsFunc(fromGroups, inFamily)
		switch {
		case hasOwn && !hasGroup:
			field = path + ".cidrs"
		case hasGroup && !hasOwn:
			field = path + ".groups"
		}
		pct, _ := new(big.Rat).SetFrac(new(big.Int).Mul(covered, big.NewInt(100)), new(big.Int).Lsh(big.NewInt(1), uint(width))).Float64()
		v.add(field, "the flow's ranges together cover %.4g%% of the %s address space (at least half is refused): "+
			"not an allowlist (guide 8.2); name hosts or narrower ranges instead", pct, family)
	}
}

// addressCoverage counts the addresses of one family that ps cover together,
// each counted once, and returns the family's width in bits. Two prefixes are
// either disjoint or one holds the other, so after sorting by first address
// (shorter prefix first on a tie) a prefix inside the last one kept adds
// nothing and every other one adds exactly its own size.
func addressCoverage(ps []netip.Prefix, v4 bool) (*big.Int, int) {
	width := 128
	if v4 {
		width = 32
	}
	var fam []netip.Prefix
	for _, p := range ps {
		p = p.Masked()
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			// ::ffff:a.b.c.d/n names IPv4 addresses; count them there.
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		if p.Addr().Is4() == v4 {
			fam = append(fam, p)
		}
	}
	slices.SortFunc(fam, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	total := new(big.Int)
	var last netip.Prefix
	for _, p := range fam {
		if last.IsValid() && last.Contains(p.Addr()) {
			continue // last.Bits() <= p.Bits() here, so p lies inside last
		}
		total.Add(total, new(big.Int).Lsh(big.NewInt(1), uint(width-p.Bits())))
		last = p
	}
	return total, width
}

// HostError says what is wrong with an egress or edge host pattern as
// written in the model, or "" when it is valid: ParseHostPattern's rules,
// and the pattern already in its normal form (lower case, no trailing dot,
// A-labels), which the model's defaults write (NormalizeHost).
func HostError(h string) string {
	p, err := ParseHostPattern(h)
	if err != nil {
		var pe *HostPatternError
		if errors.As(err, &pe) {
			return pe.Msg
		}
		return err.Error()
	}
	if p.String() != h {
		if strings.ToLower(h) != h {
			return "is not lower case"
		}
		return fmt.Sprintf("is not in normal form, expected %q", p.String())
	}
	return ""
}

// edgeKinds lists the supported edges, in documentation order.
var edgeKinds = []EdgeKind{EdgeGatewayAPI, EdgeTraefik, EdgeNginx}

var bodySize = regexp.MustCompile(`^[0-9]+[kKmMgG]?$`)

func (v *validator) edge() {
	e := v.p.Spec.Edge
	if !slices.Contains(edgeKinds, e.Kind) {
		v.add("spec.edge.kind", "is %q, expected gateway-api, traefik or nginx", e.Kind)
	}
	seen := map[string]string{}
	for i, h := range e.Hosts {
		path := fmt.Sprintf("spec.edge.hosts[%d]", i)
		v.unique(seen, path+".name", h.Name, "edge host")
		if h.Name != "" {
			if msg := HostError(h.Name); msg != "" {
				v.add(path+".name", "%q %s", h.Name, msg)
			}
		}
		w, ok := v.p.Workload(h.Workload)
		switch {
		case h.Workload == "":
			v.add(path+".workload", "missing, expected the workload the host routes to")
		case !ok:
			v.add(path+".workload", "workload %q does not exist", h.Workload)
		case h.Port != "":
			if _, found := w.Port(h.Port); !found {
				v.add(path+".port", "workload %q has no port named %q", h.Workload, h.Port)
			}
		}
		for j, c := range h.Calls {
			if _, err := ParseOrigin(c); err != nil {
				v.add(fmt.Sprintf("%s.calls[%d]", path, j), "%v", err)
			}
		}
		for j, rp := range h.Paths {
			if msg := edgePathProblem(rp); msg != "" {
				v.add(fmt.Sprintf("%s.paths[%d]", path, j), "%q %s", rp, msg)
			}
		}
	}
	for i, h := range e.Hosts {
		if _, ok := v.p.Group("admin"); h.Admin && !ok {
			v.add(fmt.Sprintf("spec.edge.hosts[%d].admin", i), "admin hosts are reachable only from the source group \"admin\", which does not exist")
			break
		}
	}
	if r := e.RateLimit; r != nil {
		if r.RPS <= 0 {
			v.add("spec.edge.rateLimit.rps", "is %d, expected a positive number of requests per second", r.RPS)
		}
		if r.Burst < 0 {
			v.add("spec.edge.rateLimit.burst", "is %d, expected zero or more", r.Burst)
		}
	}
	if e.MaxBodySize != "" && !bodySize.MatchString(e.MaxBodySize) {
		v.add("spec.edge.maxBodySize", "is %q, expected a size such as 10m, 512k or 1g", e.MaxBodySize)
	}
	if e.ClassName != "" {
		v.dns1123Subdomain("spec.edge.className", e.ClassName)
	}
}

func (v *validator) egressGateway() {
	g := v.p.Spec.EgressGateway
	const path = "spec.egressGateway"
	switch g.Mode {
	case EgressEnforce, EgressReport:
	default:
		v.add(path+".mode", "is %q, expected enforce or report", g.Mode)
	}
	switch g.DefaultAction {
	case "deny", "allow":
	default:
		v.add(path+".defaultAction", "is %q, expected deny or allow", g.DefaultAction)
	}
	if g.Workload == "" && g.Enabled {
		v.add(path+".workload", "missing, expected the gateway's workload when enabled")
	}
	if g.Workload != "" {
		if w, ok := v.p.Workload(g.Workload); !ok {
			v.add(path+".workload", "workload %q does not exist", g.Workload)
		} else if w.Role != RoleGateway {
			v.add(path+".workload", "workload %q has role %q, expected role gateway", g.Workload, w.Role)
		}
	}
	v.cidrs(path+".allowedCIDRs", g.AllowedCIDRs)
	v.cidrs(path+".deniedCIDRs", g.DeniedCIDRs)
	for i, s := range g.Sources {
		pp := fmt.Sprintf("%s.sources[%d]", path, i)
		v.cidr(pp+".cidr", s.CIDR)
		if _, ok := v.p.Workload(s.Workload); !ok {
			v.add(pp+".workload", "workload %q does not exist", s.Workload)
		}
	}
}

// numericPorts checks ports that must be numbers (no destination workload
// to resolve a name against).
func (v *validator) numericPorts(path string, ports []Port) {
	for i, pt := range ports {
		pp := fmt.Sprintf("%s[%d]", path, i)
		v.protocol(pp+".protocol", pt.Protocol)
		if pt.Name != "" {
			v.add(pp+".name", "named port %q, expected a port number here", pt.Name)
			continue
		}
		v.portNumber(pp+".port", pt.Port)
		if pt.EndPort != 0 && pt.EndPort < pt.Port {
			v.add(pp+".endPort", "is %d, below port %d, expected endPort >= port", pt.EndPort, pt.Port)
		}
	}
}

// edgePath is the shape of a routed path prefix: unreserved characters and
// slashes only, so the same text is a valid Gateway API PathPrefix value, an
// Ingress Prefix path and a literal inside a Traefik rule (no backtick or
// quote can end the literal).
var edgePath = regexp.MustCompile(`^/[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$`)

// edgePathProblem says what is wrong with a routed path prefix, "" if
// nothing. Dot segments are refused as the Gateway API's HTTPPathMatch
// validation refuses them; the root is not a prefix to list (no paths routes
// every path).
func edgePathProblem(p string) string {
	switch {
	case p == "/":
		return "is the root: leave paths out to route every path"
	case !edgePath.MatchString(p):
		return "is not a path prefix such as /realms: it must start with /, use letters, digits, . _ ~ - and single slashes, and not end with /"
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "." || seg == ".." {
			return "has a . or .. segment"
		}
	}
	return ""
}
