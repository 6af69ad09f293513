package netpol

import (
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// SideVerdict is the judgement of one direction: egress at the source, ingress
// at the destination. Each side is judged on its own, tier by tier: the Admin
// tier's first matching rule decides (Pass hands on), then NetworkPolicies
// (and Cilium's policies) where any selects the pod, then the Baseline tier,
// then Kubernetes' default, allow.
type SideVerdict struct {
	Direction Direction
	Allowed   bool
	// Tier is the tier that decided; TierDefault when none did (then
	// NotIsolatedReason says why).
	Tier Tier
	// Isolated is false when no policy decided in this direction (or the
	// peer is an address or a host-network pod); NotIsolatedReason says which.
	Isolated          bool
	NotIsolatedReason string
	// Rule is the Admin- or Baseline-tier rule that decided, or the Cilium
	// deny rule that denied, with its Action.
	Rule   *RuleRef
	Action Action
	// Passed are the Admin-tier Pass rules that handed the connection on.
	Passed []RuleRef
	// Ambiguous lists policies of the deciding rule's tier and priority that
	// would decide otherwise: the reference lets an implementation apply
	// either (Engine.Warnings).
	Ambiguous []PolicyRef
	// Allowing lists every rule that allows the connection (when the
	// NetworkPolicy tier decided).
	Allowing []RuleRef
	// Denying lists the Cilium deny rules that match the connection: they
	// win over every allow of the tier (Rule is the first).
	Denying []RuleRef
	// L7 lists the allowing Cilium rules that carry L7 rules: the
	// connection is allowed at L4 and filtered at L7 by Cilium's proxy.
	L7 []RuleRef
	// Isolating lists the policies that select the pod for this direction; on a
	// deny, none of their rules matched.
	Isolating []PolicyRef
}

// String explains the side in one line.
func (s SideVerdict) String() string {
	var out string
	switch {
	case s.Rule != nil:
		word := "denied"
		if s.Allowed {
			word = "allowed"
		}
		out = fmt.Sprintf("%s %s by %s tier: %s (%s)", s.Direction, word, s.Tier, s.Rule, s.Action)
	case !s.Isolated:
		out = fmt.Sprintf("%s allowed: not isolated (%s)", s.Direction, s.NotIsolatedReason)
	case s.Allowed:
		out = fmt.Sprintf("%s allowed by %s", s.Direction, joinStrings(s.Allowing))
	default:
		out = fmt.Sprintf("%s denied: isolated by %s and no rule matched", s.Direction, joinStrings(s.Isolating))
	}
	if len(s.L7) > 0 && s.Allowed {
		out += fmt.Sprintf(" (allowed at L4, filtered at L7 by %s)", joinStrings(s.L7))
	}
	if len(s.Passed) > 0 {
		out += fmt.Sprintf(" (passed on by %s)", joinStrings(s.Passed))
	}
	if len(s.Ambiguous) > 0 {
		out += fmt.Sprintf(" (ambiguous: %s has the same priority)", joinStrings(s.Ambiguous))
	}
	return out
}

func joinStrings[T fmt.Stringer](xs []T) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = x.String()
	}
	return strings.Join(parts, ", ")
}

// Verdict is whether a connection is allowed, with the reasons of both sides:
// it is allowed only when the source's egress and the destination's ingress both
// allow it.
type Verdict struct {
	Allowed bool
	Egress  SideVerdict
	Ingress SideVerdict
}

// String explains the verdict for a CLI: "allowed" or "denied", then both sides.
func (v Verdict) String() string {
	word := "denied"
	if v.Allowed {
		word = "allowed"
	}
	return fmt.Sprintf("%s; %s; %s", word, v.Egress, v.Ingress)
}

// Evaluate judges one connection from src to dst on the protocol ("" is TCP)
// and destination port. A port outside 1-65535 or a protocol other than TCP,
// UDP and SCTP matches no rule, so only sides that are not isolated allow it.
func (e *Engine) Evaluate(src, dst Peer, proto corev1.Protocol, port int32) Verdict {
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	v := Verdict{
		Egress:  e.side(Egress, src, dst, dst, proto, port),
		Ingress: e.side(Ingress, dst, src, dst, proto, port),
	}
	v.Allowed = v.Egress.Allowed && v.Ingress.Allowed
	return v
}

