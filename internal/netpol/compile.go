package netpol

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// namespaceNameLabel is set on every namespace by the API server
// (https://kubernetes.io/docs/reference/labels-annotations-taints/#kubernetes-io-metadata-name).
const namespaceNameLabel = "kubernetes.io/metadata.name"

// Engine answers connectivity questions about one Cluster. It is immutable after
// New and safe for concurrent use.
type Engine struct {
	opts     Options
	pods     []Pod
	nsLabels map[string]labels.Set
	policies []compiledPolicy
	byNS     map[string][]int // policy indices per namespace
	peers    []peerMatcher    // distinct peers of all rules
	// peerRules lists, per peer, the rules (numbered across all policies) that
	// contain it: two addresses matched by the same rules are treated alike.
	peerRules [][]int32
	named     []namedPort // distinct named ports of all rules
	// tiers are the network-policy-api policies in evaluation order: the
	// Admin tier by priority, then the Baseline tier by priority.
	tiers    []compiledTierPolicy
	cilium   []compiledCiliumPolicy
	unjudged []UnjudgedPart
	warnings []string
}

type compiledPolicy struct {
	ref              PolicyRef
	sel              labels.Selector
	ingress, egress  bool // policyTypes after defaulting
	inRules, egRules []compiledRule
}

// compiledRule is one ingress or egress rule. Peers index Engine.peers.
type compiledRule struct {
	ref      RuleRef
	allPeers bool // from/to absent or empty: every source/destination, external included
	peers    []int
	ports    compiledPorts
}

// compiledPorts is a rule's ports: numbers, ranges and whole protocols folded
// into one PortSet, named ports kept apart because they resolve per destination pod.
type compiledPorts struct {
	numeric PortSet
	named   []int // indices into Engine.named
}

type namedPort struct {
	proto int
	name  string
}

type peerKind uint8

const (
	peerSelector peerKind = iota
	peerIPBlock
	// peerNodes matches every node: host-network pods (whose addresses are
	// their node's) in the engine's node reading.
	peerNodes
	// peerCilium matches pod-network pods on their Cilium labels
	// (Engine.ciliumLabels), in policyNS when set.
	peerCilium
	// peerCluster matches every pod, host-network pods included (Cilium's
	// cluster entity).
	peerCluster
)

// How an address peer treats pod addresses.
const (
	podIPsByOption int8 = iota // NetworkPolicy ipBlock: Options.IPBlockMatchesPods; node addresses always
	podIPsAlways               // network-policy-api networks: pod and node addresses are matched like any
	podIPsNever                // Cilium CIDR rules: only addresses outside the cluster
)

type peerMatcher struct {
	kind peerKind
	// selector peers
	policyNS string          // used when nsSel is nil: the policy's own namespace
	nsSel    labels.Selector // nil: the policy's namespace only
	podSel   labels.Selector // never nil; Everything when absent
	// ipBlock peers
	cidr   netip.Prefix
	except []netip.Prefix
	podIPs int8
	// coversPods: with podIPsAlways, the block holds a whole pod CIDR, so it
	// matches pods whose IPs are unknown.
	coversPods bool
}

// New compiles the policies' selectors, CIDRs and ports once. It rejects what the
// API server's validation would reject, naming the policy.
func New(c Cluster, opts Options) (*Engine, error) {
	e, _, err := newEngine(c, opts)
	return e, err
}

// newEngine is New, also returning the builder so that the incremental
// engine (incremental.go) can compile later policies into the same peer and
// named-port tables.
func newEngine(c Cluster, opts Options) (*Engine, *builder, error) {
	e := &Engine{
		opts:     opts,
		pods:     c.Pods,
		nsLabels: make(map[string]labels.Set, len(c.Namespaces)),
		byNS:     make(map[string][]int),
	}
	for _, ns := range c.Namespaces {
		e.nsLabels[ns.Name] = labels.Set(ns.Labels)
	}
	for _, p := range c.Pods {
		if _, ok := e.nsLabels[p.Namespace]; !ok {
			e.nsLabels[p.Namespace] = labels.Set{namespaceNameLabel: p.Namespace}
		}
	}
	b := builder{e: e, peerIdx: map[string]int{}, namedIdx: map[namedPort]int{}}
	var errs []error
	for _, np := range c.Policies {
		if np == nil {
			continue
		}
		cp, err := b.policy(np)
		if err != nil {
			errs = append(errs, fmt.Errorf("networkpolicy %s/%s: %w", np.Namespace, np.Name, err))
			continue
		}
		e.byNS[cp.ref.Namespace] = append(e.byNS[cp.ref.Namespace], len(e.policies))
		e.policies = append(e.policies, cp)
	}
	errs = append(errs, b.compileTiers(&c)...)
	errs = append(errs, b.compileCilium(&c)...)
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	podCIDRs := opts.PodCIDRs
	if len(podCIDRs) == 0 {
		podCIDRs = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}
	}
	for i := range e.peers {
		m := &e.peers[i]
		if m.kind != peerIPBlock || m.podIPs != podIPsAlways {
			continue
		}
		for _, pc := range podCIDRs {
			if pc.Addr().Is4() == m.cidr.Addr().Is4() && m.cidr.Bits() <= pc.Bits() && m.cidr.Contains(pc.Addr()) {
				m.coversPods = true
			}
		}
	}
	e.tierWarnings()
	return e, &b, nil
}

