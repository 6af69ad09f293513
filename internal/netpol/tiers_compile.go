package netpol

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// The kinds of the network-policy-api, as PolicyRef.Kind names them.
const (
	KindAdminNetworkPolicy         = "AdminNetworkPolicy"
	KindBaselineAdminNetworkPolicy = "BaselineAdminNetworkPolicy"
	KindClusterNetworkPolicy       = "ClusterNetworkPolicy"
)

// compiledTierPolicy is an AdminNetworkPolicy, BaselineAdminNetworkPolicy or
// ClusterNetworkPolicy: a subject and ordered rules with actions.
type compiledTierPolicy struct {
	ref      PolicyRef
	tier     Tier
	priority int32
	// subject: pods in namespaces nsSel selects, whose labels podSel selects.
	nsSel, podSel    labels.Selector
	inRules, egRules []compiledTierRule
}

// compiledTierRule is one rule; its peers index Engine.peers.
type compiledTierRule struct {
	ref    RuleRef
	action Action
	peers  []int
	ports  compiledPorts
	// domains are egress domainNames: not judgeable on addresses, they match
	// no peer of the matrix; reach reports them as host flows.
	domains []string
}

func (p *compiledTierPolicy) rules(dir Direction) []compiledTierRule {
	if dir == Egress {
		return p.egRules
	}
	return p.inRules
}

// UnjudgedPart is a part of a policy the engine does not evaluate (it
// matches nothing in the engine): a node selector with labels, a domain
// name, an L7 rule. Callers list these, never drop them.
type UnjudgedPart struct {
	Policy PolicyRef
	Field  string // the field path, e.g. spec.egress[0].to[1].nodes
	Why    string
}

// String is "policy field: why".
func (u UnjudgedPart) String() string { return u.Policy.String() + " " + u.Field + ": " + u.Why }

// tierInput is one tiered policy before compilation, whatever its kind.
type tierInput struct {
	ref      PolicyRef
	tier     Tier
	priority int32
	subject  ClusterPolicySubject
	in       []tierRuleInput
	eg       []tierRuleInput
}

type tierRuleInput struct {
	name   string
	action string
	from   []ClusterIngressPeer
	to     []ClusterEgressPeer
	// exactly one of v1alpha1 ports or v1alpha2 protocols is used
	ports     *[]AdminPolicyPort
	protocols []ClusterPolicyProtocol
	v1alpha2  bool
}

// compileTiers compiles every tiered policy of the cluster and orders them:
// Admin tier by priority, then Baseline tier by priority; ties by kind and
// name, so the order is stable (the reference leaves ties to the
// implementation, Engine.Warnings says where they matter).
func (b *builder) compileTiers(c *Cluster) []error {
	var inputs []tierInput
	for _, p := range c.AdminNetworkPolicies {
		if p == nil {
			continue
		}
		ti := tierInput{ref: PolicyRef{Name: p.Name, Kind: KindAdminNetworkPolicy}, tier: TierAdmin, priority: p.Spec.Priority, subject: p.Spec.Subject}
		for _, r := range p.Spec.Ingress {
			ti.in = append(ti.in, tierRuleInput{name: r.Name, action: r.Action, from: r.From, ports: r.Ports})
		}
		for _, r := range p.Spec.Egress {
			ti.eg = append(ti.eg, tierRuleInput{name: r.Name, action: r.Action, to: r.To, ports: r.Ports})
		}
		inputs = append(inputs, ti)
	}
	for _, p := range c.BaselineAdminNetworkPolicies {
		if p == nil {
			continue
		}
		// The BANP is a singleton with no priority; it sorts after every
		// Baseline-tier ClusterNetworkPolicy (no implementation serves both
		// kinds, so the choice decides nothing in practice).
		ti := tierInput{ref: PolicyRef{Name: p.Name, Kind: KindBaselineAdminNetworkPolicy}, tier: TierBaseline, priority: 1001, subject: p.Spec.Subject}
		for _, r := range p.Spec.Ingress {
			ti.in = append(ti.in, tierRuleInput{name: r.Name, action: r.Action, from: r.From, ports: r.Ports})
		}
		for _, r := range p.Spec.Egress {
			ti.eg = append(ti.eg, tierRuleInput{name: r.Name, action: r.Action, to: r.To, ports: r.Ports})
		}
		inputs = append(inputs, ti)
	}
	var errs []error
	for _, p := range c.ClusterNetworkPolicies {
		if p == nil {
			continue
		}
		ti := tierInput{ref: PolicyRef{Name: p.Name, Kind: KindClusterNetworkPolicy}, priority: p.Spec.Priority, subject: p.Spec.Subject}
		switch p.Spec.Tier {
		case "Admin":
			ti.tier = TierAdmin
		case "Baseline":
			ti.tier = TierBaseline
		default:
			errs = append(errs, fmt.Errorf("clusternetworkpolicy %s: spec.tier: %q is not Admin or Baseline", p.Name, p.Spec.Tier))
			continue
		}
		for _, r := range p.Spec.Ingress {
			ti.in = append(ti.in, tierRuleInput{name: r.Name, action: r.Action, from: r.From, protocols: r.Protocols, v1alpha2: true})
		}
		for _, r := range p.Spec.Egress {
			ti.eg = append(ti.eg, tierRuleInput{name: r.Name, action: r.Action, to: r.To, protocols: r.Protocols, v1alpha2: true})
		}
		inputs = append(inputs, ti)
	}
	kindOrder := map[string]int{KindClusterNetworkPolicy: 0, KindAdminNetworkPolicy: 1, KindBaselineAdminNetworkPolicy: 2}
	slices.SortStableFunc(inputs, func(a, b tierInput) int {
		return cmp.Or(cmp.Compare(a.tier, b.tier), cmp.Compare(a.priority, b.priority),
			cmp.Compare(kindOrder[a.ref.Kind], kindOrder[b.ref.Kind]), cmp.Compare(a.ref.Name, b.ref.Name))
	})
	for i := range inputs {
		cp, err := b.tierPolicy(&inputs[i])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", inputs[i].ref, err))
			continue
		}
		b.e.tiers = append(b.e.tiers, cp)
	}
	return errs
}