// side judges the subject's policies of one direction against the other peer;
// named ports resolve on dst in both directions.
func (e *Engine) side(dir Direction, subject, other, dst Peer, proto corev1.Protocol, port int32) SideVerdict {
	sv := SideVerdict{Direction: dir, Allowed: true}
	pi, isPod := subject.IsPod()
	switch {
	case !isPod:
		sv.NotIsolatedReason = "external address"
		return sv
	case e.pods[pi].HostNetwork:
		sv.NotIsolatedReason = "host-network pod"
		return sv
	}
	pod := &e.pods[pi]
	// The Admin tier: the first matching rule in priority order decides;
	// Pass skips the rest of the tier.
	t := 0
	for ; t < len(e.tiers) && e.tiers[t].tier == TierAdmin; t++ {
		if e.tierDecides(&sv, t, pod, other, dst, proto, port) {
			return sv
		}
		if len(sv.Passed) > 0 {
			break
		}
	}
	for t < len(e.tiers) && e.tiers[t].tier == TierAdmin {
		t++
	}
	podLabels := labels.Set(pod.Labels)
	for _, idx := range e.byNS[pod.Namespace] {
		cp := &e.policies[idx]
		rules := cp.inRules
		if dir == Egress {
			if !cp.egress {
				continue
			}
			rules = cp.egRules
		} else if !cp.ingress {
			continue
		}
		if !cp.sel.Matches(podLabels) {
			continue
		}
		sv.Isolated = true
		sv.Isolating = append(sv.Isolating, cp.ref)
		for i := range rules {
			if e.ruleMatches(&rules[i], other, dst, proto, port) {
				sv.Allowing = append(sv.Allowing, rules[i].ref)
			}
		}
	}
	// Cilium's policies share the tier: any that selects the pod with
	// default deny isolates it, allows are unioned, and a matching deny
	// rule wins over every allow.
	ciliumLabels := labels.Set(nil)
	for ci := range e.cilium {
		cp := &e.cilium[ci]
		if !cp.has(dir) || cp.sel == nil || pod.HostNetwork || (cp.ns != "" && cp.ns != pod.Namespace) {
			continue
		}
		if ciliumLabels == nil {
			ciliumLabels = e.ciliumLabels(pod)
		}
		if !cp.sel.Matches(ciliumLabels) {
			continue
		}
		if cp.defaultDeny(dir) {
			sv.Isolated = true
			sv.Isolating = append(sv.Isolating, cp.ref.Policy)
		}
		for _, deny := range []bool{false, true} {
			rules := cp.rules(dir, deny)
			for i := range rules {
				r := &rules[i]
				if !e.ciliumRuleMatches(r, other, dst, proto, port) {
					continue
				}
				switch {
				case deny:
					sv.Denying = append(sv.Denying, r.ref)
				case r.l7:
					sv.Allowing = append(sv.Allowing, r.ref)
					sv.L7 = append(sv.L7, r.ref)
				default:
					sv.Allowing = append(sv.Allowing, r.ref)
				}
			}
		}
	}
	if len(sv.Denying) > 0 {
		ref := sv.Denying[0]
		sv.Tier, sv.Isolated, sv.Allowed, sv.Rule, sv.Action = TierNetworkPolicy, true, false, &ref, ActionDeny
		return sv
	}
	if sv.Isolated {
		sv.Tier = TierNetworkPolicy
		sv.Allowed = len(sv.Allowing) > 0
		return sv
	}
	sv.Allowing, sv.L7 = nil, nil // not isolated: allows decide nothing
	// The Baseline tier, where no NetworkPolicy selects the pod.
	for ; t < len(e.tiers); t++ {
		if e.tierDecides(&sv, t, pod, other, dst, proto, port) {
			return sv
		}
	}
	sv.NotIsolatedReason = fmt.Sprintf("no policy selects %s/%s for %s", pod.Namespace, pod.Name, dir)
	return sv
}

// tierDecides applies tiered policy t to the connection: true when one of
// its rules accepted or denied it (sv then says so); a Pass rule is
// recorded in sv.Passed and decides nothing.
func (e *Engine) tierDecides(sv *SideVerdict, t int, pod *Pod, other, dst Peer, proto corev1.Protocol, port int32) bool {
	p := &e.tiers[t]
	rules := p.rules(sv.Direction)
	if len(rules) == 0 || !e.tierSelects(p, pod) {
		return false
	}
	for i := range rules {
		r := &rules[i]
		if !e.tierRuleMatches(r, other, dst, proto, port) {
			continue
		}
		if r.action == ActionPass {
			sv.Passed = append(sv.Passed, r.ref)
			sv.Ambiguous = e.ambiguous(t, sv.Direction, ActionPass, pod, other, dst, proto, port)
			return false
		}
		ref := r.ref
		sv.Rule, sv.Action, sv.Tier, sv.Isolated = &ref, r.action, p.tier, true
		sv.Allowed = r.action == ActionAccept
		sv.Ambiguous = e.ambiguous(t, sv.Direction, r.action, pod, other, dst, proto, port)
		return true
	}
	return false
}

// ambiguous lists the other policies of t's tier and priority that select
// the pod and whose first matching rule acts otherwise.
func (e *Engine) ambiguous(t int, dir Direction, act Action, pod *Pod, other, dst Peer, proto corev1.Protocol, port int32) []PolicyRef {
	var out []PolicyRef
	p := &e.tiers[t]
	for u := range e.tiers {
		q := &e.tiers[u]
		if u == t || q.tier != p.tier || q.priority != p.priority || !e.tierSelects(q, pod) {
			continue
		}
		rules := q.rules(dir)
		for i := range rules {
			if e.tierRuleMatches(&rules[i], other, dst, proto, port) {
				if rules[i].action != act {
					out = append(out, q.ref)
				}
				break
			}
		}
	}
	return out
}