// PodPeer finds a pod by namespace and name.
func (e *Engine) PodPeer(namespace, name string) (Peer, bool) {
	for i := range e.pods {
		if e.pods[i].Namespace == namespace && e.pods[i].Name == name {
			return PodPeer(i), true
		}
	}
	return Peer{}, false
}

// builder deduplicates peers and named ports across policies so that the matrix
// matches each distinct peer once per pod class.
type builder struct {
	e        *Engine
	peerIdx  map[string]int
	namedIdx map[namedPort]int
	nRules   int32
}

func (b *builder) policy(np *networkingv1.NetworkPolicy) (compiledPolicy, error) {
	ns := np.Namespace
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	cp := compiledPolicy{ref: PolicyRef{Namespace: ns, Name: np.Name}}
	sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil {
		return cp, fmt.Errorf("spec.podSelector: %w", err)
	}
	cp.sel = sel
	cp.ingress, cp.egress, err = policyTypes(&np.Spec)
	if err != nil {
		return cp, err
	}
	// Rules of a direction the policy does not govern are ignored, as the
	// reference says for policyTypes.
	if cp.ingress {
		for i, r := range np.Spec.Ingress {
			cr, err := b.rule(RuleRef{Policy: cp.ref, Direction: Ingress, Rule: i}, ns, r.From, r.Ports)
			if err != nil {
				return cp, fmt.Errorf("spec.ingress[%d]: %w", i, err)
			}
			cp.inRules = append(cp.inRules, cr)
		}
	}
	if cp.egress {
		for i, r := range np.Spec.Egress {
			cr, err := b.rule(RuleRef{Policy: cp.ref, Direction: Egress, Rule: i}, ns, r.To, r.Ports)
			if err != nil {
				return cp, fmt.Errorf("spec.egress[%d]: %w", i, err)
			}
			cp.egRules = append(cp.egRules, cr)
		}
	}
	return cp, nil
}

// policyTypes applies the API default: without policyTypes a policy governs
// ingress always and egress only when it has egress rules.
func policyTypes(spec *networkingv1.NetworkPolicySpec) (ingress, egress bool, err error) {
	if len(spec.PolicyTypes) == 0 {
		return true, len(spec.Egress) > 0, nil
	}
	for _, t := range spec.PolicyTypes {
		switch t {
		case networkingv1.PolicyTypeIngress:
			ingress = true
		case networkingv1.PolicyTypeEgress:
			egress = true
		default:
			return false, false, fmt.Errorf("spec.policyTypes: unknown type %q", t)
		}
	}
	return ingress, egress, nil
}

func (b *builder) rule(ref RuleRef, ns string, peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort) (compiledRule, error) {
	cr := compiledRule{ref: ref, allPeers: len(peers) == 0}
	for i := range peers {
		pi, err := b.peer(ns, &peers[i])
		if err != nil {
			return cr, fmt.Errorf("peer %d: %w", i, err)
		}
		if !slices.Contains(cr.peers, pi) {
			cr.peers = append(cr.peers, pi)
			b.e.peerRules[pi] = append(b.e.peerRules[pi], b.nRules)
		}
	}
	b.nRules++
	var err error
	cr.ports, err = b.ports(ports)
	return cr, err
}

