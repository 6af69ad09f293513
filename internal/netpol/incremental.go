package netpol

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// DeltaOp is what a Delta does to its object.
type DeltaOp uint8

// Upsert adds the object or replaces the one of the same identity; Delete
// removes it (only its identity is read).
const (
	Upsert DeltaOp = iota
	Delete
)

// String is "upsert" or "delete".
func (o DeltaOp) String() string {
	if o == Delete {
		return "delete"
	}
	return "upsert"
}

// Delta is one change of the cluster. Object is a *Namespace, *Pod,
// *networkingv1.NetworkPolicy, *AdminNetworkPolicy,
// *BaselineAdminNetworkPolicy, *ClusterNetworkPolicy or *CiliumNetworkPolicy;
// anything else is an error. A Namespace's labels are taken as given (the
// caller adds kubernetes.io/metadata.name, as for Cluster); deleting a
// Namespace leaves its pods, which then see only that automatic label, as
// a Cluster without the Namespace does.
type Delta struct {
	Op     DeltaOp
	Object any
}

// ConnChange is one ordered pair of the matrix whose allowed ports changed:
// traffic from Src to Dst (workload or address entity names). Before or
// After is empty when the pair allowed nothing (or one side did not exist).
type ConnChange struct {
	Src, Dst      string
	Before, After PortSet
}

// Opened is the ports the change allows that were denied before.
func (c ConnChange) Opened() PortSet { return c.After.Minus(c.Before) }

// Closed is the ports the change denies that were allowed before.
func (c ConnChange) Closed() PortSet { return c.Before.Minus(c.After) }

// String is "src -> dst: before => after".
func (c ConnChange) String() string {
	return fmt.Sprintf("%s -> %s: %s => %s", c.Src, c.Dst, c.Before, c.After)
}

// Changes is what one delta changed, grouped: for each workload or entity
// whose behaviour changed, the other ends whose ports changed alike. A
// delta can change as many pairs as there are workloads times the
// workloads it touches (a first default deny, a new workload); the groups
// hold each such row in one slice of names, and Each expands them.
type Changes struct {
	Groups []ChangeGroup
	keys   []changeKey // of each group, while diffing
	pairs  int
}

// ChangeGroup is one set of changed pairs: between Node and each of
// Others, from Node to them when Outbound, else from them to Node, the
// allowed ports went from Before to After.
type ChangeGroup struct {
	Node          string
	Outbound      bool
	Others        []string
	Before, After PortSet
}

// Len is the number of changed pairs.
func (c *Changes) Len() int { return c.pairs }

// Each yields every changed pair, group by group.
func (c *Changes) Each(yield func(ConnChange) bool) {
	for _, gr := range c.Groups {
		for _, o := range gr.Others {
			ch := ConnChange{Src: o, Dst: gr.Node, Before: gr.Before, After: gr.After}
			if gr.Outbound {
				ch.Src, ch.Dst = gr.Node, o
			}
			if !yield(ch) {
				return
			}
		}
	}
}

// add records the change of one pair (old and now are port set ids).
func (c *Changes) add(si *setInterner, idx map[changeKey]int, ni int, node, other string, outbound bool, old, now int32) {
	if old == now {
		return
	}
	// A node's groups are made while it is diffed, so they are the last
	// ones; a few are searched before the map is asked.
	k := changeKey{ni, outbound, old, now}
	for i := len(c.Groups) - 1; i >= 0 && i >= len(c.Groups)-8; i-- {
		if c.keys[i] == k {
			c.Groups[i].Others = append(c.Groups[i].Others, other)
			c.pairs++
			return
		}
	}
	i, ok := idx[k]
	if !ok {
		i = len(c.Groups)
		idx[k] = i
		c.Groups = append(c.Groups, ChangeGroup{Node: node, Outbound: outbound, Before: si.sets[old], After: si.sets[now]})
		c.keys = append(c.keys, k)
	}
	c.Groups[i].Others = append(c.Groups[i].Others, other)
	c.pairs++
}

// changeKey identifies a group: the changed node (its index in the
// delta's sorted list), the direction and the port set ids.
type changeKey struct {
	node     int
	outbound bool
	old, now int32
}

// IncrementalStats counts the incremental engine's state and how deltas
// were applied.
type IncrementalStats struct {
	Pods, Classes, Nodes int
	// SrcKeys and DstKeys are the behaviours interned so far (dead ones
	// included); Memo the behaviour pairs whose ports were computed.
	SrcKeys, DstKeys, Memo int
	// Deltas counts applied deltas; Rebuilds those that took the rebuild
	// path (tier policies, address peers), which compiles the policies anew
	// and compares every pair (see Incremental).
	Deltas, Rebuilds int
}

// Incremental keeps the connectivity matrix of a changing cluster. It holds
// the objects, the pod classes of matrixbuild.go with their behaviours, and
// the ports of each pair of behaviours computed so far (a memo). A delta
// recomputes the behaviour of only the classes it can change: a pod joins
// or leaves a class (a new class costs one behaviour); a NetworkPolicy or
// Cilium policy re-derives the classes of its namespace that its old or new
// selector picks (and sets the bits of its new peers on the classes they
// select); a namespace relabel re-derives the classes of that namespace.
// Policies are compiled into slots that never change (a changed policy is a
// new slot, the old one leaves the namespace's list), so a behaviour key
// means the same ports for as long as the engine lives and the memo stays
// valid. The changed connections are the pairs of the touched workloads with
// every node, before and after.
//
// Tier policies (AdminNetworkPolicy, BaselineAdminNetworkPolicy,
// ClusterNetworkPolicy) are ordered by priority, and address peers (ipBlock,
// networks, nodes, Cilium CIDRs and entities) cut the address entities; a
// delta of either rebuilds the engine from its objects and compares every
// pair, in O(nodes²). Not safe for concurrent use.
type Incremental struct {
	opts Options

	namespaces map[string]Namespace
	pods       map[objKey]*Pod
	nps        map[objKey]*networkingv1.NetworkPolicy
	anps       map[string]*AdminNetworkPolicy
	banps      map[string]*BaselineAdminNetworkPolicy
	cnps       map[string]*ClusterNetworkPolicy
	cils       map[objKey]*CiliumNetworkPolicy

	g                *igen
	deltas, rebuilds int
}

type objKey struct{ kind, ns, name string }

// igen is the derived state, built from the objects and kept by deltas
// until a rebuild replaces it.
type igen struct {
	e  *Engine
	b  *builder
	mb *matrixBuilder

	npSlot  map[objKey]int   // NetworkPolicy -> index in e.policies
	cilSlot map[objKey][]int // Cilium policy -> indices in e.cilium

	classes   []iclass
	classByID map[string]int32
	nsClasses map[string]map[int32]struct{} // live classes per namespace
	podClass  map[objKey]int32

	nodes  []*inode // workloads and address entities, sorted by name
	byName map[string]*inode

	srcIDs  map[[2]int32]int32
	dstIDs  map[[3]int32]int32
	srcKeys [][2]int32
	dstKeys [][3]int32
	memo    map[uint64]int32
	si      *setInterner
	named   int // len(e.named) the live classes were derived with
	keyBuf  []byte
}

