package reach

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/budnet/budnet/internal/netpol"
)

// Connectivity is the read surface of a connectivity matrix that Compare,
// audit's BUD-4.2 checks and budnet diff ask: the node names, which of them
// are address entities, a pair's allowed ports, and every allowed pair.
// *netpol.Matrix (one full computation) and *netpol.Incremental (kept current
// by deltas, answering as Matrix answers) both satisfy it, so the controller
// can compare an incrementally kept matrix without recomputing one.
type Connectivity interface {
	Names() []string
	IsExternal(name string) bool
	Lookup(src, dst string) (netpol.PortSet, bool)
	Each(yield func(netpol.Connection) bool)
}

var (
	_ Connectivity = (*netpol.Matrix)(nil)
	_ Connectivity = (*netpol.Incremental)(nil)
)

// entityPrefixes parses an address entity's name (comma-separated CIDRs).
func entityPrefixes(name string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range strings.Split(name, ",") {
		if p, err := netip.ParsePrefix(strings.TrimSpace(s)); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// within reports whether every prefix of e lies inside the union of set.
func within(e, set []netip.Prefix) bool {
	if len(e) == 0 {
		return false
	}
	for _, p := range e {
		if !covered(p, set) {
			return false
		}
	}
	return true
}

// covered reports whether p lies inside the union of set. Entities come from
// merged ranges (224.0.0.0/4 and 240.0.0.0/4 are named 224.0.0.0/3), so
// containment in a single prefix of set is not enough: p is halved until each
// half is inside one prefix or overlaps none.
func covered(p netip.Prefix, set []netip.Prefix) bool {
	p = p.Masked()
	overlapping := false
	for _, s := range set {
		if s.Addr().BitLen() != p.Addr().BitLen() || !s.Overlaps(p) {
			continue
		}
		if s.Bits() <= p.Bits() {
			return true
		}
		overlapping = true
	}
	if !overlapping || p.Bits() == p.Addr().BitLen() {
		return false
	}
	lo := netip.PrefixFrom(p.Addr(), p.Bits()+1)
	hiAddr := p.Addr().AsSlice()
	bit := p.Bits()
	hiAddr[bit/8] |= 0x80 >> (bit % 8)
	hiIP, _ := netip.AddrFromSlice(hiAddr)
	hi := netip.PrefixFrom(hiIP, p.Bits()+1)
	return covered(lo, set) && covered(hi, set)
}

// overlaps reports whether any prefix of a overlaps any prefix of b.
func overlaps(a, b []netip.Prefix) bool {
	for _, p := range a {
		for _, q := range b {
			if p.Overlaps(q) {
				return true
			}
		}
	}
	return false
}

// isPublic reports whether the entity holds only public addresses.
func (c *comparison) isPublic(e []netip.Prefix) bool { return len(e) > 0 && !overlaps(e, c.denied) }

// touchesPublic reports whether the entity holds some public address.
func (c *comparison) touchesPublic(e []netip.Prefix) bool {
	for _, p := range e {
		if !covered(p, c.denied) {
			return true
		}
	}
	return false
}

// covers reports whether an external intent applies to all of entity e.
func (c *comparison) covers(it *intent, e []netip.Prefix) bool {
	if it.public {
		return c.isPublic(e)
	}
	return within(e, it.prefixes)
}

// touches reports whether an external intent applies to part of entity e.
func (c *comparison) touches(it *intent, e []netip.Prefix) bool {
	if it.public {
		return c.touchesPublic(e)
	}
	return overlaps(e, it.prefixes)
}

// intended returns the ports intended between src and dst, and the intents.
func (c *comparison) intended(src, dst string) (netpol.PortSet, []*intent) {
	var ports netpol.PortSet
	var its []*intent
	add := func(it *intent) {
		ports = ports.Union(it.ports)
		its = append(its, it)
	}
	switch {
	case c.m.IsExternal(src):
		e := entityPrefixes(src)
		for _, it := range c.ingress {
			if it.dst == dst && c.covers(it, e) {
				add(it)
			}
		}
	case c.m.IsExternal(dst):
		e := entityPrefixes(dst)
		for _, it := range c.egress {
			if it.src == src && c.covers(it, e) {
				add(it)
			}
		}
	default:
		for _, it := range c.internal[[2]string{src, dst}] {
			add(it)
		}
	}
	return ports, its
}

func (c *comparison) overPermissive() []Discrepancy {
	var out []Discrepancy
	c.m.Each(func(conn netpol.Connection) bool {
		srcW, dstW := !c.m.IsExternal(conn.Src), !c.m.IsExternal(conn.Dst)
		if !(srcW && c.judged(conn.Src)) && !(dstW && c.judged(conn.Dst)) {
			return true
		}
		ports, its := c.intended(conn.Src, conn.Dst)
		excess := conn.Ports.Minus(ports)
		if excess.IsEmpty() {
			return true
		}
		d := Discrepancy{Src: conn.Src, Dst: conn.Dst, Ports: excess}
		if len(its) > 0 {
			d.Flow, d.Guide = its[0].flow, its[0].guide
		}
		v := c.explain(conn.Src, conn.Dst, nil, excess)
		d.Policies = allowingPolicies(v)
		d.Reason = "allowed but not intended: " + v.Egress.String() + "; " + v.Ingress.String()
		out = append(out, d)
		return true
	})
	return out
}

func (c *comparison) broken() []Discrepancy {
	var out []Discrepancy
	keys := make([][2]string, 0, len(c.internal))
	for k := range c.internal {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return strings.Compare(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1]) })
	for _, k := range keys {
		actual, _ := c.m.Lookup(k[0], k[1])
		for _, it := range c.internal[k] {
			if missing := c.blocked(it, it.ports.Minus(actual)); !missing.IsEmpty() {
				out = append(out, c.brokenEntry(it, k[0], k[1], nil, missing))
			}
		}
	}
	entities := c.entities()
	for _, it := range c.ingress {
		out = append(out, c.brokenExternal(it, entities, true)...)
	}
	for _, it := range c.egress {
		out = append(out, c.brokenExternal(it, entities, false)...)
	}
	return out
}