func (b *builder) peer(ns string, p *networkingv1.NetworkPolicyPeer) (int, error) {
	var m peerMatcher
	var key string
	switch {
	case p.IPBlock != nil:
		if p.PodSelector != nil || p.NamespaceSelector != nil {
			return 0, errors.New("ipBlock may not be combined with podSelector or namespaceSelector")
		}
		var err error
		m, key, err = ipBlockPeer(p.IPBlock)
		if err != nil {
			return 0, err
		}
	case p.PodSelector != nil || p.NamespaceSelector != nil:
		m = peerMatcher{kind: peerSelector, podSel: labels.Everything()}
		if p.PodSelector != nil {
			s, err := metav1.LabelSelectorAsSelector(p.PodSelector)
			if err != nil {
				return 0, fmt.Errorf("podSelector: %w", err)
			}
			m.podSel = s
		}
		nsKey := "ns=" + ns
		if p.NamespaceSelector != nil {
			s, err := metav1.LabelSelectorAsSelector(p.NamespaceSelector)
			if err != nil {
				return 0, fmt.Errorf("namespaceSelector: %w", err)
			}
			m.nsSel, nsKey = s, "nssel="+s.String()
		} else {
			m.policyNS = ns
		}
		key = "s|" + nsKey + "|" + m.podSel.String()
	default:
		return 0, errors.New("a peer needs podSelector, namespaceSelector or ipBlock")
	}
	if i, ok := b.peerIdx[key]; ok {
		return i, nil
	}
	b.peerIdx[key] = len(b.e.peers)
	b.e.peers = append(b.e.peers, m)
	b.e.peerRules = append(b.e.peerRules, nil)
	return len(b.e.peers) - 1, nil
}

func ipBlockPeer(blk *networkingv1.IPBlock) (peerMatcher, string, error) {
	cidr, err := netip.ParsePrefix(blk.CIDR)
	if err != nil {
		// netip's message names its own function; say what is wrong instead.
		return peerMatcher{}, "", fmt.Errorf("ipBlock.cidr: %q is not a CIDR (want address/prefix length, such as 10.0.0.0/8)", blk.CIDR)
	}
	// An IPv4-mapped IPv6 CIDR would match neither family the way a dataplane
	// sees addresses; refuse it rather than guess.
	if cidr.Addr().Is4In6() {
		return peerMatcher{}, "", fmt.Errorf("ipBlock.cidr: IPv4-mapped IPv6 prefix %s is not supported", cidr)
	}
	m := peerMatcher{kind: peerIPBlock, cidr: cidr.Masked()}
	for i, x := range blk.Except {
		ex, err := netip.ParsePrefix(x)
		if err != nil {
			return m, "", fmt.Errorf("ipBlock.except[%d]: %q is not a CIDR (want address/prefix length, such as 10.0.0.0/8)", i, x)
		}
		ex = ex.Masked()
		// API validation requires each except to lie inside cidr.
		if ex.Addr().Is4() != m.cidr.Addr().Is4() || ex.Bits() < m.cidr.Bits() || !m.cidr.Contains(ex.Addr()) {
			return m, "", fmt.Errorf("ipBlock.except[%d]: %s is not within %s", i, ex, m.cidr)
		}
		m.except = append(m.except, ex)
	}
	slices.SortFunc(m.except, comparePrefix)
	m.except = slices.Compact(m.except)
	var key strings.Builder
	key.WriteString("b|" + m.cidr.String())
	for _, x := range m.except {
		key.WriteString("|" + x.String())
	}
	return m, key.String(), nil
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// ports compiles a rule's port list; an empty list means every port of every protocol.
func (b *builder) ports(ports []networkingv1.NetworkPolicyPort) (compiledPorts, error) {
	if len(ports) == 0 {
		return compiledPorts{numeric: AllPorts()}, nil
	}
	var cp compiledPorts
	for i, p := range ports {
		proto := corev1.ProtocolTCP // omitted protocol is TCP
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		pi, ok := protoIndex(proto)
		if !ok {
			return cp, fmt.Errorf("ports[%d]: unsupported protocol %q", i, proto)
		}
		switch {
		case p.Port == nil:
			if p.EndPort != nil {
				return cp, fmt.Errorf("ports[%d]: endPort requires port", i)
			}
			cp.numeric = cp.numeric.Union(allOf(pi))
		case p.Port.Type == intstr.String:
			if p.EndPort != nil {
				return cp, fmt.Errorf("ports[%d]: endPort requires a numeric port", i)
			}
			if p.Port.StrVal == "" {
				return cp, fmt.Errorf("ports[%d]: empty port name", i)
			}
			np := namedPort{proto: pi, name: p.Port.StrVal}
			idx, ok := b.namedIdx[np]
			if !ok {
				idx = len(b.e.named)
				b.namedIdx[np] = idx
				b.e.named = append(b.e.named, np)
			}
			if !slices.Contains(cp.named, idx) {
				cp.named = append(cp.named, idx)
			}
		default:
			lo, hi := p.Port.IntVal, p.Port.IntVal
			if p.EndPort != nil {
				hi = *p.EndPort
			}
			if lo < minPort || lo > maxPort || hi < lo || hi > maxPort {
				return cp, fmt.Errorf("ports[%d]: invalid port range %d-%d", i, lo, hi)
			}
			cp.numeric = cp.numeric.Union(singleRange(PortRange{Protocol: protocols[pi], Start: lo, End: hi}))
		}
	}
	return cp, nil
}
