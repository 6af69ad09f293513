package diff

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/budnet/budnet/internal/reach"
)

// entity is an address entity of one matrix: its name and its CIDRs.
type entity struct {
	name     string
	prefixes []netip.Prefix
}

// region is a part of the address space that one entity of each side holds
// whole: the unit two matrices' address connections can be compared on.
type region struct {
	base, head string
	prefixes   []netip.Prefix
}

// externalChanges compares every workload's connections with the address
// space, part by part (regions), and merges the parts of one workload that
// changed alike into one change named by their CIDRs.
func externalChanges(bm, hm reach.Connectivity, ix *intentIndex) []Change {
	regions := refine(entities(bm), entities(hm))
	type groupKey struct {
		src, dst      string // the workload, and "" for the address side
		before, after string
		intent        Intent
		flow          string
	}
	groups := map[groupKey]*Change{}
	parts := map[groupKey][]netip.Prefix{}
	var order []groupKey
	for _, w := range workloads(bm, hm) {
		for _, egress := range []bool{true, false} {
			for _, r := range regions {
				bk, hk := pairKey{w, r.base}, pairKey{w, r.head}
				if !egress {
					bk, hk = pairKey{r.base, w}, pairKey{r.head, w}
				}
				before, _ := bm.Lookup(bk.src, bk.dst)
				after, _ := hm.Lookup(hk.src, hk.dst)
				if before.Equal(after) {
					continue
				}
				c := newChange(hk.src, hk.dst, before, after)
				ix.judge(&c, bk, hk, &sideKey{workload: w, egress: egress})
				k := groupKey{before: before.String(), after: after.String(), intent: c.Intent, flow: c.Flow}
				if egress {
					k.src = w
				} else {
					k.dst = w
				}
				if _, ok := groups[k]; !ok {
					groups[k] = &c
					order = append(order, k)
				} else {
					groups[k].IntentPorts = groups[k].IntentPorts.Union(c.IntentPorts)
				}
				parts[k] = append(parts[k], r.prefixes...)
			}
		}
	}
	out := make([]Change, 0, len(order))
	for _, k := range order {
		c := *groups[k]
		name := cidrNames(parts[k])
		if k.src != "" {
			c.Dst = name
		} else {
			c.Src = name
		}
		out = append(out, c)
	}
	return out
}

// workloads lists the workload names of both matrices.
func workloads(ms ...reach.Connectivity) []string {
	var out []string
	for _, m := range ms {
		for _, n := range m.Names() {
			if !m.IsExternal(n) {
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func entities(m reach.Connectivity) []entity {
	var out []entity
	for _, n := range m.Names() {
		if m.IsExternal(n) {
			out = append(out, entity{name: n, prefixes: parsePrefixes(n)})
		}
	}
	return out
}

// refine intersects the two partitions of the address space: every part
// lies in one entity of each side. Each side's entities are disjoint, so
// two prefixes that overlap intersect in the longer one.
func refine(base, head []entity) []region {
	var out []region
	for _, b := range base {
		for _, h := range head {
			var common []netip.Prefix
			for _, p := range b.prefixes {
				for _, q := range h.prefixes {
					if !p.Overlaps(q) {
						continue
					}
					if p.Bits() >= q.Bits() {
						common = append(common, p)
					} else {
						common = append(common, q)
					}
				}
			}
			if len(common) > 0 {
				out = append(out, region{base: b.name, head: h.name, prefixes: common})
			}
		}
	}
	return out
}

// parsePrefixes reads an entity name, CIDRs joined by commas.
func parsePrefixes(name string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range strings.Split(name, ",") {
		if p, err := netip.ParsePrefix(strings.TrimSpace(s)); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

// cidrNames names a set of disjoint prefixes as the engine names entities:
// the fewest CIDRs, in address order (IPv4 first), joined by commas. Two
// halves of one prefix merge until none do; that is the unique cover by
// the largest aligned blocks, which is what the engine's names are.
func cidrNames(ps []netip.Prefix) string {
	ps = slices.Clone(ps)
	for merged := true; merged; {
		merged = false
		slices.SortFunc(ps, comparePrefix)
		ps = slices.Compact(ps)
		for i := 0; i+1 < len(ps); i++ {
			a, b := ps[i], ps[i+1]
			if a.Bits() == 0 || a.Bits() != b.Bits() || a.Addr().Is4() != b.Addr().Is4() {
				continue
			}
			pa, _ := a.Addr().Prefix(a.Bits() - 1)
			pb, _ := b.Addr().Prefix(b.Bits() - 1)
			if pa == pb {
				ps[i], ps = pa, slices.Delete(ps, i+1, i+2)
				merged = true
			}
		}
	}
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.String()
	}
	return strings.Join(names, ",")
}

func comparePrefix(a, b netip.Prefix) int {
	if a.Addr().Is4() != b.Addr().Is4() {
		if a.Addr().Is4() {
			return -1
		}
		return 1
	}
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}
