package netpol

import (
	"math/bits"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// u128 is an address as a 128-bit number; IPv4 addresses use the low 32 bits.
type u128 struct{ hi, lo uint64 }

func addrToU(a netip.Addr) u128 {
	if a.Is4() {
		b := a.As4()
		return u128{lo: uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])}
	}
	b := a.As16()
	var u u128
	for i := 0; i < 8; i++ {
		u.hi = u.hi<<8 | uint64(b[i])
		u.lo = u.lo<<8 | uint64(b[i+8])
	}
	return u
}

func uToAddr(u u128, v4 bool) netip.Addr {
	if v4 {
		return netip.AddrFrom4([4]byte{byte(u.lo >> 24), byte(u.lo >> 16), byte(u.lo >> 8), byte(u.lo)})
	}
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[7-i] = byte(u.hi >> (8 * i))
		b[15-i] = byte(u.lo >> (8 * i))
	}
	return netip.AddrFrom16(b)
}

func (u u128) cmp(o u128) int {
	switch {
	case u.hi < o.hi || (u.hi == o.hi && u.lo < o.lo):
		return -1
	case u == o:
		return 0
	}
	return 1
}

func (u u128) add1() u128 {
	lo, c := bits.Add64(u.lo, 1, 0)
	return u128{u.hi + c, lo}
}

func (u u128) sub1() u128 {
	lo, b := bits.Sub64(u.lo, 1, 0)
	return u128{u.hi - b, lo}
}

// trailingZeros counts the zero bits at the low end, capped at width.
func (u u128) trailingZeros(width int) int {
	tz := bits.TrailingZeros64(u.lo)
	if u.lo == 0 {
		tz = 64 + bits.TrailingZeros64(u.hi)
	}
	return min(tz, width)
}

// hostMask is the number with the low n bits set.
func hostMask(n int) u128 {
	switch {
	case n <= 0:
		return u128{}
	case n < 64:
		return u128{lo: 1<<uint(n) - 1}
	case n < 128:
		return u128{hi: 1<<uint(n-64) - 1, lo: ^uint64(0)}
	}
	return u128{^uint64(0), ^uint64(0)}
}

func (u u128) or(o u128) u128 { return u128{u.hi | o.hi, u.lo | o.lo} }

// prefixRange is the first and last address of a prefix.
func prefixRange(p netip.Prefix) (u128, u128) {
	width := p.Addr().BitLen()
	first := addrToU(p.Masked().Addr())
	return first, first.or(hostMask(width - p.Bits()))
}

// rangeToCIDRs is the minimal list of prefixes covering first..last exactly.
func rangeToCIDRs(first, last u128, v4 bool) []netip.Prefix {
	width := 128
	if v4 {
		width = 32
	}
	var out []netip.Prefix
	for first.cmp(last) <= 0 {
		// The largest aligned block starting at first that does not pass last.
		n := first.trailingZeros(width)
		for n > 0 && first.or(hostMask(n)).cmp(last) > 0 {
			n--
		}
		out = append(out, netip.PrefixFrom(uToAddr(first, v4), width-n))
		end := first.or(hostMask(n))
		if end == hostMask(width) {
			break
		}
		first = end.add1()
	}
	return out
}

// addrPartition splits one address family into the maximal parts that every
// ipBlock peer treats alike: the entities of the matrix.
type addrPartition struct {
	v4     bool
	starts []u128 // interval i is starts[i] .. starts[i+1]-1 (the last runs to the family's end)
	entity []int  // interval -> entity index
}

type entity struct {
	name  string
	v4    bool
	rep   netip.Addr // an address of the entity, for explanations and tests
	peers []int      // ipBlock peers (indices into Engine.peers) matching it
}

// partitionAddresses builds the entities of both families: addresses are alike
// when the same rules' ipBlocks contain them. With no ipBlock in a family its
// single entity is the whole family (0.0.0.0/0 or ::/0).
func partitionAddresses(peers []peerMatcher, peerRules [][]int32) ([]entity, [2]addrPartition) {
	var ents []entity
	var parts [2]addrPartition
	for fi, v4 := range []bool{true, false} {
		parts[fi] = partitionFamily(peers, peerRules, v4, &ents)
	}
	return ents, parts
}

