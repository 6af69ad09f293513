package netpol

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strconv"

	"k8s.io/apimachinery/pkg/labels"
)

// podClass is a set of pods no policy can tell apart: same namespace, labels,
// container ports and hostNetwork, and (when ipBlocks can match them) IPs in the
// same address entities.
type podClass struct {
	rep      int   // index of one pod of the class
	entities []int // address entities of its IPs, when ipBlocks apply to them
}

// behaviour is what the matrix needs of a class or an address entity: as a
// source, its egress profile and the peers that select it; as a destination, its
// ingress profile, the peers that select it and its named ports.
type behaviour struct {
	egProf, inProf int32 // interned policy lists; 0 = not isolated
	bits           int32 // interned peer bitset
	named          int32 // interned named-port resolution
}

// interner gives small dense ids to byte strings.
type interner struct {
	ids map[string]int32
	n   int32
}

func newInterner() *interner { return &interner{ids: map[string]int32{}} }

func (in *interner) id(b []byte) (int32, bool) {
	if id, ok := in.ids[string(b)]; ok {
		return id, false
	}
	id := in.n
	in.ids[string(b)] = id
	in.n++
	return id, true
}

// matrixBuilder holds the interned tables while a Matrix is computed.
type matrixBuilder struct {
	e        *Engine
	ents     []entity
	parts    [2]addrPartition
	classes  []podClass
	podClass []int32 // pod index -> class

	profiles [][]int32 // egress or ingress policy lists by id; id 0 is the empty list
	profIDs  *interner
	bitsets  [][]uint64
	bitsIDs  *interner
	nameds   [][]int32
	namedIDs *interner
	nsPeers  map[string][]int // selector peers whose namespace part matches a namespace
	// networks: some address peer matches pod addresses whatever the
	// options (network-policy-api networks), so pod IPs matter.
	networks bool
	// hostPeers match host-network pods whatever their IPs; coverPeers match
	// pod-network pods whose IPs are unknown.
	hostPeers, coverPeers []int
	// ciliumPeers select on Cilium labels; clusterPeers match every pod.
	ciliumPeers, clusterPeers []int
}

func (e *Engine) newMatrixBuilder() *matrixBuilder {
	b := &matrixBuilder{e: e, profIDs: newInterner(), bitsIDs: newInterner(), namedIDs: newInterner()}
	b.ents, b.parts = partitionAddresses(e.peers, e.peerRules)
	b.internProfile(nil)
	for i := range e.peers {
		m := &e.peers[i]
		switch {
		case m.kind == peerNodes:
			b.hostPeers = append(b.hostPeers, i)
		case m.kind == peerCilium:
			b.ciliumPeers = append(b.ciliumPeers, i)
		case m.kind == peerCluster:
			b.clusterPeers = append(b.clusterPeers, i)
		case m.kind == peerIPBlock && m.podIPs == podIPsAlways:
			b.networks = true
			if m.coversPods {
				b.coverPeers = append(b.coverPeers, i)
			}
		}
	}
	b.nsPeers = make(map[string][]int, len(e.nsLabels))
	for ns, set := range e.nsLabels {
		for i := range e.peers {
			m := &e.peers[i]
			if m.kind != peerSelector {
				continue
			}
			if (m.nsSel == nil && m.policyNS == ns) || (m.nsSel != nil && m.nsSel.Matches(set)) {
				b.nsPeers[ns] = append(b.nsPeers[ns], i)
			}
		}
	}
	return b
}

func (b *matrixBuilder) ipsMatter(p *Pod) bool {
	return len(p.IPs) > 0 && (p.HostNetwork || b.e.opts.IPBlockMatchesPods || b.networks)
}

// classify groups the pods into classes.
func (b *matrixBuilder) classify() {
	b.podClass = make([]int32, len(b.e.pods))
	ids := map[string]int32{}
	var key []byte
	for pi := range b.e.pods {
		var ents []int
		key, ents = b.classKey(key[:0], &b.e.pods[pi])
		id, ok := ids[string(key)]
		if !ok {
			id = int32(len(b.classes))
			ids[string(key)] = id
			b.classes = append(b.classes, podClass{rep: pi, entities: ents})
		}
		b.podClass[pi] = id
	}
}

