package diff

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/budnet/budnet/internal/audit"
	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/reach"
)

// pairKey names an ordered pair of the matrix.
type pairKey struct{ src, dst string }

// connectionChanges compares the two matrices pair by pair. Workload pairs
// are compared by name. Address entities are not: each matrix cuts the
// address space where its own ipBlocks do, so the two sides are first
// refined to their common parts (netpol-analyzer does the same with
// DisjointPeerIPMap), each part compared, and parts of one workload with the
// same change merged back into CIDRs.
func connectionChanges(base, head *audit.ReachView, ix *intentIndex) []Change {
	var out []Change
	before, after := workloadPairs(base.Matrix), workloadPairs(head.Matrix)
	keys := make([]pairKey, 0, len(before)+len(after))
	for k := range before {
		keys = append(keys, k)
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		b, a := before[k], after[k]
		if b.Equal(a) {
			continue
		}
		c := newChange(k.src, k.dst, b, a)
		ix.judge(&c, k, k, nil)
		out = append(out, c)
	}
	out = append(out, externalChanges(base.Matrix, head.Matrix, ix)...)
	for i := range out {
		c := &out[i]
		c.Workloads = workloadsInfo(c, base, head)
		c.Base = decide(base, c.Src, c.Dst, c.Port)
		c.Head = decide(head, c.Src, c.Dst, c.Port)
	}
	order := map[Kind]int{Changed: 0, Added: 1, Removed: 2}
	slices.SortFunc(out, func(a, b Change) int {
		if d := order[a.Kind] - order[b.Kind]; d != 0 {
			return d
		}
		if d := strings.Compare(a.Src, b.Src); d != 0 {
			return d
		}
		return strings.Compare(a.Dst, b.Dst)
	})
	return out
}

func newChange(src, dst string, before, after netpol.PortSet) Change {
	c := Change{Src: src, Dst: dst, Before: before, After: after, Opened: after.Minus(before), Closed: before.Minus(after)}
	switch {
	case before.IsEmpty():
		c.Kind = Added
	case after.IsEmpty():
		c.Kind = Removed
	default:
		c.Kind = Changed
	}
	sample := c.Opened
	if sample.IsEmpty() {
		sample = c.Closed
	}
	if rs := sample.Ranges(); len(rs) > 0 {
		c.Port = netpol.PortRange{Protocol: rs[0].Protocol, Start: rs[0].Start, End: rs[0].Start}
	}
	return c
}

// workloadPairs are the matrix's allowed pairs of two workloads.
func workloadPairs(m reach.Connectivity) map[pairKey]netpol.PortSet {
	out := map[pairKey]netpol.PortSet{}
	m.Each(func(c netpol.Connection) bool {
		if !m.IsExternal(c.Src) && !m.IsExternal(c.Dst) {
			out[pairKey{c.Src, c.Dst}] = c.Ports
		}
		return true
	})
	return out
}

// workloadsInfo says which side of the pair exists in one input only.
func workloadsInfo(c *Change, base, head *audit.ReachView) string {
	var parts []string
	verb := ""
	for _, name := range []string{c.Src, c.Dst} {
		_, inBase := base.Input.Workload(name)
		_, inHead := head.Input.Workload(name)
		switch {
		case inHead && !inBase:
			parts, verb = append(parts, name), "added"
		case inBase && !inHead:
			parts, verb = append(parts, name), "removed"
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "workload " + strings.Join(parts, " and ") + " " + verb
}

// decide explains the sample port of a change on one side: the first pod of
// each workload, and for an address range a public address in it when there
// is one.
func decide(v *audit.ReachView, src, dst string, port netpol.PortRange) Decision {
	s, okS := peerOf(v, src)
	d, okD := peerOf(v, dst)
	if !okS || !okD || port.Protocol == "" {
		missing := src
		if okS {
			missing = dst
		}
		return Decision{Reason: "no workload " + missing + " in this input"}
	}
	verdict := v.Engine.Evaluate(s, d, port.Protocol, port.Start)
	return Decision{Allowed: verdict.Allowed, Policies: deciding(verdict), Reason: verdict.String()}
}

func peerOf(v *audit.ReachView, name string) (netpol.Peer, bool) {
	if w, ok := v.Input.Workload(name); ok {
		return netpol.PodPeer(w.Pod), true
	}
	ps := parsePrefixes(name)
	if len(ps) == 0 {
		return netpol.Peer{}, false
	}
	return netpol.AddressPeer(sampleAddr(ps)), true
}

// sampleAddr picks an address of the range to explain with, preferring a
// well-known public one so the explanation is about internet traffic.
func sampleAddr(ps []netip.Prefix) netip.Addr {
	for _, s := range []string{"8.8.8.8", "1.1.1.1", "2001:4860:4860::8888"} {
		a := netip.MustParseAddr(s)
		for _, p := range ps {
			if p.Contains(a) {
				return a
			}
		}
	}
	return ps[0].Addr()
}

// deciding names the policies that decide a verdict: on an allow, those
// whose rules allow it; on a deny, those isolating the side that denies.
func deciding(v netpol.Verdict) []string {
	var out []string
	add := func(s string) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, side := range []netpol.SideVerdict{v.Egress, v.Ingress} {
		switch {
		case v.Allowed:
			for _, r := range side.Allowing {
				add(r.Policy.String())
			}
		case !side.Allowed:
			for _, p := range side.Isolating {
				add(p.String())
			}
		}
	}
	return out
}