func partitionFamily(peers []peerMatcher, peerRules [][]int32, v4 bool, ents *[]entity) addrPartition {
	top := hostMask(32)
	if !v4 {
		top = hostMask(128)
	}
	pts, sig := intervals(peers, v4)
	part := addrPartition{v4: v4, starts: pts, entity: make([]int, len(pts))}
	type group struct {
		idx    int
		ranges [][2]u128
		peers  []int
	}
	groups := map[string]*group{}
	var order []*group
	var key []byte
	var rules []int32
	for i := range pts {
		rules = rules[:0]
		for _, b := range sig[i] {
			rules = append(rules, peerRules[b]...)
		}
		slices.Sort(rules)
		rules = slices.Compact(rules)
		key = key[:0]
		for _, r := range rules {
			key = strconv.AppendInt(append(key, ','), int64(r), 10)
		}
		g, ok := groups[string(key)]
		if !ok {
			g = &group{idx: len(*ents) + len(order)}
			groups[string(key)] = g
			order = append(order, g)
		}
		// Parts matched by different peers of the same rules merge; the union
		// of their peers selects exactly the same rules.
		g.peers = append(g.peers, sig[i]...)
		part.entity[i] = g.idx
		last := top
		if i+1 < len(pts) {
			last = pts[i+1].sub1()
		}
		if n := len(g.ranges); n > 0 && g.ranges[n-1][1].add1() == pts[i] {
			g.ranges[n-1][1] = last
		} else {
			g.ranges = append(g.ranges, [2]u128{pts[i], last})
		}
	}
	for _, g := range order {
		var names []string
		for _, r := range g.ranges {
			for _, p := range rangeToCIDRs(r[0], r[1], v4) {
				names = append(names, p.String())
			}
		}
		slices.Sort(g.peers)
		*ents = append(*ents, entity{
			name:  strings.Join(names, ","),
			v4:    v4,
			rep:   uToAddr(g.ranges[0][0], v4),
			peers: slices.Compact(g.peers),
		})
	}
	return part
}

// intervals cuts a family at every ipBlock CIDR and except boundary; sig[i]
// lists the ipBlock peers containing interval i (starting at pts[i]).
func intervals(peers []peerMatcher, v4 bool) (pts []u128, sig [][]int) {
	top := hostMask(32)
	if !v4 {
		top = hostMask(128)
	}
	pts = []u128{{}}
	var blocks []int
	for i := range peers {
		m := &peers[i]
		if m.kind != peerIPBlock || m.cidr.Addr().Is4() != v4 {
			continue
		}
		blocks = append(blocks, i)
		for _, p := range append([]netip.Prefix{m.cidr}, m.except...) {
			f, l := prefixRange(p)
			pts = append(pts, f)
			if l != top {
				pts = append(pts, l.add1())
			}
		}
	}
	slices.SortFunc(pts, u128.cmp)
	pts = slices.Compact(pts)
	sig = make([][]int, len(pts))
	for _, bi := range blocks {
		m := &peers[bi]
		lo, hi := intervalSpan(pts, m.cidr)
		for i := lo; i < hi; i++ {
			if !insideAny(pts[i], m.except) {
				sig[i] = append(sig[i], bi)
			}
		}
	}
	return pts, sig
}

// intervalSpan is the half-open range of interval indices inside the prefix.
func intervalSpan(pts []u128, p netip.Prefix) (int, int) {
	f, l := prefixRange(p)
	lo, _ := slices.BinarySearchFunc(pts, f, u128.cmp)
	hi := len(pts)
	if l != hostMask(p.Addr().BitLen()) {
		hi, _ = slices.BinarySearchFunc(pts, l.add1(), u128.cmp)
	}
	return lo, hi
}

func insideAny(u u128, ps []netip.Prefix) bool {
	for _, p := range ps {
		f, l := prefixRange(p)
		if f.cmp(u) <= 0 && u.cmp(l) <= 0 {
			return true
		}
	}
	return false
}

// entityOf is the entity holding an address.
func (p *addrPartition) entityOf(a netip.Addr) int {
	u := addrToU(a)
	i, found := slices.BinarySearchFunc(p.starts, u, u128.cmp)
	if !found {
		i--
	}
	return p.entity[i]
}