type iclass struct {
	key      string
	ns       string
	rep      int // index in e.pods
	entities []int
	n        int32 // pods
	src, dst int32 // behaviour keys
	nodes    map[*inode]int32
}

type inode struct {
	name     string
	external bool
	classes  map[int32]int32 // class -> pods (workloads)
	src, dst []int32         // distinct behaviour keys, sorted
	srcN     []int32         // pods per src key
	dstN     []int32         // pods per dst key
	dirty    bool
	touched  bool // in the delta being diffed
}

// NewIncremental builds the incremental engine of a cluster. It rejects what
// New rejects, and two objects of one kind with the same identity.
func NewIncremental(c Cluster, opts Options) (*Incremental, error) {
	x := &Incremental{
		opts:       opts,
		namespaces: map[string]Namespace{},
		pods:       map[objKey]*Pod{},
		nps:        map[objKey]*networkingv1.NetworkPolicy{},
		anps:       map[string]*AdminNetworkPolicy{},
		banps:      map[string]*BaselineAdminNetworkPolicy{},
		cnps:       map[string]*ClusterNetworkPolicy{},
		cils:       map[objKey]*CiliumNetworkPolicy{},
	}
	var errs []error
	dup := func(what string, seen bool) {
		if seen {
			errs = append(errs, fmt.Errorf("%s: listed twice", what))
		}
	}
	for i := range c.Namespaces {
		_, seen := x.namespaces[c.Namespaces[i].Name]
		dup("namespace "+c.Namespaces[i].Name, seen)
		x.namespaces[c.Namespaces[i].Name] = c.Namespaces[i]
	}
	for i := range c.Pods {
		p := c.Pods[i]
		k := podKey(&p)
		_, seen := x.pods[k]
		dup("pod "+k.ns+"/"+k.name, seen)
		x.pods[k] = &p
	}
	for _, p := range c.Policies {
		if p != nil {
			_, seen := x.nps[npKey(p)]
			dup("networkpolicy "+npKey(p).ns+"/"+p.Name, seen)
			x.nps[npKey(p)] = p
		}
	}
	for _, p := range c.AdminNetworkPolicies {
		if p != nil {
			_, seen := x.anps[p.Name]
			dup("adminnetworkpolicy "+p.Name, seen)
			x.anps[p.Name] = p
		}
	}
	for _, p := range c.BaselineAdminNetworkPolicies {
		if p != nil {
			_, seen := x.banps[p.Name]
			dup("baselineadminnetworkpolicy "+p.Name, seen)
			x.banps[p.Name] = p
		}
	}
	for _, p := range c.ClusterNetworkPolicies {
		if p != nil {
			_, seen := x.cnps[p.Name]
			dup("clusternetworkpolicy "+p.Name, seen)
			x.cnps[p.Name] = p
		}
	}
	for _, p := range c.CiliumNetworkPolicies {
		if p != nil {
			_, seen := x.cils[cilKey(p)]
			dup(p.Kind+" "+cilKey(p).ns+"/"+p.Name, seen)
			x.cils[cilKey(p)] = p
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	g, err := x.build()
	if err != nil {
		return nil, err
	}
	x.g = g
	return x, nil
}

// ObjectKey is the identity the incremental engine keys a delta's object
// by, as "Kind/namespace/name": the namespace empty for cluster-scoped
// kinds and "default" for a namespaced policy without one, so two objects
// with one key are one object to Apply. ok is false for a nil object or a
// type Apply does not take. A caller that diffs clusters into deltas keys
// them here rather than deriving the identities again.
func ObjectKey(obj any) (key string, ok bool) {
	var k objKey
	switch o := obj.(type) {
	case *Namespace:
		if o == nil {
			return "", false
		}
		k = objKey{kind: "Namespace", name: o.Name}
	case *Pod:
		if o == nil {
			return "", false
		}
		k = podKey(o)
	case *networkingv1.NetworkPolicy:
		if o == nil {
			return "", false
		}
		k = npKey(o)
	case *CiliumNetworkPolicy:
		if o == nil {
			return "", false
		}
		k = cilKey(o)
	case *AdminNetworkPolicy:
		if o == nil {
			return "", false
		}
		k = objKey{kind: KindAdminNetworkPolicy, name: o.Name}
	case *BaselineAdminNetworkPolicy:
		if o == nil {
			return "", false
		}
		k = objKey{kind: KindBaselineAdminNetworkPolicy, name: o.Name}
	case *ClusterNetworkPolicy:
		if o == nil {
			return "", false
		}
		k = objKey{kind: KindClusterNetworkPolicy, name: o.Name}
	default:
		return "", false
	}
	return k.kind + "/" + k.ns + "/" + k.name, true
}

func podKey(p *Pod) objKey { return objKey{kind: "Pod", ns: p.Namespace, name: p.Name} }

func npKey(p *networkingv1.NetworkPolicy) objKey {
	ns := p.Namespace
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	return objKey{kind: "NetworkPolicy", ns: ns, name: p.Name}
}

func cilKey(p *CiliumNetworkPolicy) objKey {
	if p.Clusterwide() {
		return objKey{kind: KindCiliumClusterwideNetworkPolicy, name: p.Name}
	}
	ns := p.Namespace
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	return objKey{kind: KindCiliumNetworkPolicy, ns: ns, name: p.Name}
}

// Cluster is the objects as a Cluster, each kind sorted by namespace and
// name: New on it computes what the incremental engine holds.
func (x *Incremental) Cluster() Cluster {
	var c Cluster
	for _, k := range slices.Sorted(maps.Keys(x.namespaces)) {
		c.Namespaces = append(c.Namespaces, x.namespaces[k])
	}
	for _, k := range slices.SortedFunc(maps.Keys(x.pods), cmpKey) {
		c.Pods = append(c.Pods, *x.pods[k])
	}
	for _, k := range slices.SortedFunc(maps.Keys(x.nps), cmpKey) {
		c.Policies = append(c.Policies, x.nps[k])
	}
	for _, k := range slices.Sorted(maps.Keys(x.anps)) {
		c.AdminNetworkPolicies = append(c.AdminNetworkPolicies, x.anps[k])
	}
	for _, k := range slices.Sorted(maps.Keys(x.banps)) {
		c.BaselineAdminNetworkPolicies = append(c.BaselineAdminNetworkPolicies, x.banps[k])
	}
	for _, k := range slices.Sorted(maps.Keys(x.cnps)) {
		c.ClusterNetworkPolicies = append(c.ClusterNetworkPolicies, x.cnps[k])
	}
	for _, k := range slices.SortedFunc(maps.Keys(x.cils), cmpKey) {
		c.CiliumNetworkPolicies = append(c.CiliumNetworkPolicies, x.cils[k])
	}
	return c
}

func cmpKey(a, b objKey) int {
	return cmp.Or(cmp.Compare(a.kind, b.kind), cmp.Compare(a.ns, b.ns), cmp.Compare(a.name, b.name))
}

// build derives the state from the objects: New's compilation, then the
// classes and nodes (behaviour pairs are computed on demand).
func (x *Incremental) build() (*igen, error) {
	c := x.Cluster()
	pods := c.Pods
	c.Pods = nil
	e, b, err := newEngine(c, x.opts)
	if err != nil {
		return nil, err
	}
	g := &igen{
		e: e, b: b,
		npSlot:    map[objKey]int{},
		cilSlot:   map[objKey][]int{},
		classByID: map[string]int32{},
		nsClasses: map[string]map[int32]struct{}{},
		podClass:  map[objKey]int32{},
		byName:    map[string]*inode{},
		srcIDs:    map[[2]int32]int32{},
		dstIDs:    map[[3]int32]int32{},
		memo:      map[uint64]int32{},
		si:        newSetInterner(),
	}
	// New compiles the policies in the order of c, skipping none (it fails
	// on any error), so the slots follow that order.
	for i, p := range c.Policies {
		g.npSlot[npKey(p)] = i
	}
	slot := 0
	for _, p := range c.CiliumNetworkPolicies {
		n := 0
		if p.Spec != nil {
			n++
		}
		n += len(p.Specs)
		for range n {
			g.cilSlot[cilKey(p)] = append(g.cilSlot[cilKey(p)], slot)
			slot++
		}
	}
	if slot != len(e.cilium) {
		return nil, fmt.Errorf("internal: %d Cilium rules compiled, %d expected", len(e.cilium), slot)
	}
	// Pods' namespaces without a Namespace object get the automatic label,
	// as New gives them.
	for i := range pods {
		if _, ok := e.nsLabels[pods[i].Namespace]; !ok {
			e.nsLabels[pods[i].Namespace] = labels.Set{namespaceNameLabel: pods[i].Namespace}
		}
	}
	g.mb = e.newMatrixBuilder()
	g.named = len(e.named)
	for xi := range g.mb.ents {
		bh := g.canon(g.mb.entityBehaviour(xi))
		n := &inode{name: g.mb.ents[xi].name, external: true, src: []int32{g.srcKey(bh)}, dst: []int32{g.dstKey(bh)}, srcN: []int32{1}, dstN: []int32{1}}
		g.addNode(n)
	}
	for i := range pods {
		g.addPod(&pods[i])
	}
	return g, nil
}

// addNode and removeNode keep nodes sorted by name (a memmove of pointers:
// cheaper than sorting when changes are reported).
func (g *igen) addNode(n *inode) {
	i, _ := slices.BinarySearchFunc(g.nodes, n.name, func(m *inode, name string) int { return cmp.Compare(m.name, name) })
	g.nodes = slices.Insert(g.nodes, i, n)
	g.byName[n.name] = n
}

func (g *igen) removeNode(n *inode) {
	i, found := slices.BinarySearchFunc(g.nodes, n.name, func(m *inode, name string) int { return cmp.Compare(m.name, name) })
	if found {
		g.nodes = slices.Delete(g.nodes, i, i+1)
	}
	delete(g.byName, n.name)
}

func (g *igen) srcKey(bh behaviour) int32 {
	k := [2]int32{bh.egProf, bh.bits}
	id, ok := g.srcIDs[k]
	if !ok {
		id = int32(len(g.srcKeys))
		g.srcIDs[k] = id
		g.srcKeys = append(g.srcKeys, k)
	}
	return id
}

func (g *igen) dstKey(bh behaviour) int32 {
	k := [3]int32{bh.inProf, bh.bits, bh.named}
	id, ok := g.dstIDs[k]
	if !ok {
		id = int32(len(g.dstKeys))
		g.dstIDs[k] = id
		g.dstKeys = append(g.dstKeys, k)
	}
	return id
}

// canon trims a behaviour's bitset of its trailing zero words: bitsets
// derived before and after peers were added then intern alike, and a
// workload whose pods are derived at different times keeps one key.
func (g *igen) canon(bh behaviour) behaviour {
	bits := g.mb.bitsets[bh.bits]
	n := len(bits)
	for n > 0 && bits[n-1] == 0 {
		n--
	}
	if n < len(bits) {
		bh.bits = g.mb.internBits(bits[:n:n])
	}
	return bh
}

// rederive computes a class's behaviour with the engine as it is now.
func (g *igen) rederive(ci int32) {
	c := &g.classes[ci]
	bh := g.canon(g.mb.classBehaviour(&podClass{rep: c.rep, entities: c.entities}))
	s, d := g.srcKey(bh), g.dstKey(bh)
	if s == c.src && d == c.dst {
		return
	}
	c.src, c.dst = s, d
	for n := range c.nodes {
		n.dirty = true
	}
}

// addPod puts a pod into its class (made when new) and its workload node.
func (g *igen) addPod(p *Pod) {
	if _, ok := g.e.nsLabels[p.Namespace]; !ok {
		g.e.nsLabels[p.Namespace] = labels.Set{namespaceNameLabel: p.Namespace}
		g.refreshNSPeers(p.Namespace)
	}
	var ents []int
	g.keyBuf, ents = g.mb.classKey(g.keyBuf[:0], p)
	ci, ok := g.classByID[string(g.keyBuf)]
	if !ok {
		ci = int32(len(g.classes))
		g.e.pods = append(g.e.pods, *p)
		g.classes = append(g.classes, iclass{key: string(g.keyBuf), ns: p.Namespace, rep: len(g.e.pods) - 1, entities: ents, src: -1, dst: -1, nodes: map[*inode]int32{}})
		g.classByID[string(g.keyBuf)] = ci
		if g.nsClasses[p.Namespace] == nil {
			g.nsClasses[p.Namespace] = map[int32]struct{}{}
		}
		g.nsClasses[p.Namespace][ci] = struct{}{}
		g.rederive(ci)
	}
	c := &g.classes[ci]
	c.n++
	g.podClass[podKey(p)] = ci
	w := p.WorkloadName()
	n := g.byName[w]
	if n == nil {
		n = &inode{name: w, classes: map[int32]int32{}}
		g.addNode(n)
	}
	n.classes[ci]++
	c.nodes[n]++
	n.dirty = true
}

// removePod takes a pod out of its class and node, dropping them when empty.
func (g *igen) removePod(p *Pod) {
	k := podKey(p)
	ci := g.podClass[k]
	delete(g.podClass, k)
	c := &g.classes[ci]
	n := g.byName[p.WorkloadName()]
	n.dirty = true
	if n.classes[ci]--; n.classes[ci] == 0 {
		delete(n.classes, ci)
	}
	if c.nodes[n]--; c.nodes[n] == 0 {
		delete(c.nodes, n)
	}
	if len(n.classes) == 0 {
		g.removeNode(n)
	}
	if c.n--; c.n == 0 {
		delete(g.classByID, c.key)
		delete(g.nsClasses[c.ns], ci)
		c.nodes = nil
	}
}

// keys brings a node's distinct behaviour keys up to date.
func (g *igen) keys(n *inode) *inode {
	if !n.dirty || n.external {
		return n
	}
	n.dirty = false
	n.src, n.dst, n.srcN, n.dstN = n.src[:0], n.dst[:0], n.srcN[:0], n.dstN[:0]
	for ci, cnt := range n.classes {
		c := &g.classes[ci]
		n.src, n.srcN = addCount(n.src, n.srcN, c.src, cnt)
		n.dst, n.dstN = addCount(n.dst, n.dstN, c.dst, cnt)
	}
	return n
}

// addCount adds cnt of key k to the sorted keys and their counts.
func addCount(keys, counts []int32, k, cnt int32) ([]int32, []int32) {
	i, found := slices.BinarySearch(keys, k)
	if found {
		counts[i] += cnt
		return keys, counts
	}
	return slices.Insert(keys, i, k), slices.Insert(counts, i, cnt)
}

// pairSet is the port set id of a pair of behaviour keys, computed once.
func (g *igen) pairSet(s, d int32) int32 {
	mk := uint64(uint32(s))<<32 | uint64(uint32(d))
	if id, ok := g.memo[mk]; ok {
		return id
	}
	sk, dk := g.srcKeys[s], g.dstKeys[d]
	mb := g.mb
	named := mb.nameds[dk[2]]
	id := setNone
	if eg := g.si.id(mb.sideSet(sk[0], Egress, mb.bitsets[dk[1]], named)); eg != setNone {
		in := g.si.id(mb.sideSet(dk[0], Ingress, mb.bitsets[sk[1]], named))
		id = g.si.intersect(eg, in)
	}
	if len(g.memo) >= memoCap {
		// A cache of a pure function of the keys: dropping it is safe, and
		// keeps the keys of dead behaviours from piling up.
		clear(g.memo)
	}
	g.memo[mk] = id
	return id
}

// memoCap bounds the memo (about 40 bytes an entry).
const memoCap = 1 << 21

// ports is what sources with keys src allow towards destinations with
// keys dst: the union, as Matrix.pair has it.
func (g *igen) ports(src, dst []int32) PortSet {
	if len(src) == 1 && len(dst) == 1 {
		return g.si.sets[g.pairSet(src[0], dst[0])]
	}
	var out PortSet
	for _, s := range src {
		for _, d := range dst {
			out = out.Union(g.si.sets[g.pairSet(s, d)])
		}
	}
	return out
}

// snap is a node's keys at one moment; absent nodes have none.
type snap struct {
	src, dst []int32
	external bool
}

func (g *igen) snapshot(name string) snap {
	n := g.byName[name]
	if n == nil {
		return snap{}
	}
	g.keys(n)
	return snap{src: slices.Clone(n.src), dst: slices.Clone(n.dst), external: n.external}
}

// diff compares the pairs of the named nodes, whose keys before the delta
// are given, with every node, before and after. A direction whose
// behaviour did not change is skipped; towards or from a node of one key
// the other ends are judged by column or row (see column), not pair by
// pair through the memo.
//
// peers is how many peers there were before the delta: bits of later peers
// do not make a behaviour differ towards an untouched node, since only the
// delta's policy names them, and it is in touched nodes' profiles only.
func (g *igen) diff(before map[string]snap, peers int) *Changes {
	after := make(map[string]snap, len(before))
	var touched []string
	for name, b := range before {
		a := g.snapshot(name)
		if slices.Equal(a.src, b.src) && slices.Equal(a.dst, b.dst) {
			continue // the same behaviours: no pair of it changed
		}
		after[name] = a
		touched = append(touched, name)
	}
	slices.Sort(touched)
	for _, name := range touched {
		if n := g.byName[name]; n != nil {
			n.touched = true
			defer func() { n.touched = false }()
		}
	}
	out := &Changes{}
	idx := map[changeKey]int{}
	pairID := func(src, dst []int32) int32 {
		if len(src) == 1 && len(dst) == 1 {
			return g.pairSet(src[0], dst[0])
		}
		return g.si.id(g.ports(src, dst))
	}
	for ti, name := range touched {
		b, a := before[name], after[name]
		ext := b.external || a.external
		// Touched pairs, once each: both sides take their before and after.
		for _, other := range touched[ti+1:] {
			ob, oa := before[other], after[other]
			if ext && (ob.external || oa.external) {
				continue
			}
			out.add(g.si, idx, ti, name, other, true, pairID(b.src, ob.dst), pairID(a.src, oa.dst))
			out.add(g.si, idx, ti, name, other, false, pairID(ob.src, b.dst), pairID(oa.src, a.dst))
		}
		srcSame, dstSame := g.sameSrc(b.src, a.src, peers), g.sameDst(b.dst, a.dst, peers)
		var rowB, rowA *row
		if !srcSame && len(b.src) <= 1 && len(a.src) <= 1 {
			rowB, rowA = g.newRow(b.src), g.newRow(a.src)
		}
		var colB, colA *column
		if !dstSame && len(b.dst) <= 1 && len(a.dst) <= 1 {
			colB, colA = g.newColumn(b.dst), g.newColumn(a.dst)
		}
		for _, n := range g.nodes {
			if n.touched || (ext && n.external) {
				continue
			}
			g.keys(n)
			switch {
			case srcSame:
			case rowA != nil && len(n.dst) == 1:
				out.add(g.si, idx, ti, name, n.name, true, rowB.at(g, n.dst[0]), rowA.at(g, n.dst[0]))
			default:
				out.add(g.si, idx, ti, name, n.name, true, pairID(b.src, n.dst), pairID(a.src, n.dst))
			}
			switch {
			case dstSame:
			case colA != nil && len(n.src) == 1:
				out.add(g.si, idx, ti, name, n.name, false, colB.at(g, n.src[0]), colA.at(g, n.src[0]))
			default:
				out.add(g.si, idx, ti, name, n.name, false, pairID(n.src, b.dst), pairID(n.src, a.dst))
			}
		}
	}
	return out
}

// sameSrc reports whether two source key lists behave alike towards nodes
// whose profiles name only the first peers.
func (g *igen) sameSrc(a, b []int32, peers int) bool {
	return slices.EqualFunc(a, b, func(x, y int32) bool {
		kx, ky := g.srcKeys[x], g.srcKeys[y]
		return x == y || (kx[0] == ky[0] && sameBits(g.mb.bitsets[kx[1]], g.mb.bitsets[ky[1]], peers))
	})
}

func (g *igen) sameDst(a, b []int32, peers int) bool {
	return slices.EqualFunc(a, b, func(x, y int32) bool {
		kx, ky := g.dstKeys[x], g.dstKeys[y]
		return x == y || (kx[0] == ky[0] && kx[2] == ky[2] && sameBits(g.mb.bitsets[kx[1]], g.mb.bitsets[ky[1]], peers))
	})
}

// sameBits compares two bitsets on their first n bits.
func sameBits(a, b []uint64, n int) bool {
	for i := 0; i*64 < n; i++ {
		var x, y uint64
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if r := n - i*64; r < 64 {
			mask := uint64(1)<<r - 1
			x, y = x&mask, y&mask
		}
		if x != y {
			return false
		}
	}
	return true
}

// column computes pairSet(s, d) for one destination key d and many
// sources s without the memo: the egress side depends on the source only
// through its egress profile, the ingress side only through the source's
// bits of the peers the destination's ingress profile names (relevant),
// so both are cached by those few values. A nil-key column (the node is
// absent) allows nothing.
type column struct {
	d        int32
	relevant []int
	eg       map[int32]int32
	in       map[[2]uint64]int32
	bySrc    []int32 // result per source key, +1 (0: not yet)
}

func (g *igen) newColumn(dst []int32) *column {
	if len(dst) == 0 {
		return &column{d: -1}
	}
	c := &column{d: dst[0], eg: map[int32]int32{}, in: map[[2]uint64]int32{}, bySrc: make([]int32, len(g.srcKeys))}
	c.relevant = g.profilePeers(g.dstKeys[c.d][0])
	return c
}

func (c *column) at(g *igen, s int32) int32 {
	if c.d < 0 {
		return setNone
	}
	if v := c.bySrc[s]; v > 0 {
		return v - 1
	}
	v := c.compute(g, s)
	c.bySrc[s] = v + 1
	return v
}

func (c *column) compute(g *igen, s int32) int32 {
	sk, dk := g.srcKeys[s], g.dstKeys[c.d]
	mb := g.mb
	named := mb.nameds[dk[2]]
	eg, ok := c.eg[sk[0]]
	if !ok {
		eg = g.si.id(mb.sideSet(sk[0], Egress, mb.bitsets[dk[1]], named))
		c.eg[sk[0]] = eg
	}
	if eg == setNone {
		return setNone
	}
	bits := mb.bitsets[sk[1]]
	var proj [2]uint64
	if len(c.relevant) > 128 {
		proj = [2]uint64{uint64(sk[1]), ^uint64(0)} // by the bits themselves
	} else {
		for i, p := range c.relevant {
			if p/64 < len(bits) && bits[p/64]&(1<<(p%64)) != 0 {
				proj[i/64] |= 1 << (i % 64)
			}
		}
	}
	in, ok := c.in[proj]
	if !ok {
		in = g.si.id(mb.sideSet(dk[0], Ingress, bits, named))
		c.in[proj] = in
	}
	return g.si.intersect(eg, in)
}

// row is column's counterpart for one source key s and many
// destinations: the egress side depends on the destination through its
// bits of the peers s's egress profile names and its named ports, the
// ingress side through its ingress profile and named ports.
type row struct {
	s        int32
	relevant []int
	eg       map[[3]uint64]int32
	in       map[[2]int32]int32
	byDst    []int32 // result per destination key, +1 (0: not yet)
}

func (g *igen) newRow(src []int32) *row {
	if len(src) == 0 {
		return &row{s: -1}
	}
	r := &row{s: src[0], eg: map[[3]uint64]int32{}, in: map[[2]int32]int32{}, byDst: make([]int32, len(g.dstKeys))}
	r.relevant = g.profilePeers(g.srcKeys[r.s][0])
	return r
}

func (r *row) at(g *igen, d int32) int32 {
	if r.s < 0 {
		return setNone
	}
	if v := r.byDst[d]; v > 0 {
		return v - 1
	}
	v := r.compute(g, d)
	r.byDst[d] = v + 1
	return v
}

func (r *row) compute(g *igen, d int32) int32 {
	sk, dk := g.srcKeys[r.s], g.dstKeys[d]
	mb := g.mb
	bits := mb.bitsets[dk[1]]
	k := [3]uint64{2: uint64(uint32(dk[2]))}
	if len(r.relevant) > 128 {
		k[0], k[1] = uint64(uint32(dk[1])), ^uint64(0)
	} else {
		for i, p := range r.relevant {
			if p/64 < len(bits) && bits[p/64]&(1<<(p%64)) != 0 {
				k[i/64] |= 1 << (i % 64)
			}
		}
	}
	named := mb.nameds[dk[2]]
	eg, ok := r.eg[k]
	if !ok {
		eg = g.si.id(mb.sideSet(sk[0], Egress, bits, named))
		r.eg[k] = eg
	}
	if eg == setNone {
		return setNone
	}
	ik := [2]int32{dk[0], dk[2]}
	in, ok := r.in[ik]
	if !ok {
		in = g.si.id(mb.sideSet(dk[0], Ingress, mb.bitsets[sk[1]], named))
		r.in[ik] = in
	}
	return g.si.intersect(eg, in)
}

// profilePeers lists the peers any rule of a profile's policies names: the
// only bits of the other side its port sets depend on.
func (g *igen) profilePeers(prof int32) []int {
	var out []int
	e := g.e
	for _, h := range g.mb.profiles[prof] {
		switch {
		case h&handleTier != 0:
			tp := &e.tiers[h&^handleTier]
			for _, rs := range [][]compiledTierRule{tp.rules(Ingress), tp.rules(Egress)} {
				for i := range rs {
					out = append(out, rs[i].peers...)
				}
			}
		case h&handleCilium != 0:
			for _, ps := range e.cilium[h&^handleCilium].peerLists() {
				out = append(out, ps...)
			}
		default:
			for _, ps := range e.policies[h].peerLists() {
				out = append(out, ps...)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Apply applies one delta and returns the pairs whose ports changed,
// grouped by the workload (or entity) whose behaviour changed, in name
// order, then by the other end in name order. An invalid object (one New would reject, or of
// an unknown type) is an error and changes nothing.
func (x *Incremental) Apply(d Delta) (*Changes, error) {
	if d.Op != Upsert && d.Op != Delete {
		return nil, fmt.Errorf("delta: unknown op %d", d.Op)
	}
	var out *Changes
	var err error
	switch o := d.Object.(type) {
	case *Namespace:
		if o == nil {
			return nil, errors.New("delta: nil Namespace")
		}
		out = x.applyNamespace(d.Op, o)
	case *Pod:
		if o == nil {
			return nil, errors.New("delta: nil Pod")
		}
		out = x.applyPod(d.Op, o)
	case *networkingv1.NetworkPolicy:
		if o == nil {
			return nil, errors.New("delta: nil NetworkPolicy")
		}
		out, err = x.applyNetworkPolicy(d.Op, o)
	case *CiliumNetworkPolicy:
		if o == nil {
			return nil, errors.New("delta: nil CiliumNetworkPolicy")
		}
		if o.Kind != KindCiliumNetworkPolicy && o.Kind != KindCiliumClusterwideNetworkPolicy {
			return nil, fmt.Errorf("delta: %s %s: kind %q is not %s or %s", "Cilium policy", o.Name, o.Kind, KindCiliumNetworkPolicy, KindCiliumClusterwideNetworkPolicy)
		}
		out, err = x.applyCilium(d.Op, o)
	case *AdminNetworkPolicy:
		if o == nil {
			return nil, errors.New("delta: nil AdminNetworkPolicy")
		}
		out, err = x.rebuild(PolicyRef{Name: o.Name, Kind: KindAdminNetworkPolicy}, func() func() { return swap(x.anps, o.Name, o, d.Op) })
	case *BaselineAdminNetworkPolicy:
		if o == nil {
			return nil, errors.New("delta: nil BaselineAdminNetworkPolicy")
		}
		out, err = x.rebuild(PolicyRef{Name: o.Name, Kind: KindBaselineAdminNetworkPolicy}, func() func() { return swap(x.banps, o.Name, o, d.Op) })
	case *ClusterNetworkPolicy:
		if o == nil {
			return nil, errors.New("delta: nil ClusterNetworkPolicy")
		}
		out, err = x.rebuild(PolicyRef{Name: o.Name, Kind: KindClusterNetworkPolicy}, func() func() { return swap(x.cnps, o.Name, o, d.Op) })
	default:
		return nil, fmt.Errorf("delta: unsupported object type %T", d.Object)
	}
	if err != nil {
		return nil, err
	}
	x.deltas++
	return out, nil
}

// swap applies an upsert or delete to a store and returns its undo.
func swap[K comparable, V any](m map[K]V, k K, v V, op DeltaOp) func() {
	old, had := m[k]
	if op == Delete {
		delete(m, k)
	} else {
		m[k] = v
	}
	return func() {
		if had {
			m[k] = old
		} else {
			delete(m, k)
		}
	}
}

// rebuild changes the objects (change returns its undo), derives the state
// anew and compares the two states. On an error the change is undone.
// changed names the policy the delta changes: behaviours whose profile
// holds it are compared whatever their signature.
func (x *Incremental) rebuild(changed PolicyRef, change func() func()) (*Changes, error) {
	undo := change()
	g, err := x.build()
	if err != nil {
		undo()
		return nil, err
	}
	old := x.g
	x.g = g
	x.rebuilds++
	return diffGenerations(old, g, changed), nil
}

// diffGenerations compares two states. The index spaces of the two
// differ (policies, peers, tiers are numbered anew), so nodes are matched
// by signature: their behaviours written out by what they mean (policy
// names in evaluation order, the keys of the peers that select them, their
// named ports). A node whose signature is the same in both and whose
// profiles do not hold the changed policy has the same ports with every
// other such node; the rest are compared with every node.
func diffGenerations(old, now *igen, changed PolicyRef) *Changes {
	so, sn := newSigner(old, changed), newSigner(now, changed)
	touched := map[string]bool{}
	for _, n := range old.nodes {
		m := now.byName[n.name]
		if m == nil || !so.same(n, sn, m) {
			touched[n.name] = true
		}
	}
	for _, m := range now.nodes {
		if old.byName[m.name] == nil {
			touched[m.name] = true
		}
	}
	names := slices.Sorted(maps.Keys(touched))
	out := &Changes{}
	idx := map[changeKey]int{}
	keysOf := func(g *igen, name string) snap {
		n := g.byName[name]
		if n == nil {
			return snap{}
		}
		g.keys(n)
		return snap{src: n.src, dst: n.dst, external: n.external}
	}
	add := func(ti int, name, other string, outbound bool, a, b PortSet) {
		if !a.Equal(b) {
			out.add(now.si, idx, ti, name, other, outbound, now.si.id(a), now.si.id(b))
		}
	}
	for ti, name := range names {
		b, a := keysOf(old, name), keysOf(now, name)
		ext := b.external || a.external
		for _, other := range names[ti+1:] {
			ob, oa := keysOf(old, other), keysOf(now, other)
			if ext && (ob.external || oa.external) {
				continue
			}
			add(ti, name, other, true, old.ports(b.src, ob.dst), now.ports(a.src, oa.dst))
			add(ti, name, other, false, old.ports(ob.src, b.dst), now.ports(oa.src, a.dst))
		}
		var rowB, rowA *row
		if len(b.src) <= 1 && len(a.src) <= 1 {
			rowB, rowA = old.newRow(b.src), now.newRow(a.src)
		}
		var colB, colA *column
		if len(b.dst) <= 1 && len(a.dst) <= 1 {
			colB, colA = old.newColumn(b.dst), now.newColumn(a.dst)
		}
		for _, m := range now.nodes {
			if touched[m.name] || (ext && m.external) {
				continue
			}
			mo := old.byName[m.name]
			old.keys(mo)
			now.keys(m)
			if rowA != nil && len(mo.dst) == 1 && len(m.dst) == 1 {
				add(ti, name, m.name, true, old.si.sets[rowB.at(old, mo.dst[0])], now.si.sets[rowA.at(now, m.dst[0])])
			} else {
				add(ti, name, m.name, true, old.ports(b.src, mo.dst), now.ports(a.src, m.dst))
			}
			if colA != nil && len(mo.src) == 1 && len(m.src) == 1 {
				add(ti, name, m.name, false, old.si.sets[colB.at(old, mo.src[0])], now.si.sets[colA.at(now, m.src[0])])
			} else {
				add(ti, name, m.name, false, old.ports(mo.src, b.dst), now.ports(m.src, a.dst))
			}
		}
	}
	return out
}

// signer writes behaviours out by meaning, memoised per key.
type signer struct {
	g        *igen
	changed  string
	peerKeys []string
	src, dst map[int32]string // "" marks a profile holding the changed policy
}

func newSigner(g *igen, changed PolicyRef) *signer {
	s := &signer{g: g, changed: changed.String(), peerKeys: make([]string, len(g.e.peers)), src: map[int32]string{}, dst: map[int32]string{}}
	for k, i := range g.b.peerIdx {
		s.peerKeys[i] = k
	}
	return s
}

// same compares a node of s's state with one of t's.
func (s *signer) same(n *inode, t *signer, m *inode) bool {
	s.g.keys(n)
	t.g.keys(m)
	if n.external != m.external || len(n.src) != len(m.src) || len(n.dst) != len(m.dst) {
		return false
	}
	sigs := func(sg *signer, keys []int32, src bool) []string {
		out := make([]string, 0, len(keys))
		for _, k := range keys {
			v := sg.sig(k, src)
			if v == "" {
				return nil
			}
			out = append(out, v)
		}
		slices.Sort(out)
		return out
	}
	for _, src := range []bool{true, false} {
		kn, km := n.src, m.src
		if !src {
			kn, km = n.dst, m.dst
		}
		a, b := sigs(s, kn, src), sigs(t, km, src)
		if a == nil || b == nil || !slices.Equal(a, b) {
			return false
		}
	}
	return true
}

func (s *signer) sig(k int32, src bool) string {
	cache := s.dst
	if src {
		cache = s.src
	}
	if v, ok := cache[k]; ok {
		return v
	}
	g := s.g
	var prof, bits, named int32
	if src {
		prof, bits = g.srcKeys[k][0], g.srcKeys[k][1]
	} else {
		prof, bits, named = g.dstKeys[k][0], g.dstKeys[k][1], g.dstKeys[k][2]
	}
	var b strings.Builder
	ok := s.profile(&b, prof)
	b.WriteString("|")
	var peers []string
	for i, w := range g.mb.bitsets[bits] {
		for j := 0; j < 64; j++ {
			if w&(1<<j) != 0 {
				peers = append(peers, s.peerKeys[i*64+j])
			}
		}
	}
	slices.Sort(peers)
	b.WriteString(strings.Join(peers, ","))
	if !src {
		b.WriteString("|")
		var ns []string
		for i, port := range g.mb.nameds[named] {
			if port != 0 {
				ns = append(ns, fmt.Sprintf("%d/%s=%d", g.e.named[i].proto, g.e.named[i].name, port))
			}
		}
		slices.Sort(ns)
		b.WriteString(strings.Join(ns, ","))
	}
	v := b.String()
	if !ok {
		v = ""
	}
	cache[k] = v
	return v
}

// profile writes a profile's policies: the tiers in evaluation order, the
// NetworkPolicy tier (where order means nothing) sorted. False when it
// holds the changed policy.
func (s *signer) profile(b *strings.Builder, prof int32) bool {
	e := s.g.e
	var mid []string
	ok := true
	for _, h := range s.g.mb.profiles[prof] {
		var ref, pol string
		switch {
		case h&handleTier != 0:
			ref = e.tiers[h&^handleTier].ref.String()
			pol = ref
		case h&handleCilium != 0:
			cr := e.cilium[h&^handleCilium].ref
			ref, pol = cr.String(), cr.Policy.String()
		default:
			ref = e.policies[h].ref.String()
			pol = ref
		}
		if pol == s.changed {
			ok = false
		}
		if h&handleTier != 0 {
			b.WriteString(ref + ";")
			continue
		}
		mid = append(mid, ref)
	}
	slices.Sort(mid)
	b.WriteString("[" + strings.Join(mid, ";") + "]")
	return ok
}

func (x *Incremental) applyPod(op DeltaOp, p *Pod) *Changes {
	g := x.g
	k := podKey(p)
	old := x.pods[k]
	before := map[string]snap{}
	if old != nil {
		before[old.WorkloadName()] = g.snapshot(old.WorkloadName())
	}
	if op == Upsert {
		before[p.WorkloadName()] = g.snapshot(p.WorkloadName())
	}
	if old != nil {
		g.removePod(old)
		delete(x.pods, k)
	}
	if op == Upsert {
		cp := *p
		x.pods[k] = &cp
		g.addPod(&cp)
	}
	return g.diff(before, len(g.e.peers))
}

func (x *Incremental) applyNamespace(op DeltaOp, ns *Namespace) *Changes {
	g := x.g
	before := g.nodesOf(g.nsClasses[ns.Name])
	var set labels.Set
	if op == Delete {
		delete(x.namespaces, ns.Name)
		if len(g.nsClasses[ns.Name]) > 0 {
			set = labels.Set{namespaceNameLabel: ns.Name}
		}
	} else {
		x.namespaces[ns.Name] = Namespace{Name: ns.Name, Labels: maps.Clone(ns.Labels)}
		set = labels.Set(maps.Clone(ns.Labels))
	}
	if set == nil {
		delete(g.e.nsLabels, ns.Name)
	} else {
		g.e.nsLabels[ns.Name] = set
	}
	g.refreshNSPeers(ns.Name)
	for ci := range g.nsClasses[ns.Name] {
		g.rederive(ci)
	}
	return g.diff(before, len(g.e.peers))
}

// nodesOf snapshots the nodes holding the classes.
func (g *igen) nodesOf(classes map[int32]struct{}) map[string]snap {
	out := map[string]snap{}
	for ci := range classes {
		for n := range g.classes[ci].nodes {
			if _, ok := out[n.name]; !ok {
				out[n.name] = g.snapshot(n.name)
			}
		}
	}
	return out
}

// refreshNSPeers recomputes which selector peers' namespace part matches a
// namespace, as newMatrixBuilder does for every namespace.
func (g *igen) refreshNSPeers(ns string) {
	var list []int
	if set, ok := g.e.nsLabels[ns]; ok {
		for i := range g.e.peers {
			if g.nsPeerMatches(i, ns, set) {
				list = append(list, i)
			}
		}
	}
	if list == nil {
		delete(g.mb.nsPeers, ns)
		return
	}
	g.mb.nsPeers[ns] = list
}

func (g *igen) nsPeerMatches(i int, ns string, set labels.Set) bool {
	m := &g.e.peers[i]
	return m.kind == peerSelector && ((m.nsSel == nil && m.policyNS == ns) || (m.nsSel != nil && m.nsSel.Matches(set)))
}

// addedPeers registers peers compiled since n peers existed with the
// matrix builder, and re-derives the classes they select (their bits grow;
// their connections do not change by that alone: only the new policy's
// rules name the new peers). It reports false when a peer is of a kind
// that needs a rebuild (address, nodes, cluster). It runs after every
// compilation, failed ones too: a later policy may reuse the peers.
func (g *igen) addedPeers(n int) bool {
	ok := true
	for i := n; i < len(g.e.peers); i++ {
		m := &g.e.peers[i]
		switch m.kind {
		case peerSelector:
			for ns, set := range g.e.nsLabels {
				if !g.nsPeerMatches(i, ns, set) {
					continue
				}
				g.mb.nsPeers[ns] = append(g.mb.nsPeers[ns], i)
				for ci := range g.nsClasses[ns] {
					if p := &g.e.pods[g.classes[ci].rep]; !p.HostNetwork && m.podSel.Matches(labels.Set(p.Labels)) {
						g.rederive(ci)
					}
				}
			}
		case peerCilium:
			g.mb.ciliumPeers = append(g.mb.ciliumPeers, i)
			for ns, cs := range g.nsClasses {
				if m.policyNS != "" && m.policyNS != ns {
					continue
				}
				for ci := range cs {
					if p := &g.e.pods[g.classes[ci].rep]; !p.HostNetwork && m.podSel.Matches(g.e.ciliumLabels(p)) {
						g.rederive(ci)
					}
				}
			}
		default:
			ok = false
		}
	}
	return ok
}

// addedNamed re-derives every live class and address entity when policies
// brought new named ports: their resolution is part of a behaviour.
func (g *igen) addedNamed() {
	if len(g.e.named) == g.named {
		return
	}
	g.named = len(g.e.named)
	for xi := range g.mb.ents {
		bh := g.canon(g.mb.entityBehaviour(xi))
		n := g.byName[g.mb.ents[xi].name]
		n.src[0], n.dst[0] = g.srcKey(bh), g.dstKey(bh)
	}
	for _, cs := range g.nsClasses {
		for ci := range cs {
			g.rederive(ci)
		}
	}
}

// hasAddressPeers reports whether rules name peers only a rebuild handles.
func (e *Engine) hasAddressPeers(peerLists ...[]int) bool {
	for _, ps := range peerLists {
		for _, p := range ps {
			if k := e.peers[p].kind; k != peerSelector && k != peerCilium {
				return true
			}
		}
	}
	return false
}

func (cp *compiledPolicy) peerLists() [][]int {
	var out [][]int
	for _, rs := range [][]compiledRule{cp.inRules, cp.egRules} {
		for i := range rs {
			out = append(out, rs[i].peers)
		}
	}
	return out
}

func (cp *compiledCiliumPolicy) peerLists() [][]int {
	var out [][]int
	for _, rs := range [][]compiledCiliumRule{cp.inAllow, cp.inDeny, cp.egAllow, cp.egDeny} {
		for i := range rs {
			out = append(out, rs[i].peers)
		}
	}
	return out
}

func (x *Incremental) applyNetworkPolicy(op DeltaOp, np *networkingv1.NetworkPolicy) (*Changes, error) {
	g := x.g
	k := npKey(np)
	oldSlot, had := g.npSlot[k]
	if op == Delete && !had {
		return &Changes{}, nil
	}
	if had && g.e.hasAddressPeers(g.e.policies[oldSlot].peerLists()...) {
		return x.rebuild(PolicyRef{Namespace: k.ns, Name: k.name}, func() func() { return swap(x.nps, k, np, op) })
	}
	var cp compiledPolicy
	nPeers := len(g.e.peers)
	if op == Upsert {
		var err error
		cp, err = g.b.policy(np)
		simple := g.addedPeers(nPeers)
		g.addedNamed()
		if err != nil {
			return nil, fmt.Errorf("networkpolicy %s/%s: %w", k.ns, k.name, err)
		}
		if !simple || g.e.hasAddressPeers(cp.peerLists()...) {
			return x.rebuild(PolicyRef{Namespace: k.ns, Name: k.name}, func() func() { return swap(x.nps, k, np, op) })
		}
	}
	// The classes whose profile changes: those the old or new selector picks.
	touched := map[int32]struct{}{}
	for ci := range g.nsClasses[k.ns] {
		p := &g.e.pods[g.classes[ci].rep]
		if p.HostNetwork {
			continue
		}
		set := labels.Set(p.Labels)
		if (had && g.e.policies[oldSlot].sel.Matches(set)) || (op == Upsert && cp.sel.Matches(set)) {
			touched[ci] = struct{}{}
		}
	}
	before := g.nodesOf(touched)
	if had {
		g.e.byNS[k.ns] = slices.DeleteFunc(g.e.byNS[k.ns], func(i int) bool { return i == oldSlot })
		delete(g.npSlot, k)
	}
	if op == Upsert {
		g.npSlot[k] = len(g.e.policies)
		g.e.byNS[k.ns] = append(g.e.byNS[k.ns], len(g.e.policies))
		g.e.policies = append(g.e.policies, cp)
		x.nps[k] = np
	} else {
		delete(x.nps, k)
	}
	for ci := range touched {
		g.rederive(ci)
	}
	return g.diff(before, nPeers), nil
}

func (x *Incremental) applyCilium(op DeltaOp, p *CiliumNetworkPolicy) (*Changes, error) {
	g := x.g
	k := cilKey(p)
	oldSlots, had := g.cilSlot[k]
	if op == Delete && !had {
		return &Changes{}, nil
	}
	for _, s := range oldSlots {
		if g.e.hasAddressPeers(g.e.cilium[s].peerLists()...) {
			return x.rebuild(PolicyRef{Namespace: k.ns, Name: k.name, Kind: k.kind}, func() func() { return swap(x.cils, k, p, op) })
		}
	}
	first := len(g.e.cilium)
	var added []compiledCiliumPolicy
	nPeers := len(g.e.peers)
	if op == Upsert {
		errs := g.b.compileCilium(&Cluster{CiliumNetworkPolicies: []*CiliumNetworkPolicy{p}})
		// Out of e.cilium until committed: re-deriving a class must not
		// see them yet.
		added = slices.Clone(g.e.cilium[first:])
		g.e.cilium = g.e.cilium[:first]
		simple := g.addedPeers(nPeers)
		g.addedNamed()
		if len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
		for i := range added {
			simple = simple && !g.e.hasAddressPeers(added[i].peerLists()...)
		}
		if !simple {
			return x.rebuild(PolicyRef{Namespace: k.ns, Name: k.name, Kind: k.kind}, func() func() { return swap(x.cils, k, p, op) })
		}
	}
	newSlots := make([]int, 0, len(added))
	for s := range added {
		newSlots = append(newSlots, first+s)
	}
	touched := map[int32]struct{}{}
	for ns, cs := range g.nsClasses {
		if k.ns != "" && k.ns != ns {
			continue
		}
		for ci := range cs {
			rep := &g.e.pods[g.classes[ci].rep]
			for _, s := range oldSlots {
				if g.e.ciliumSelects(&g.e.cilium[s], rep) {
					touched[ci] = struct{}{}
				}
			}
			for i := range added {
				if g.e.ciliumSelects(&added[i], rep) {
					touched[ci] = struct{}{}
				}
			}
		}
	}
	before := g.nodesOf(touched)
	// The old slots stop selecting (classBehaviour skips a nil selector);
	// their rules stay for the behaviours interned with them.
	for _, s := range oldSlots {
		g.e.cilium[s].sel = nil
	}
	if op == Upsert {
		g.e.cilium = append(g.e.cilium, added...)
		g.cilSlot[k] = newSlots
		x.cils[k] = p
	} else {
		delete(g.cilSlot, k)
		delete(x.cils, k)
	}
	for ci := range touched {
		g.rederive(ci)
	}
	return g.diff(before, nPeers), nil
}

// Stats reports the engine's sizes and how many deltas were applied.
func (x *Incremental) Stats() IncrementalStats {
	g := x.g
	live := 0
	for _, cs := range g.nsClasses {
		live += len(cs)
	}
	return IncrementalStats{
		Pods: len(x.pods), Classes: live, Nodes: len(g.nodes),
		SrcKeys: len(g.srcKeys), DstKeys: len(g.dstKeys), Memo: len(g.memo),
		Deltas: x.deltas, Rebuilds: x.rebuilds,
	}
}

// Names lists the workloads and address entities in iteration order, as
// Matrix.Names.
func (x *Incremental) Names() []string {
	out := make([]string, len(x.g.nodes))
	for i, n := range x.g.nodes {
		out[i] = n.name
	}
	return out
}

// IsExternal reports whether a name is an address entity, as
// Matrix.IsExternal.
func (x *Incremental) IsExternal(name string) bool {
	n := x.g.byName[name]
	return n != nil && n.external
}

// Connection is the connection of two names with its partial counts, as
// Matrix.Connection.
func (x *Incremental) Connection(src, dst string) (Connection, bool) {
	ps, ok := x.Lookup(src, dst)
	if !ok {
		return Connection{}, false
	}
	g := x.g
	c := Connection{Src: src, Dst: dst, Ports: ps}
	c.PodPairs, c.FullPairs = g.partial(g.byName[src], g.byName[dst], ps)
	return c, true
}

// partial is Matrix.pairCounts for two nodes: both 0 when every pod pair
// is allowed all of ps.
func (g *igen) partial(a, b *inode, ps PortSet) (total, full int) {
	g.keys(a)
	g.keys(b)
	if len(a.src) == 1 && len(b.dst) == 1 {
		return 0, 0
	}
	for i, s := range a.src {
		for j, d := range b.dst {
			n := int(a.srcN[i]) * int(b.dstN[j])
			total += n
			if g.si.sets[g.pairSet(s, d)].Equal(ps) {
				full += n
			}
		}
	}
	if full == total {
		return 0, 0
	}
	return total, full
}

// Lookup is the ports allowed from src to dst, as Matrix.Lookup.
func (x *Incremental) Lookup(src, dst string) (PortSet, bool) {
	g := x.g
	a, b := g.byName[src], g.byName[dst]
	if a == nil || b == nil || a == b || (a.external && b.external) {
		return PortSet{}, false
	}
	return g.ports(g.keys(a).src, g.keys(b).dst), true
}

// Each yields every ordered pair with something allowed, in the order and
// with the partial counts of Matrix.Each. It computes every pair: meant for
// checks and small clusters, not for each delta.
func (x *Incremental) Each(yield func(Connection) bool) {
	g := x.g
	nodes := slices.Clone(g.nodes)
	for _, n := range nodes {
		g.keys(n)
	}
	for _, a := range nodes {
		for _, b := range nodes {
			if a == b || (a.external && b.external) {
				continue
			}
			ps := g.ports(a.src, b.dst)
			if ps.IsEmpty() {
				continue
			}
			c := Connection{Src: a.name, Dst: b.name, Ports: ps}
			c.PodPairs, c.FullPairs = g.partial(a, b, ps)
			if !yield(c) {
				return
			}
		}
	}
}