// classKey appends to key what tells a pod's class apart (namespace,
// labels, ports, hostNetwork, the address entities of its IPs when they
// matter) and returns those entities.
func (b *matrixBuilder) classKey(key []byte, p *Pod) ([]byte, []int) {
	ks := make([]string, 0, len(p.Labels))
	key = append(key, p.Namespace...)
	key = append(key, 0)
	for k := range p.Labels {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	for _, k := range ks {
		key = append(append(append(key, k...), '='), p.Labels[k]...)
		key = append(key, 0)
	}
	key = append(key, 1)
	for _, cp := range p.Ports {
		key = append(append(key, cp.Name...), ':')
		key = strconv.AppendInt(key, int64(cp.Port), 10)
		key = append(append(key, cp.Protocol...), 0)
	}
	var ents []int
	if b.ipsMatter(p) {
		for _, a := range p.IPs {
			ents = append(ents, b.entityOf(a))
		}
		slices.Sort(ents)
		ents = slices.Compact(ents)
	}
	key = append(key, 2)
	if p.HostNetwork {
		key = append(key, 'h')
	}
	for _, x := range ents {
		key = strconv.AppendInt(append(key, ','), int64(x), 10)
	}
	return key, ents
}

func (b *matrixBuilder) entityOf(a netip.Addr) int {
	a = a.Unmap()
	if a.Is4() {
		return b.parts[0].entityOf(a)
	}
	return b.parts[1].entityOf(a)
}

func (b *matrixBuilder) internProfile(list []int32) int32 {
	buf := make([]byte, 0, 4*len(list))
	for _, x := range list {
		buf = binary.LittleEndian.AppendUint32(buf, uint32(x))
	}
	id, isNew := b.profIDs.id(buf)
	if isNew {
		b.profiles = append(b.profiles, list)
	}
	return id
}

func (b *matrixBuilder) internBits(bits []uint64) int32 {
	buf := make([]byte, 0, 8*len(bits))
	for _, w := range bits {
		buf = binary.LittleEndian.AppendUint64(buf, w)
	}
	id, isNew := b.bitsIDs.id(buf)
	if isNew {
		b.bitsets = append(b.bitsets, bits)
	}
	return id
}

func (b *matrixBuilder) internNamed(vals []int32) int32 {
	buf := make([]byte, 0, 4*len(vals))
	for _, x := range vals {
		buf = binary.LittleEndian.AppendUint32(buf, uint32(x))
	}
	id, isNew := b.namedIDs.id(buf)
	if isNew {
		b.nameds = append(b.nameds, vals)
	}
	return id
}

// classBehaviour computes what the matrix needs of one class.
func (b *matrixBuilder) classBehaviour(c *podClass) behaviour {
	e := b.e
	p := &e.pods[c.rep]
	bits := make([]uint64, (len(e.peers)+63)/64)
	for _, x := range c.entities {
		for _, pi := range b.ents[x].peers {
			if e.peers[pi].matchesPodAddr(p.HostNetwork, e.opts.IPBlockMatchesPods) {
				bits[pi/64] |= 1 << (pi % 64)
			}
		}
	}
	for _, pi := range b.clusterPeers {
		bits[pi/64] |= 1 << (pi % 64)
	}
	if p.HostNetwork {
		for _, pi := range b.hostPeers {
			bits[pi/64] |= 1 << (pi % 64)
		}
	} else if len(p.IPs) == 0 {
		for _, pi := range b.coverPeers {
			bits[pi/64] |= 1 << (pi % 64)
		}
	}
	named := make([]int32, len(e.named))
	for i, np := range e.named {
		if !p.HostNetwork {
			named[i] = resolveNamed(p.Ports, np)
		}
	}
	bh := behaviour{named: b.internNamed(named)}
	if p.HostNetwork {
		// Host-network pods are neither isolated nor selectable by selectors.
		bh.bits = b.internBits(bits)
		return bh
	}
	if len(b.ciliumPeers) > 0 {
		cl := e.ciliumLabels(p)
		for _, pi := range b.ciliumPeers {
			m := &e.peers[pi]
			if (m.policyNS == "" || m.policyNS == p.Namespace) && m.podSel.Matches(cl) {
				bits[pi/64] |= 1 << (pi % 64)
			}
		}
	}
	set := labels.Set(p.Labels)
	for _, pi := range b.nsPeers[p.Namespace] {
		if e.peers[pi].podSel.Matches(set) {
			bits[pi/64] |= 1 << (pi % 64)
		}
	}
	var eg, in []int32
	// Profiles list the policies in evaluation order as handles: the Admin
	// tier, NetworkPolicies, then the Baseline tier (handleTier marks tiered
	// policies), so sideSet walks them as Evaluate does.
	t := 0
	for ; t < len(e.tiers) && e.tiers[t].tier == TierAdmin; t++ {
		eg, in = e.appendTier(eg, in, t, p)
	}
	for _, idx := range e.byNS[p.Namespace] {
		cp := &e.policies[idx]
		if (!cp.egress && !cp.ingress) || !cp.sel.Matches(set) {
			continue
		}
		if cp.egress {
			eg = append(eg, int32(idx))
		}
		if cp.ingress {
			in = append(in, int32(idx))
		}
	}
	if len(e.cilium) > 0 {
		cl := e.ciliumLabels(p)
		for ci := range e.cilium {
			cp := &e.cilium[ci]
			if cp.sel == nil || (cp.ns != "" && cp.ns != p.Namespace) || !cp.sel.Matches(cl) {
				continue
			}
			if cp.hasEg {
				eg = append(eg, handleCilium|int32(ci))
			}
			if cp.hasIn {
				in = append(in, handleCilium|int32(ci))
			}
		}
	}
	for ; t < len(e.tiers); t++ {
		eg, in = e.appendTier(eg, in, t, p)
	}
	bh.egProf, bh.inProf, bh.bits = b.internProfile(eg), b.internProfile(in), b.internBits(bits)
	return bh
}

// entityBehaviour: addresses are never isolated and only ipBlocks select them.
func (b *matrixBuilder) entityBehaviour(x int) behaviour {
	bits := make([]uint64, (len(b.e.peers)+63)/64)
	for _, pi := range b.ents[x].peers {
		bits[pi/64] |= 1 << (pi % 64)
	}
	return behaviour{bits: b.internBits(bits), named: b.internNamed(make([]int32, len(b.e.named)))}
}

// handleTier marks a profile entry as an index into Engine.tiers,
// handleCilium one into Engine.cilium.
const (
	handleTier   int32 = 1 << 28
	handleCilium int32 = 1 << 29
)

func (e *Engine) appendTier(eg, in []int32, t int, p *Pod) ([]int32, []int32) {
	tp := &e.tiers[t]
	if (len(tp.egRules) == 0 && len(tp.inRules) == 0) || !e.tierSelects(tp, p) {
		return eg, in
	}
	if len(tp.egRules) > 0 {
		eg = append(eg, handleTier|int32(t))
	}
	if len(tp.inRules) > 0 {
		in = append(in, handleTier|int32(t))
	}
	return eg, in
}

// rulePorts is a rule's ports with its named ports resolved on the destination.
func (b *matrixBuilder) rulePorts(cp *compiledPorts, named []int32) PortSet {
	out := cp.numeric
	for _, n := range cp.named {
		if port := named[n]; port != 0 {
			out = out.Union(singleRange(PortRange{Protocol: protocols[b.e.named[n].proto], Start: port, End: port}))
		}
	}
	return out
}

// tieredSet is sideSet for a profile with tiered policies, walking the
// tiers as Engine.side does, on port sets: what the Admin tier accepts or
// denies is decided; the rest goes to NetworkPolicies if any selects the
// pod, else to the Baseline tier, and what is left is allowed.
func (b *matrixBuilder) tieredSet(list []int32, dir Direction, bits []uint64, named []int32) PortSet {
	e := b.e
	var allowed PortSet
	rest := AllPorts()
	var passed PortSet // ports a Pass rule sent on: they skip the rest of the Admin tier
	i := 0
	for ; i < len(list) && list[i]&handleTier != 0 && e.tiers[list[i]&^handleTier].tier == TierAdmin; i++ {
		rules := e.tiers[list[i]&^handleTier].rules(dir)
		for ri := range rules {
			r := &rules[ri]
			if !anyBit(bits, r.peers) {
				continue
			}
			ps := b.rulePorts(&r.ports, named).Intersect(rest)
			if ps.IsEmpty() {
				continue
			}
			switch r.action {
			case ActionAccept:
				allowed = allowed.Union(ps)
			case ActionPass:
				passed = passed.Union(ps)
			}
			rest = rest.Minus(ps)
		}
	}
	rest = rest.Union(passed)
	isolated := false
	var npAllow, deny PortSet
	for ; i < len(list) && list[i]&handleTier == 0; i++ {
		if list[i]&handleCilium != 0 {
			cp := &e.cilium[list[i]&^handleCilium]
			isolated = isolated || cp.defaultDeny(dir)
			for _, d := range []bool{false, true} {
				rules := cp.rules(dir, d)
				for ri := range rules {
					r := &rules[ri]
					if !r.allPeers && !anyBit(bits, r.peers) {
						continue
					}
					if d {
						deny = deny.Union(b.rulePorts(&r.ports, named))
					} else {
						npAllow = npAllow.Union(b.rulePorts(&r.ports, named))
					}
				}
			}
			continue
		}
		isolated = true
		cp := &e.policies[list[i]]
		rules := cp.inRules
		if dir == Egress {
			rules = cp.egRules
		}
		for ri := range rules {
			r := &rules[ri]
			if r.allPeers || anyBit(bits, r.peers) {
				npAllow = npAllow.Union(b.rulePorts(&r.ports, named))
			}
		}
	}
	if isolated {
		return allowed.Union(rest.Intersect(npAllow).Minus(deny))
	}
	rest = rest.Minus(deny)
	for ; i < len(list); i++ {
		rules := e.tiers[list[i]&^handleTier].rules(dir)
		for ri := range rules {
			r := &rules[ri]
			if !anyBit(bits, r.peers) {
				continue
			}
			ps := b.rulePorts(&r.ports, named).Intersect(rest)
			if r.action == ActionAccept {
				allowed = allowed.Union(ps)
			}
			rest = rest.Minus(ps)
		}
	}
	return allowed.Union(rest)
}

// sideSet is the ports the rules of a profile allow towards or from a peer with
// the given bits, named ports resolving on the destination.
func (b *matrixBuilder) sideSet(prof int32, dir Direction, bits []uint64, named []int32) PortSet {
	if prof == 0 {
		return AllPorts()
	}
	if list := b.profiles[prof]; (list[0]|list[len(list)-1])&(handleTier|handleCilium) != 0 {
		return b.tieredSet(list, dir, bits, named)
	}
	var out PortSet
	for _, idx := range b.profiles[prof] {
		cp := &b.e.policies[idx]
		rules := cp.inRules
		if dir == Egress {
			rules = cp.egRules
		}
		for i := range rules {
			r := &rules[i]
			if !r.allPeers && !anyBit(bits, r.peers) {
				continue
			}
			out = out.Union(r.ports.numeric)
			for _, n := range r.ports.named {
				if port := named[n]; port != 0 {
					out = out.Union(singleRange(PortRange{Protocol: protocols[b.e.named[n].proto], Start: port, End: port}))
				}
			}
		}
	}
	return out
}

func anyBit(bits []uint64, idx []int) bool {
	for _, i := range idx {
		// A bitset interned before later peers were added (incremental.go)
		// is shorter: those peers do not select it.
		if i/64 < len(bits) && bits[i/64]&(1<<(i%64)) != 0 {
			return true
		}
	}
	return false
}

// countUnique sorts xs and returns its distinct values and, appended to
// buf, how often each occurs (a subslice of buf, which is returned grown).
func countUnique(xs []int32, buf []int32) ([]int32, []int32, []int32) {
	slices.Sort(xs)
	start := len(buf)
	out := xs[:0]
	for i, x := range xs {
		if i > 0 && x == out[len(out)-1] {
			buf[len(buf)-1]++
			continue
		}
		out = append(out, x)
		buf = append(buf, 1)
	}
	return out, buf[start:len(buf):len(buf)], buf
}
