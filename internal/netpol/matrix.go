package netpol

import (
	"slices"
)

// Connection is one ordered pair of the matrix with the ports it allows. Src and
// Dst are workload names or address entity names (CIDR lists).
type Connection struct {
	Src, Dst string
	Ports    PortSet
	// PodPairs and FullPairs are set when the reachability is partial: the
	// workloads' pods differ, and only FullPairs of the PodPairs source-pod
	// to destination-pod pairs are allowed all of Ports (the others fewer
	// or none). Both are 0 when every pair is allowed the same.
	PodPairs, FullPairs int
}

// Partial reports whether only some pod pairs are allowed all of Ports.
func (c Connection) Partial() bool { return c.FullPairs < c.PodPairs }

// MatrixStats tells how far the class grouping reduced the work.
type MatrixStats struct {
	Pods, Classes, Workloads, Entities int
	// SrcKeys and DstKeys are the distinct source and destination behaviours;
	// the matrix computes SrcKeys x DstKeys port sets.
	SrcKeys, DstKeys int
	PortSets         int // distinct port sets
}

// Matrix is the connectivity of every ordered pair of workloads and address
// entities, computed per behaviour class and expanded on iteration.
type Matrix struct {
	nodes  []mnode // sorted by name
	byName map[string]int
	nDst   int
	table  []int32 // srcKey*nDst + dstKey -> port set id
	sets   []PortSet
	stats  MatrixStats
}

type mnode struct {
	name     string
	external bool
	src, dst []int32 // behaviour keys of the node's classes
	// srcN, dstN count the node's pods per key (parallel to src, dst).
	srcN, dstN []int32
}

// set ids fixed by the builder.
const (
	setNone int32 = 0
	setAll  int32 = 1
)

// Matrix computes the connectivity matrix. Pods that no policy can tell apart
// are grouped into classes, and classes and entities with the same policy
// behaviour share one computation; nothing is enumerated per pod pair.
func (e *Engine) Matrix() *Matrix {
	b := e.newMatrixBuilder()
	b.classify()
	srcIDs, dstIDs := map[[2]int32]int32{}, map[[3]int32]int32{}
	var srcKeys [][2]int32
	var dstKeys [][3]int32
	keyOf := func(bh behaviour) (int32, int32) {
		sk := [2]int32{bh.egProf, bh.bits}
		s, ok := srcIDs[sk]
		if !ok {
			s = int32(len(srcKeys))
			srcIDs[sk] = s
			srcKeys = append(srcKeys, sk)
		}
		dk := [3]int32{bh.inProf, bh.bits, bh.named}
		d, ok := dstIDs[dk]
		if !ok {
			d = int32(len(dstKeys))
			dstIDs[dk] = d
			dstKeys = append(dstKeys, dk)
		}
		return s, d
	}
	classSrc := make([]int32, len(b.classes))
	classDst := make([]int32, len(b.classes))
	for ci := range b.classes {
		classSrc[ci], classDst[ci] = keyOf(b.classBehaviour(&b.classes[ci]))
	}
	m := &Matrix{byName: map[string]int{}}
	for x := range b.ents {
		s, d := keyOf(b.entityBehaviour(x))
		m.nodes = append(m.nodes, mnode{name: b.ents[x].name, external: true, src: []int32{s}, dst: []int32{d}})
	}
	workloads := map[string]int{}
	for pi := range e.pods {
		w := e.pods[pi].WorkloadName()
		ni, ok := workloads[w]
		if !ok {
			ni = len(m.nodes)
			workloads[w] = ni
			m.nodes = append(m.nodes, mnode{name: w})
		}
		c := b.podClass[pi]
		m.nodes[ni].src = append(m.nodes[ni].src, classSrc[c])
		m.nodes[ni].dst = append(m.nodes[ni].dst, classDst[c])
	}
	// One backing array for every node's counts: a node has at most as many
	// distinct keys as members, so it never grows and the subslices stay put.
	counts := make([]int32, 0, 2*(len(e.pods)+len(b.ents)))
	for i := range m.nodes {
		m.nodes[i].src, m.nodes[i].srcN, counts = countUnique(m.nodes[i].src, counts)
		m.nodes[i].dst, m.nodes[i].dstN, counts = countUnique(m.nodes[i].dst, counts)
	}
	slices.SortFunc(m.nodes, func(a, b mnode) int {
		if a.name < b.name {
			return -1
		}
		if a.name > b.name {
			return 1
		}
		return 0
	})
	for i, n := range m.nodes {
		m.byName[n.name] = i
	}
	m.fillTable(b, srcKeys, dstKeys)
	m.stats = MatrixStats{
		Pods: len(e.pods), Classes: len(b.classes), Workloads: len(workloads), Entities: len(b.ents),
		SrcKeys: len(srcKeys), DstKeys: len(dstKeys), PortSets: len(m.sets),
	}
	return m
}