func (b *builder) tierPolicy(in *tierInput) (compiledTierPolicy, error) {
	cp := compiledTierPolicy{ref: in.ref, tier: in.tier, priority: in.priority}
	if in.tier == TierAdmin || in.ref.Kind == KindClusterNetworkPolicy {
		if in.priority < 0 || in.priority > 1000 {
			return cp, fmt.Errorf("spec.priority: %d is outside 0-1000", in.priority)
		}
	}
	var err error
	switch s := in.subject; {
	case s.Namespaces != nil && s.Pods != nil, s.Namespaces == nil && s.Pods == nil:
		return cp, errors.New("spec.subject: exactly one of namespaces and pods must be set")
	case s.Namespaces != nil:
		if cp.nsSel, err = metav1.LabelSelectorAsSelector(s.Namespaces); err != nil {
			return cp, fmt.Errorf("spec.subject.namespaces: %w", err)
		}
		cp.podSel = labels.Everything()
	default:
		if cp.nsSel, err = metav1.LabelSelectorAsSelector(&s.Pods.NamespaceSelector); err != nil {
			return cp, fmt.Errorf("spec.subject.pods.namespaceSelector: %w", err)
		}
		if cp.podSel, err = metav1.LabelSelectorAsSelector(&s.Pods.PodSelector); err != nil {
			return cp, fmt.Errorf("spec.subject.pods.podSelector: %w", err)
		}
	}
	for i := range in.in {
		r, err := b.tierRule(&cp, Ingress, i, &in.in[i])
		if err != nil {
			return cp, fmt.Errorf("spec.ingress[%d]: %w", i, err)
		}
		cp.inRules = append(cp.inRules, r)
	}
	for i := range in.eg {
		r, err := b.tierRule(&cp, Egress, i, &in.eg[i])
		if err != nil {
			return cp, fmt.Errorf("spec.egress[%d]: %w", i, err)
		}
		cp.egRules = append(cp.egRules, r)
	}
	return cp, nil
}

