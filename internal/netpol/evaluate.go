package netpol

import (
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// SideVerdict is the judgement of one direction: egress at the source, ingress
// at the destination. Each side is judged on its own.
type SideVerdict struct {
	Direction Direction
	Allowed   bool
	// Isolated is false when no policy governs the pod in this direction (or the
	// peer is an address or a host-network pod); NotIsolatedReason says which.
	Isolated          bool
	NotIsolatedReason string
	// Allowing lists every rule that allows the connection (when Isolated).
	Allowing []RuleRef
	// Isolating lists the policies that select the pod for this direction; on a
	// deny, none of their rules matched.
	Isolating []PolicyRef
}

// String explains the side in one line.
func (s SideVerdict) String() string {
	switch {
	case !s.Isolated:
		return fmt.Sprintf("%s allowed: not isolated (%s)", s.Direction, s.NotIsolatedReason)
	case s.Allowed:
		return fmt.Sprintf("%s allowed by %s", s.Direction, joinStrings(s.Allowing))
	default:
		return fmt.Sprintf("%s denied: isolated by %s and no rule matched", s.Direction, joinStrings(s.Isolating))
	}
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
	if !sv.Isolated {
		sv.NotIsolatedReason = fmt.Sprintf("no policy selects %s/%s for %s", pod.Namespace, pod.Name, dir)
		return sv
	}
	sv.Allowed = len(sv.Allowing) > 0
	return sv
}

func (e *Engine) ruleMatches(r *compiledRule, other, dst Peer, proto corev1.Protocol, port int32) bool {
	if !e.portMatches(&r.ports, dst, proto, port) {
		return false
	}
	if r.allPeers {
		return true
	}
	for _, p := range r.peers {
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
	if m.kind == peerIPBlock {
		if !isPod {
			return m.containsAddr(other.addr)
		}
		pod := &e.pods[oi]
		if !pod.HostNetwork && !e.opts.IPBlockMatchesPods {
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