// ruleMatches, ciliumRuleMatches and tierRuleMatches ask the same question of
// the three rule forms: does the rule cover this port and this peer?
func (e *Engine) ruleMatches(r *compiledRule, other, dst Peer, proto corev1.Protocol, port int32) bool {
	return e.covers(&r.ports, r.allPeers, r.peers, other, dst, proto, port)
}

func (e *Engine) ciliumRuleMatches(r *compiledCiliumRule, other, dst Peer, proto corev1.Protocol, port int32) bool {
	return e.covers(&r.ports, r.allPeers, r.peers, other, dst, proto, port)
}

// tierRuleMatches: an Admin or Baseline rule always names its peers.
func (e *Engine) tierRuleMatches(r *compiledTierRule, other, dst Peer, proto corev1.Protocol, port int32) bool {
	return e.covers(&r.ports, false, r.peers, other, dst, proto, port)
}

// covers reports whether ports hold the connection's port and other is one
// of peers (every peer when allPeers).
func (e *Engine) covers(ports *compiledPorts, allPeers bool, peers []int, other, dst Peer, proto corev1.Protocol, port int32) bool {
	if !e.portMatches(ports, dst, proto, port) {
		return false
	}
	if allPeers {
		return true
	}
	for _, p := range peers {
		if e.peerMatches(&e.peers[p], other) {
			return true
		}
	}
	return false
}

func (e *Engine) portMatches(cp *compiledPorts, dst Peer, proto corev1.Protocol, port int32) bool {
	if cp.numeric.Contains(proto, port) {
		return true
	}
	// Named ports resolve on pod-network destinations only: traffic to a
	// host-network pod is node traffic, and a node has no named ports.
	di, isPod := dst.IsPod()
	if len(cp.named) == 0 || !isPod || e.pods[di].HostNetwork {
		return false
	}
	pi, ok := protoIndex(proto)
	if !ok {
		return false
	}
	for _, n := range cp.named {
		np := e.named[n]
		if np.proto == pi && resolveNamed(e.pods[di].Ports, np) == port {
			return true
		}
	}
	return false
}

// resolveNamed is the destination pod's port number for a named policy port of
// a protocol, or 0 when the pod declares no such port (then the entry matches
// nothing).
func resolveNamed(ports []ContainerPort, np namedPort) int32 {
	for _, cp := range ports {
		if cp.Name != np.name {
			continue
		}
		if pi, ok := protoIndex(cp.Protocol); ok && pi == np.proto {
			return cp.Port
		}
	}
	return 0
}

// peerMatches decides whether a rule's peer selects the other end. Selector peers
// select pod-network pods only; ipBlock peers match addresses, host-network
// pods' (node) addresses, and pod IPs only with IPBlockMatchesPods.
func (e *Engine) peerMatches(m *peerMatcher, other Peer) bool {
	oi, isPod := other.IsPod()
	switch m.kind {
	case peerNodes:
		return isPod && e.pods[oi].HostNetwork
	case peerCluster:
		return isPod
	case peerCilium:
		if !isPod || e.pods[oi].HostNetwork {
			return false
		}
		pod := &e.pods[oi]
		return (m.policyNS == "" || m.policyNS == pod.Namespace) && m.podSel.Matches(e.ciliumLabels(pod))
	}
	if m.kind == peerIPBlock {
		if !isPod {
			return m.containsAddr(other.addr)
		}
		pod := &e.pods[oi]
		switch {
		case m.podIPs == podIPsNever:
			return false
		case pod.HostNetwork:
		case m.podIPs == podIPsAlways:
			if len(pod.IPs) == 0 {
				return m.coversPods
			}
		case !e.opts.IPBlockMatchesPods:
			return false
		}
		for _, a := range pod.IPs {
			if m.containsAddr(a.Unmap()) {
				return true
			}
		}
		return false
	}
	if !isPod || e.pods[oi].HostNetwork {
		return false
	}
	pod := &e.pods[oi]
	if m.nsSel == nil {
		if pod.Namespace != m.policyNS {
			return false
		}
	} else if !m.nsSel.Matches(e.nsLabels[pod.Namespace]) {
		return false
	}
	return m.podSel.Matches(labels.Set(pod.Labels))
}

// matchesPodAddr says whether an address peer applies to a pod's own
// addresses: a host-network pod's are its node's, which every address peer
// sees; a pod-network pod's only network-policy-api networks and, by option,
// NetworkPolicy ipBlocks.
func (m *peerMatcher) matchesPodAddr(hostNetwork, ipBlockMatchesPods bool) bool {
	switch {
	case m.podIPs == podIPsNever:
		return false
	case hostNetwork:
		return true
	case m.podIPs == podIPsAlways:
		return true
	}
	return ipBlockMatchesPods
}

func (m *peerMatcher) containsAddr(a netip.Addr) bool {
	if !a.IsValid() || !m.cidr.Contains(a) {
		return false
	}
	for _, x := range m.except {
		if x.Contains(a) {
			return false
		}
	}
	return true
}