func (b *builder) tierRule(cp *compiledTierPolicy, dir Direction, i int, in *tierRuleInput) (compiledTierRule, error) {
	r := compiledTierRule{ref: RuleRef{Policy: cp.ref, Direction: dir, Rule: i, Name: in.name}}
	switch {
	case in.action == "Allow" && !in.v1alpha2, in.action == "Accept" && in.v1alpha2:
		r.action = ActionAccept
	case in.action == "Deny":
		r.action = ActionDeny
	case in.action == "Pass" && cp.ref.Kind != KindBaselineAdminNetworkPolicy && cp.tier == TierAdmin:
		r.action = ActionPass
	default:
		return r, fmt.Errorf("action: %q is not an action of %s in the %s tier", in.action, cp.ref.Kind, cp.tier)
	}
	field := "from"
	n := len(in.from)
	if dir == Egress {
		field, n = "to", len(in.to)
	}
	if n == 0 {
		return r, fmt.Errorf("%s: at least one peer is required", field)
	}
	ruleNo := b.nRules
	b.nRules++
	add := func(pi int) {
		if !slices.Contains(r.peers, pi) {
			r.peers = append(r.peers, pi)
			b.e.peerRules[pi] = append(b.e.peerRules[pi], ruleNo)
		}
	}
	for pi := 0; pi < n; pi++ {
		var ns *metav1.LabelSelector
		var pods *NamespacedPod
		var extra int // set fields beyond namespaces/pods
		var eg ClusterEgressPeer
		if dir == Ingress {
			ns, pods = in.from[pi].Namespaces, in.from[pi].Pods
		} else {
			eg = in.to[pi]
			ns, pods = eg.Namespaces, eg.Pods
			for _, set := range []bool{eg.Nodes != nil, len(eg.Networks) > 0, len(eg.DomainNames) > 0} {
				if set {
					extra++
				}
			}
		}
		set := extra
		if ns != nil {
			set++
		}
		if pods != nil {
			set++
		}
		at := fmt.Sprintf("%s[%d]", field, pi)
		if set != 1 {
			return r, fmt.Errorf("%s: exactly one peer field must be set", at)
		}
		switch {
		case ns != nil:
			idx, err := b.selectorPeer(ns, nil)
			if err != nil {
				return r, fmt.Errorf("%s.namespaces: %w", at, err)
			}
			add(idx)
		case pods != nil:
			idx, err := b.selectorPeer(&pods.NamespaceSelector, &pods.PodSelector)
			if err != nil {
				return r, fmt.Errorf("%s.pods: %w", at, err)
			}
			add(idx)
		case eg.Nodes != nil:
			sel, err := metav1.LabelSelectorAsSelector(eg.Nodes)
			if err != nil {
				return r, fmt.Errorf("%s.nodes: %w", at, err)
			}
			if !sel.Empty() {
				// The engine's nodes are its host-network pods, which carry
				// no node labels: only "every node" is judged where there
				// are some. Where there are none, a node selector selects
				// among no peer the engine has, whatever its labels, and is
				// judged as matching nothing.
				if b.hasNodes() {
					b.e.unjudged = append(b.e.unjudged, UnjudgedPart{Policy: cp.ref, Field: fmt.Sprintf("spec.egress[%d].%s.nodes", i, at),
						Why: "a node selector with labels: the engine has no Node labels for its host-network pods, so it matches no node here"})
				}
				continue
			}
			add(b.internPeer("nodes", peerMatcher{kind: peerNodes}))
		case len(eg.Networks) > 0:
			for ni, s := range eg.Networks {
				pfx, err := netip.ParsePrefix(s)
				if err != nil {
					return r, fmt.Errorf("%s.networks[%d]: %q is not a CIDR (want address/prefix length, such as 10.0.0.0/8)", at, ni, s)
				}
				if pfx.Addr().Is4In6() {
					return r, fmt.Errorf("%s.networks[%d]: IPv4-mapped IPv6 prefix %s is not supported", at, ni, pfx)
				}
				pfx = pfx.Masked()
				add(b.internPeer("n|"+pfx.String(), peerMatcher{kind: peerIPBlock, cidr: pfx, podIPs: podIPsAlways}))
			}
		default:
			if r.action != ActionAccept {
				return r, fmt.Errorf("%s.domainNames: only %s rules may name domains", at, map[bool]string{true: "Accept", false: "Allow"}[in.v1alpha2])
			}
			r.domains = append(r.domains, eg.DomainNames...)
			b.e.unjudged = append(b.e.unjudged, UnjudgedPart{Policy: cp.ref, Field: fmt.Sprintf("spec.egress[%d].%s.domainNames", i, at),
				Why: "domain names are not judgeable on addresses: reported as host (FQDN) egress"})
		}
	}
	var err error
	if in.v1alpha2 {
		r.ports, err = b.protocols(in.protocols)
	} else {
		r.ports, err = b.adminPorts(in.ports)
	}
	return r, err
}