// blocked returns the ports of missing (intended by it, not allowed) that
// make a broken flow. Those the destination does not declare are model drift
// instead (Diff.Drift): the connection is refused, but the model expects a
// port the deployment does not serve, and one out-of-date port of a model
// workload would otherwise fail once per caller.
func (c *comparison) blocked(it *intent, missing netpol.PortSet) netpol.PortSet {
	if d := missing.Intersect(it.unserved); !d.IsEmpty() {
		c.addDrift(it, d)
	}
	return missing.Minus(it.unserved)
}

// brokenExternal checks an intent with an external side against every address
// entity it touches: each must allow the intended ports.
func (c *comparison) brokenExternal(it *intent, entities []string, ingress bool) []Discrepancy {
	var missing netpol.PortSet
	var sample []netip.Prefix
	for _, e := range entities {
		pe := entityPrefixes(e)
		if !c.touches(it, pe) {
			continue
		}
		var actual netpol.PortSet
		if ingress {
			actual, _ = c.m.Lookup(e, it.dst)
		} else {
			actual, _ = c.m.Lookup(it.src, e)
		}
		if m := c.blocked(it, it.ports.Minus(actual)); !m.IsEmpty() {
			missing = missing.Union(m)
			if sample == nil {
				sample = pe
			}
		}
	}
	if missing.IsEmpty() {
		return nil
	}
	if !ingress && len(it.hosts) > 0 {
		if pols := c.fqdnOpens(it, missing); pols != nil {
			d := c.brokenEntry(it, it.src, it.externalName(), sample, missing)
			d.Hosts = slices.Clone(it.hosts)
			d.Policies = pols
			d.Reason = "opened by the toFQDNs rules of " + strings.Join(pols, ", ") + ", which NetworkPolicy analysis does not evaluate"
			c.opened = append(c.opened, d)
			return nil
		}
	}
	if ingress {
		return []Discrepancy{c.brokenEntry(it, it.externalName(), it.dst, sample, missing)}
	}
	d := c.brokenEntry(it, it.src, it.externalName(), sample, missing)
	d.Hosts = slices.Clone(it.hosts)
	return []Discrepancy{d}
}

func (c *comparison) brokenEntry(it *intent, src, dst string, external []netip.Prefix, missing netpol.PortSet) Discrepancy {
	v := c.explain(src, dst, external, missing)
	reason := "intended but blocked: " + v.Egress.String() + "; " + v.Ingress.String()
	return Discrepancy{Src: src, Dst: dst, Ports: missing, Flow: it.flow, Guide: it.guide,
		Policies: blockingPolicies(v), Reason: reason}
}

func (c *comparison) entities() []string {
	var out []string
	for _, n := range c.m.Names() {
		if c.m.IsExternal(n) {
			out = append(out, n)
		}
	}
	return out
}

// explain evaluates one sample connection of a discrepancy: a pod of each
// workload, an address of the external side, and the first port of the set.
func (c *comparison) explain(src, dst string, external []netip.Prefix, ports netpol.PortSet) netpol.Verdict {
	peer := func(name string) netpol.Peer {
		if w, ok := c.in.Workload(name); ok {
			return netpol.PodPeer(w.Pod)
		}
		e := external
		if e == nil {
			e = entityPrefixes(name)
		}
		if len(e) > 0 {
			return netpol.AddressPeer(sampleAddr(e[0], c.denied))
		}
		return netpol.AddressPeer(netip.IPv4Unspecified())
	}
	ranges := ports.Ranges()
	if len(ranges) == 0 {
		return netpol.Verdict{}
	}
	return c.eng.Evaluate(peer(src), peer(dst), ranges[0].Protocol, ranges[0].Start)
}

// sampleAddr picks an address of p to explain with, preferring a public one so
// the explanation is about the traffic the entity stands for.
func sampleAddr(p netip.Prefix, denied []netip.Prefix) netip.Addr {
	for _, a := range []string{"8.8.8.8", "1.1.1.1", "2001:4860:4860::8888"} {
		addr := netip.MustParseAddr(a)
		if p.Contains(addr) && !slices.ContainsFunc(denied, func(d netip.Prefix) bool { return d.Contains(addr) }) {
			return addr
		}
	}
	return p.Addr()
}

func allowingPolicies(v netpol.Verdict) []string {
	var out []string
	for _, s := range []netpol.SideVerdict{v.Egress, v.Ingress} {
		for _, r := range s.Allowing {
			out = appendUnique(out, r.Policy.String())
		}
	}
	return out
}

func blockingPolicies(v netpol.Verdict) []string {
	var out []string
	for _, s := range []netpol.SideVerdict{v.Egress, v.Ingress} {
		if !s.Allowed {
			for _, p := range s.Isolating {
				out = appendUnique(out, p.String())
			}
		}
	}
	return out
}

func appendUnique(xs []string, s string) []string {
	if slices.Contains(xs, s) {
		return xs
	}
	return append(xs, s)
}