// setInterner gives ids to distinct port sets and memoises intersections.
type setInterner struct {
	sets  []PortSet
	ids   map[string]int32
	inter map[[2]int32]int32
	buf   []byte
}

func newSetInterner() *setInterner {
	si := &setInterner{ids: map[string]int32{}, inter: map[[2]int32]int32{}}
	si.id(PortSet{})
	si.id(AllPorts())
	return si
}

func (si *setInterner) id(s PortSet) int32 {
	si.buf = s.key(si.buf[:0])
	if id, ok := si.ids[string(si.buf)]; ok {
		return id
	}
	id := int32(len(si.sets))
	si.ids[string(si.buf)] = id
	si.sets = append(si.sets, s)
	return id
}

func (si *setInterner) intersect(a, b int32) int32 {
	switch {
	case a == setNone || b == setNone:
		return setNone
	case a == setAll || a == b:
		return b
	case b == setAll:
		return a
	}
	if a > b {
		a, b = b, a
	}
	if id, ok := si.inter[[2]int32{a, b}]; ok {
		return id
	}
	id := si.id(si.sets[a].Intersect(si.sets[b]))
	si.inter[[2]int32{a, b}] = id
	return id
}

// fillTable computes every source behaviour x destination behaviour. Egress
// depends on the source's profile and the destination, ingress on the
// destination and the source's peer bits, so per destination both are cached by
// those source attributes.
func (m *Matrix) fillTable(b *matrixBuilder, srcKeys [][2]int32, dstKeys [][3]int32) {
	si := newSetInterner()
	m.nDst = len(dstKeys)
	m.table = make([]int32, len(srcKeys)*len(dstKeys))
	egCache := make([]int32, len(b.profiles))
	inCache := make([]int32, len(b.bitsets))
	for d, dk := range dstKeys {
		for i := range egCache {
			egCache[i] = -1
		}
		for i := range inCache {
			inCache[i] = -1
		}
		dBits, dNamed := b.bitsets[dk[1]], b.nameds[dk[2]]
		for s, sk := range srcKeys {
			eg := egCache[sk[0]]
			if eg < 0 {
				eg = si.id(b.sideSet(sk[0], Egress, dBits, dNamed))
				egCache[sk[0]] = eg
			}
			if eg == setNone {
				continue
			}
			in := inCache[sk[1]]
			if in < 0 {
				in = si.id(b.sideSet(dk[0], Ingress, b.bitsets[sk[1]], dNamed))
				inCache[sk[1]] = in
			}
			m.table[s*len(dstKeys)+d] = si.intersect(eg, in)
		}
	}
	m.sets = si.sets
}

// Stats reports the sizes behind the matrix.
func (m *Matrix) Stats() MatrixStats { return m.stats }

// Names lists the matrix's workloads and address entities in iteration order.
func (m *Matrix) Names() []string {
	out := make([]string, len(m.nodes))
	for i, n := range m.nodes {
		out[i] = n.name
	}
	return out
}