// selectorPeer is a namespaces (podSel nil) or pods peer; it shares the
// matcher of a NetworkPolicy namespaceSelector peer, which means the same:
// pod-network pods of the selected namespaces.
func (b *builder) selectorPeer(nsSel, podSel *metav1.LabelSelector) (int, error) {
	m := peerMatcher{kind: peerSelector, podSel: labels.Everything()}
	s, err := metav1.LabelSelectorAsSelector(nsSel)
	if err != nil {
		return 0, err
	}
	m.nsSel = s
	if podSel != nil {
		if m.podSel, err = metav1.LabelSelectorAsSelector(podSel); err != nil {
			return 0, err
		}
	}
	return b.internPeer("s|nssel="+m.nsSel.String()+"|"+m.podSel.String(), m), nil
}

func (b *builder) internPeer(key string, m peerMatcher) int {
	if i, ok := b.peerIdx[key]; ok {
		return i
	}
	b.peerIdx[key] = len(b.e.peers)
	b.e.peers = append(b.e.peers, m)
	b.e.peerRules = append(b.e.peerRules, nil)
	return len(b.e.peers) - 1
}

// namedAnyProto adds a named port that resolves whatever the container
// port's protocol: container port names are unique in a pod, so one entry
// per protocol is the same thing.
func (b *builder) namedAnyProto(cp *compiledPorts, name string) {
	for pi := range protocols {
		np := namedPort{proto: pi, name: name}
		idx, ok := b.namedIdx[np]
		if !ok {
			idx = len(b.e.named)
			b.namedIdx[np] = idx
			b.e.named = append(b.e.named, np)
		}
		if !slices.Contains(cp.named, idx) {
			cp.named = append(cp.named, idx)
		}
	}
}

func portRange(proto corev1.Protocol, lo, hi int32) (PortSet, error) {
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	if _, ok := protoIndex(proto); !ok {
		return PortSet{}, fmt.Errorf("unsupported protocol %q", proto)
	}
	if lo < minPort || lo > maxPort || hi < lo || hi > maxPort {
		return PortSet{}, fmt.Errorf("invalid port range %d-%d", lo, hi)
	}
	return singleRange(PortRange{Protocol: proto, Start: lo, End: hi}), nil
}

// adminPorts compiles v1alpha1 ports; absent means every port.
func (b *builder) adminPorts(ports *[]AdminPolicyPort) (compiledPorts, error) {
	if ports == nil {
		return compiledPorts{numeric: AllPorts()}, nil
	}
	var cp compiledPorts
	for i, p := range *ports {
		n := 0
		for _, set := range []bool{p.PortNumber != nil, p.NamedPort != nil, p.PortRange != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			return cp, fmt.Errorf("ports[%d]: exactly one of portNumber, namedPort and portRange must be set", i)
		}
		var s PortSet
		var err error
		switch {
		case p.PortNumber != nil:
			s, err = portRange(p.PortNumber.Protocol, p.PortNumber.Port, p.PortNumber.Port)
		case p.PortRange != nil:
			// The v1alpha1 field comment says Start "must be less than End",
			// but the CRD (network-policy-api v0.1.7) enforces nothing, so
			// the API server stores start == end, and implementations
			// (kube-network-policies) match the one port. Only an inverted
			// range, which matches nothing anywhere, is refused.
			if p.PortRange.Start > p.PortRange.End {
				err = fmt.Errorf("portRange start %d is greater than end %d", p.PortRange.Start, p.PortRange.End)
				break
			}
			s, err = portRange(p.PortRange.Protocol, p.PortRange.Start, p.PortRange.End)
		default:
			if *p.NamedPort == "" {
				return cp, fmt.Errorf("ports[%d].namedPort: empty name", i)
			}
			b.namedAnyProto(&cp, *p.NamedPort)
		}
		if err != nil {
			return cp, fmt.Errorf("ports[%d]: %w", i, err)
		}
		cp.numeric = cp.numeric.Union(s)
	}
	return cp, nil
}

