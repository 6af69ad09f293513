package diff

import (
	"strings"

	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/reach"
)

// intentIndex holds the model comparisons of both sides, keyed for judging
// connection changes.
type intentIndex struct {
	// baseOver and headOver are each side's over-permissive ports by pair,
	// with the first discrepancy for its flow and guide row.
	baseOver, headOver map[pairKey]portsOf
	// broken and repaired are keyed by pair; for a flow with an external
	// side the key's external name is the model's (hosts or CIDRs), so
	// brokenBySide keys them by their workload and direction too.
	broken, repaired             map[pairKey]portsOf
	brokenBySide, repairedBySide map[sideKey]portsOf
	// newlyBroken and repairedList are Result.NewlyBroken and Result.Repaired.
	newlyBroken, repairedList []reach.Discrepancy
}

// portsOf is a set of ports and the discrepancy that named a flow for them.
type portsOf struct {
	ports netpol.PortSet
	first reach.Discrepancy
}

// sideKey is a workload and whether it is the source (egress to an
// address range) or the destination (ingress from one).
type sideKey struct {
	workload string
	egress   bool
}

func newIntentIndex(base, head *reach.Diff) *intentIndex {
	ix := &intentIndex{
		baseOver: overIndex(base.OverPermissive), headOver: overIndex(head.OverPermissive),
		broken: map[pairKey]portsOf{}, repaired: map[pairKey]portsOf{},
		brokenBySide: map[sideKey]portsOf{}, repairedBySide: map[sideKey]portsOf{},
	}
	ix.newlyBroken = reach.Added(base.Broken, head.Broken)
	ix.repairedList = reach.Added(head.Broken, base.Broken)
	index(ix.newlyBroken, ix.broken, ix.brokenBySide)
	index(ix.repairedList, ix.repaired, ix.repairedBySide)
	return ix
}

func overIndex(ds []reach.Discrepancy) map[pairKey]portsOf {
	out := map[pairKey]portsOf{}
	for _, d := range ds {
		k := pairKey{d.Src, d.Dst}
		p, ok := out[k]
		if !ok {
			p.first = d
		}
		p.ports = p.ports.Union(d.Ports)
		out[k] = p
	}
	return out
}

func index(ds []reach.Discrepancy, byPair map[pairKey]portsOf, bySide map[sideKey]portsOf) {
	add := func(m map[pairKey]portsOf, k pairKey, d reach.Discrepancy) {
		p, ok := m[k]
		if !ok {
			p.first = d
		}
		p.ports = p.ports.Union(d.Ports)
		m[k] = p
	}
	for _, d := range ds {
		add(byPair, pairKey{d.Src, d.Dst}, d)
		// Only flows with an external side are keyed by their workload:
		// workloads are named ns/name[Kind], the external side by CIDRs or
		// host names.
		var sides []sideKey
		if !isWorkloadName(d.Dst) {
			sides = append(sides, sideKey{d.Src, true})
		}
		if !isWorkloadName(d.Src) {
			sides = append(sides, sideKey{d.Dst, false})
		}
		for _, sk := range sides {
			p, ok := bySide[sk]
			if !ok {
				p.first = d
			}
			p.ports = p.ports.Union(d.Ports)
			bySide[sk] = p
		}
	}
}

// judge sets the intent of change c between the base pair bk and the head
// pair hk (the same pair for two workloads; for an address range, the
// entity of each side that holds the compared part). side is set for a
// pair with an address range: the workload and its direction.
func (ix *intentIndex) judge(c *Change, bk, hk pairKey, side *sideKey) {
	set := func(in Intent, ports netpol.PortSet, d reach.Discrepancy) bool {
		if ports.IsEmpty() {
			return false
		}
		c.Intent, c.IntentPorts, c.Flow, c.Guide = in, ports, d.Flow, d.Guide
		return true
	}
	lookup := func(byPair map[pairKey]portsOf, bySide map[sideKey]portsOf, k pairKey) portsOf {
		if side != nil {
			return bySide[*side]
		}
		return byPair[k]
	}
	over := ix.headOver[hk]
	brk := lookup(ix.broken, ix.brokenBySide, hk)
	rep := lookup(ix.repaired, ix.repairedBySide, bk)
	was := ix.baseOver[bk]
	switch {
	case set(Unintended, c.Opened.Intersect(over.ports), over.first):
	case set(Breaks, c.Closed.Intersect(brk.ports), brk.first):
	case set(Fixes, c.Opened.Intersect(rep.ports), rep.first):
	case set(Tightens, c.Closed.Intersect(was.ports), was.first):
	default:
		c.Intent = Consistent
	}
}

// isWorkloadName tells a workload ("ns/name[Kind]") from an external side.
func isWorkloadName(s string) bool { return strings.HasSuffix(s, "]") }
