package netpoltest

import (
	"fmt"
	"math/rand/v2"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	npav1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"
)

// AdminPolicies are the cluster-scoped tiers of the network-policy-api
// (policy.networking.k8s.io/v1alpha1): AdminNetworkPolicies, evaluated
// before NetworkPolicies, and the one BaselineAdminNetworkPolicy (named
// "default"), evaluated after them.
type AdminPolicies struct {
	Admin    []*npav1alpha1.AdminNetworkPolicy
	Baseline *npav1alpha1.BaselineAdminNetworkPolicy
}

// Objects are the policies as objects to write as manifests, with their
// apiVersion and kind.
func (a AdminPolicies) Objects() []any {
	var out []any
	for _, p := range a.Admin {
		p.APIVersion, p.Kind = "policy.networking.k8s.io/v1alpha1", "AdminNetworkPolicy"
		out = append(out, p)
	}
	if a.Baseline != nil {
		a.Baseline.APIVersion, a.Baseline.Kind = "policy.networking.k8s.io/v1alpha1", "BaselineAdminNetworkPolicy"
		out = append(out, a.Baseline)
	}
	return out
}

// RandomAdminPolicies draws 0-3 AdminNetworkPolicies (priorities from a
// small pool, so that equal priorities occur) and, half the time, a
// BaselineAdminNetworkPolicy over the label pools of RandomCluster: subjects
// by namespace or by namespace and pod, Allow/Deny/Pass rules (Allow/Deny
// in the baseline), peers by namespace, by pod, and for egress by network
// (CIDRs of RandomCluster's pool, which match pod addresses too, as the API
// says), ports by number, by range and by protocol.
//
// Named ports are left out: kube-network-policies v1.1.1, the oracle for
// these kinds, matches a named port whenever the pod declares the name,
// whatever the connection's port (plugins/npa-v1alpha1
// evaluateAdminNetworkPolicyPort).
func RandomAdminPolicies(r *rand.Rand) AdminPolicies {
	g := &rgen{r: r}
	var out AdminPolicies
	for i := range r.IntN(4) {
		p := &npav1alpha1.AdminNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("anp%d", i)}}
		p.Spec.Priority = int32([]int{10, 20, 20, 50}[r.IntN(4)])
		p.Spec.Subject = g.adminSubject()
		actions := []npav1alpha1.AdminNetworkPolicyRuleAction{npav1alpha1.AdminNetworkPolicyRuleActionAllow,
			npav1alpha1.AdminNetworkPolicyRuleActionDeny, npav1alpha1.AdminNetworkPolicyRuleActionPass}
		for j := range r.IntN(3) {
			p.Spec.Ingress = append(p.Spec.Ingress, npav1alpha1.AdminNetworkPolicyIngressRule{
				Name: fmt.Sprintf("in%d", j), Action: actions[r.IntN(3)], From: g.adminIngressPeers(), Ports: g.upstreamAdminPorts()})
		}
		for j := range r.IntN(3) {
			p.Spec.Egress = append(p.Spec.Egress, npav1alpha1.AdminNetworkPolicyEgressRule{
				Name: fmt.Sprintf("eg%d", j), Action: actions[r.IntN(3)], To: g.adminEgressPeers(), Ports: g.upstreamAdminPorts()})
		}
		out.Admin = append(out.Admin, p)
	}
	if r.IntN(2) == 0 {
		b := &npav1alpha1.BaselineAdminNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
		b.Spec.Subject = g.adminSubject()
		actions := []npav1alpha1.BaselineAdminNetworkPolicyRuleAction{npav1alpha1.BaselineAdminNetworkPolicyRuleActionAllow,
			npav1alpha1.BaselineAdminNetworkPolicyRuleActionDeny}
		for j := range 1 + r.IntN(2) {
			b.Spec.Ingress = append(b.Spec.Ingress, npav1alpha1.BaselineAdminNetworkPolicyIngressRule{
				Name: fmt.Sprintf("in%d", j), Action: actions[r.IntN(2)], From: g.adminIngressPeers(), Ports: g.upstreamAdminPorts()})
		}
		for j := range r.IntN(3) {
			var to []npav1alpha1.BaselineAdminNetworkPolicyEgressPeer
			for _, p := range g.adminEgressPeers() {
				to = append(to, npav1alpha1.BaselineAdminNetworkPolicyEgressPeer{Namespaces: p.Namespaces, Pods: p.Pods, Networks: p.Networks})
			}
			b.Spec.Egress = append(b.Spec.Egress, npav1alpha1.BaselineAdminNetworkPolicyEgressRule{
				Name: fmt.Sprintf("eg%d", j), Action: actions[r.IntN(2)], To: to, Ports: g.upstreamAdminPorts()})
		}
		out.Baseline = b
	}
	return out
}