// protocols compiles v1alpha2 protocols; absent means every port.
func (b *builder) protocols(protos []ClusterPolicyProtocol) (compiledPorts, error) {
	if len(protos) == 0 {
		return compiledPorts{numeric: AllPorts()}, nil
	}
	var cp compiledPorts
	for i, p := range protos {
		n := 0
		var proto corev1.Protocol
		var pp *ClusterPolicyProtocolPort
		for _, c := range []struct {
			p     *ClusterPolicyProtocolPort
			proto corev1.Protocol
		}{{p.TCP, corev1.ProtocolTCP}, {p.UDP, corev1.ProtocolUDP}, {p.SCTP, corev1.ProtocolSCTP}} {
			if c.p != nil {
				n++
				proto, pp = c.proto, c.p
			}
		}
		if p.DestinationNamedPort != "" {
			n++
		}
		if n != 1 {
			return cp, fmt.Errorf("protocols[%d]: exactly one of tcp, udp, sctp and destinationNamedPort must be set", i)
		}
		if p.DestinationNamedPort != "" {
			b.namedAnyProto(&cp, p.DestinationNamedPort)
			continue
		}
		pi, _ := protoIndex(proto)
		if pp.DestinationPort == nil {
			cp.numeric = cp.numeric.Union(allOf(pi))
			continue
		}
		dp := pp.DestinationPort
		var s PortSet
		var err error
		switch {
		case dp.Range != nil && dp.Number != 0:
			err = errors.New("destinationPort: set number or range, not both")
		case dp.Range != nil:
			if dp.Range.Start >= dp.Range.End {
				err = fmt.Errorf("destinationPort.range: start %d must be less than end %d", dp.Range.Start, dp.Range.End)
				break
			}
			s, err = portRange(proto, dp.Range.Start, dp.Range.End)
		default:
			s, err = portRange(proto, dp.Number, dp.Number)
		}
		if err != nil {
			return cp, fmt.Errorf("protocols[%d].%s: %w", i, map[corev1.Protocol]string{"TCP": "tcp", "UDP": "udp", "SCTP": "sctp"}[proto], err)
		}
		cp.numeric = cp.numeric.Union(s)
	}
	return cp, nil
}

// selectsPod reports whether a tiered policy's subject is the pod;
// host-network pods are never subjects (network-policy-api
// ClusterNetworkPolicySubject).
func (e *Engine) tierSelects(p *compiledTierPolicy, pod *Pod) bool {
	return !pod.HostNetwork && p.nsSel.Matches(e.nsLabels[pod.Namespace]) && p.podSel.Matches(labels.Set(pod.Labels))
}

// Unjudged lists the parts of the cluster's policies the engine does not
// evaluate; they match nothing in its verdicts.
func (e *Engine) Unjudged() []UnjudgedPart { return slices.Clone(e.unjudged) }

// Warnings are readings the engine had to choose where the reference leaves
// the choice to the implementation, such as two policies of one tier and
// priority selecting the same pod.
func (e *Engine) Warnings() []string { return slices.Clone(e.warnings) }

// tierWarnings notes same-priority policies of one tier that select a common
// pod in a common direction: the reference lets an implementation apply
// either first, so verdicts between them may differ by CNI.
func (e *Engine) tierWarnings() {
	for i := range e.tiers {
		for j := i + 1; j < len(e.tiers) && e.tiers[j].tier == e.tiers[i].tier && e.tiers[j].priority == e.tiers[i].priority; j++ {
			a, c := &e.tiers[i], &e.tiers[j]
			if (len(a.inRules) == 0 || len(c.inRules) == 0) && (len(a.egRules) == 0 || len(c.egRules) == 0) {
				continue
			}
			for pi := range e.pods {
				if e.tierSelects(a, &e.pods[pi]) && e.tierSelects(c, &e.pods[pi]) {
					e.warnings = append(e.warnings, fmt.Sprintf("%s and %s have the same tier (%s) and priority (%d) and both select %s/%s: "+
						"the reference lets an implementation apply either first; this engine applies %s first",
						a.ref, c.ref, a.tier, a.priority, e.pods[pi].Namespace, e.pods[pi].Name, a.ref))
					break
				}
			}
		}
	}
}

// hasNodes reports whether the cluster has nodes as the engine sees them:
// host-network pods (a node's addresses). Without any, a peer that selects
// nodes only, by whatever labels, matches none of the engine's peers.
func (b *builder) hasNodes() bool {
	return slices.ContainsFunc(b.e.pods, func(p Pod) bool { return p.HostNetwork })
}