// IsExternal reports whether a name is an address entity rather than a workload.
func (m *Matrix) IsExternal(name string) bool {
	i, ok := m.byName[name]
	return ok && m.nodes[i].external
}

// Lookup is the ports allowed from src to dst (workload or entity names); false
// when a name is unknown, the names are equal, or both are address entities.
func (m *Matrix) Lookup(src, dst string) (PortSet, bool) {
	i, ok1 := m.byName[src]
	j, ok2 := m.byName[dst]
	if !ok1 || !ok2 || i == j || (m.nodes[i].external && m.nodes[j].external) {
		return PortSet{}, false
	}
	return m.pair(&m.nodes[i], &m.nodes[j]), true
}

// pair is the port set of a node pair: the union over their classes, since a
// workload whose pods differ allows what any of its pods allows.
func (m *Matrix) pair(a, b *mnode) PortSet {
	if len(a.src) == 1 && len(b.dst) == 1 {
		return m.sets[m.table[int(a.src[0])*m.nDst+int(b.dst[0])]]
	}
	var out PortSet
	for _, s := range a.src {
		for _, d := range b.dst {
			out = out.Union(m.sets[m.table[int(s)*m.nDst+int(d)]])
		}
	}
	return out
}

// pairCounts counts a node pair's pod pairs and those allowed all of ports
// (the union pair computed); equal counts mean the reach is not partial.
func (m *Matrix) pairCounts(a, b *mnode, ports PortSet) (total, full int) {
	for i, s := range a.src {
		for j, d := range b.dst {
			n := int(a.srcN[i]) * int(b.dstN[j])
			total += n
			if m.sets[m.table[int(s)*m.nDst+int(d)]].Equal(ports) {
				full += n
			}
		}
	}
	return total, full
}

// Connection is the connection of two names with its partial counts (see
// Connection); false when Lookup would be.
func (m *Matrix) Connection(src, dst string) (Connection, bool) {
	ps, ok := m.Lookup(src, dst)
	if !ok {
		return Connection{}, false
	}
	c := Connection{Src: src, Dst: dst, Ports: ps}
	a, b := &m.nodes[m.byName[src]], &m.nodes[m.byName[dst]]
	if total, full := m.pairCounts(a, b, ps); full < total {
		c.PodPairs, c.FullPairs = total, full
	}
	return c, true
}

// Each yields every ordered pair with something allowed, sources in name order
// and for each source the destinations in name order. Pairs of a workload with
// itself and of two address entities are left out. Nothing is materialised
// beyond the per-behaviour table, so 25 million pairs stream in constant memory.
func (m *Matrix) Each(yield func(Connection) bool) {
	// The common case, one behaviour per node, is a row lookup; only
	// workloads made of unlike pods take the union path.
	single := make([]int32, len(m.nodes))
	for j := range m.nodes {
		single[j] = -1
		if len(m.nodes[j].dst) == 1 {
			single[j] = m.nodes[j].dst[0]
		}
	}
	for i := range m.nodes {
		a := &m.nodes[i]
		var row []int32
		if len(a.src) == 1 {
			row = m.table[int(a.src[0])*m.nDst : (int(a.src[0])+1)*m.nDst]
		}
		for j := range m.nodes {
			b := &m.nodes[j]
			if i == j || (a.external && b.external) {
				continue
			}
			var ps PortSet
			var total, full int
			if row != nil && single[j] >= 0 {
				id := row[single[j]]
				if id == setNone {
					continue
				}
				ps = m.sets[id]
			} else if ps = m.pair(a, b); ps.IsEmpty() {
				continue
			} else if total, full = m.pairCounts(a, b, ps); full == total {
				total, full = 0, 0
			}
			if !yield(Connection{Src: a.name, Dst: b.name, Ports: ps, PodPairs: total, FullPairs: full}) {
				return
			}
		}
	}
}