func (g *rgen) adminSubject() npav1alpha1.AdminNetworkPolicySubject {
	if g.r.IntN(2) == 0 {
		return npav1alpha1.AdminNetworkPolicySubject{Namespaces: g.selector(true)}
	}
	return npav1alpha1.AdminNetworkPolicySubject{Pods: &npav1alpha1.NamespacedPod{NamespaceSelector: *g.selector(true), PodSelector: *g.selector(true)}}
}

func (g *rgen) adminIngressPeers() []npav1alpha1.AdminNetworkPolicyIngressPeer {
	var out []npav1alpha1.AdminNetworkPolicyIngressPeer
	for range 1 + g.r.IntN(2) {
		if g.r.IntN(2) == 0 {
			out = append(out, npav1alpha1.AdminNetworkPolicyIngressPeer{Namespaces: g.selector(true)})
			continue
		}
		out = append(out, npav1alpha1.AdminNetworkPolicyIngressPeer{Pods: &npav1alpha1.NamespacedPod{NamespaceSelector: *g.selector(true), PodSelector: *g.selector(true)}})
	}
	return out
}

func (g *rgen) adminEgressPeers() []npav1alpha1.AdminNetworkPolicyEgressPeer {
	var out []npav1alpha1.AdminNetworkPolicyEgressPeer
	for range 1 + g.r.IntN(2) {
		switch g.r.IntN(3) {
		case 0:
			out = append(out, npav1alpha1.AdminNetworkPolicyEgressPeer{Namespaces: g.selector(true)})
		case 1:
			out = append(out, npav1alpha1.AdminNetworkPolicyEgressPeer{Pods: &npav1alpha1.NamespacedPod{NamespaceSelector: *g.selector(true), PodSelector: *g.selector(true)}})
		default:
			nets := []npav1alpha1.CIDR{npav1alpha1.CIDR(g.pick(cidrPool))}
			if g.r.IntN(2) == 0 {
				nets = append(nets, npav1alpha1.CIDR(g.pick(cidrPool)))
			}
			out = append(out, npav1alpha1.AdminNetworkPolicyEgressPeer{Networks: nets})
		}
	}
	return out
}

// upstreamAdminPorts is nil (every port) a third of the time, otherwise 1-2
// numbers or ranges of a protocol.
func (g *rgen) upstreamAdminPorts() *[]npav1alpha1.AdminNetworkPolicyPort {
	if g.r.IntN(3) == 0 {
		return nil
	}
	var out []npav1alpha1.AdminNetworkPolicyPort
	for range 1 + g.r.IntN(2) {
		proto := protoPool[g.r.IntN(3)]
		lo := portNums[g.r.IntN(len(portNums))]
		if g.r.IntN(2) == 0 {
			out = append(out, npav1alpha1.AdminNetworkPolicyPort{PortNumber: &npav1alpha1.Port{Protocol: proto, Port: lo}})
			continue
		}
		out = append(out, npav1alpha1.AdminNetworkPolicyPort{PortRange: &npav1alpha1.PortRange{Protocol: proto, Start: lo, End: lo + int32(g.r.IntN(100))}})
	}
	return &out
}
