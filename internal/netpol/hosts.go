package netpol

import (
	"k8s.io/apimachinery/pkg/labels"

	"github.com/budnet/budnet/internal/platform"
)

// HostRule is an egress rule that names hosts rather than addresses (a
// Cilium toFQDNs rule, a network-policy-api domainNames Accept rule), as it
// applies to one pod: the engine cannot judge names on addresses, so the
// matrix never shows what these rules open; callers judge host flows with
// them.
type HostRule struct {
	Rule RuleRef
	Tier Tier
	// MatchNames are exact names; MatchPatterns Cilium's matchPattern forms
	// ("*" within a label, a leading "**." for one or more labels). A
	// domainNames entry is read as the model's host pattern it is
	// (platform.ReadHostPattern) and given as that pattern's Cilium
	// selectors: "*.example.com" (one or more labels) as "**.example.com".
	MatchNames, MatchPatterns []string
	// Ports are the ports the rule opens to the names: its numeric ports
	// minus those an earlier Admin-tier rule decides for every external
	// address and those a Cilium deny rule of the pod denies to every
	// external address (named ports never apply to external hosts).
	Ports PortSet
	// L7 is set when the rule's ports carry L7 rules.
	L7 bool
}

// HostRules lists the host egress rules that apply to the pod at index
// pod of Cluster.Pods, in evaluation order: the Admin tier's domainNames,
// then Cilium's toFQDNs, then (when nothing isolates the pod's egress in
// the NetworkPolicy tier) the Baseline tier's domainNames.
func (e *Engine) HostRules(pod int) []HostRule {
	p := &e.pods[pod]
	if p.HostNetwork {
		return nil
	}
	var out []HostRule
	// decided are the ports an Admin-tier rule decides for every external
	// address before a later rule is reached (a Deny of 0.0.0.0/0 after a
	// domainNames Accept leaves the names open, before it closes them).
	var decided PortSet
	t := 0
	for ; t < len(e.tiers) && e.tiers[t].tier == TierAdmin; t++ {
		decided = e.hostTierRules(&out, t, p, decided)
	}
	isolated := false
	for _, idx := range e.byNS[p.Namespace] {
		cp := &e.policies[idx]
		if cp.egress && cp.sel.Matches(labels.Set(p.Labels)) {
			isolated = true
		}
	}
	var deny PortSet
	var cilium []HostRule
	for ci := range e.cilium {
		cp := &e.cilium[ci]
		if !cp.hasEg || !e.ciliumSelects(cp, p) {
			continue
		}
		isolated = isolated || cp.egDefaultDeny
		for i := range cp.egDeny {
			if r := &cp.egDeny[i]; r.allPeers || e.coversWorld(r.peers) {
				deny = deny.Union(r.ports.numeric)
			}
		}
		for i := range cp.egAllow {
			r := &cp.egAllow[i]
			if len(r.fqdnNames)+len(r.fqdnPatterns) == 0 {
				continue
			}
			cilium = append(cilium, HostRule{Rule: r.ref, Tier: TierNetworkPolicy, MatchNames: r.fqdnNames, MatchPatterns: r.fqdnPatterns,
				Ports: r.ports.numeric, L7: r.l7})
		}
	}
	for _, h := range cilium {
		h.Ports = h.Ports.Minus(decided).Minus(deny)
		if !h.Ports.IsEmpty() {
			out = append(out, h)
		}
	}
	if !isolated {
		decided = decided.Union(deny)
		for ; t < len(e.tiers); t++ {
			decided = e.hostTierRules(&out, t, p, decided)
		}
	}
	return out
}

// hostTierRules appends tiered policy t's domainNames rules for the pod and
// returns decided grown by the rules that decide for every external address.
func (e *Engine) hostTierRules(out *[]HostRule, t int, p *Pod, decided PortSet) PortSet {
	tp := &e.tiers[t]
	if len(tp.egRules) == 0 || !e.tierSelects(tp, p) {
		return decided
	}
	for i := range tp.egRules {
		r := &tp.egRules[i]
		if len(r.domains) > 0 && r.action == ActionAccept {
			h := HostRule{Rule: r.ref, Tier: tp.tier, Ports: r.ports.numeric.Minus(decided)}
			for _, d := range r.domains {
				// A domainNames entry means what a model host means
				// (platform.HostPattern.DomainName is the inverse), so the
				// host pattern reads it and says what Cilium would select.
				// An entry it refuses (the CRD admits "_" in a label)
				// names no host a model can hold and is left out.
				hp, err := platform.ReadHostPattern(d)
				if err != nil {
					continue
				}
				for _, sel := range hp.CiliumSelectors(platform.CiliumAnyDepthMinor) {
					if sel.MatchName != "" {
						h.MatchNames = append(h.MatchNames, sel.MatchName)
					} else {
						h.MatchPatterns = append(h.MatchPatterns, sel.MatchPattern)
					}
				}
			}
			if !h.Ports.IsEmpty() && len(h.MatchNames)+len(h.MatchPatterns) > 0 {
				*out = append(*out, h)
			}
		}
		if e.coversWorld(r.peers) {
			decided = decided.Union(r.ports.numeric)
		}
	}
	return decided
}

// coversWorld reports whether some peer matches every external address of
// a family (a /0 block without excepts).
func (e *Engine) coversWorld(peers []int) bool {
	for _, pi := range peers {
		m := &e.peers[pi]
		if m.kind == peerIPBlock && m.cidr.Bits() == 0 && len(m.except) == 0 {
			return true
		}
	}
	return false
}
