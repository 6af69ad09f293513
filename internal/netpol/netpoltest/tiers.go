package netpoltest

import (
	"fmt"
	"math/rand/v2"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/budnet/budnet/internal/netpol"
)

// AddRandomTiers adds 0-3 AdminNetworkPolicies, at most one
// BaselineAdminNetworkPolicy and 0-3 ClusterNetworkPolicies of both tiers to
// a RandomCluster: random subjects, actions (Pass included), namespace, pod,
// node and network peers, numeric, ranged and named ports, and priorities
// drawn from a small pool so that ties occur.
func AddRandomTiers(r *rand.Rand, c *netpol.Cluster) {
	g := &rgen{r: r}
	for i := range r.IntN(4) {
		p := &netpol.AdminNetworkPolicy{Spec: netpol.AdminNetworkPolicySpec{Priority: int32(r.IntN(4) * 10), Subject: g.subject()}}
		p.Name = fmt.Sprintf("anp%d", i)
		for range r.IntN(3) {
			p.Spec.Ingress = append(p.Spec.Ingress, netpol.AdminPolicyIngressRule{Action: g.pick([]string{"Allow", "Deny", "Pass"}), From: g.ingressPeers(), Ports: g.adminPorts()})
		}
		for range r.IntN(3) {
			p.Spec.Egress = append(p.Spec.Egress, netpol.AdminPolicyEgressRule{Action: g.pick([]string{"Allow", "Deny", "Pass"}), To: g.egressPeers(), Ports: g.adminPorts()})
		}
		c.AdminNetworkPolicies = append(c.AdminNetworkPolicies, p)
	}
	if r.IntN(2) == 0 {
		p := &netpol.BaselineAdminNetworkPolicy{Spec: netpol.BaselineAdminNetworkPolicySpec{Subject: g.subject()}}
		p.Name = "default"
		for range r.IntN(3) {
			p.Spec.Ingress = append(p.Spec.Ingress, netpol.AdminPolicyIngressRule{Action: g.pick([]string{"Allow", "Deny"}), From: g.ingressPeers(), Ports: g.adminPorts()})
		}
		for range r.IntN(3) {
			p.Spec.Egress = append(p.Spec.Egress, netpol.AdminPolicyEgressRule{Action: g.pick([]string{"Allow", "Deny"}), To: g.egressPeers(), Ports: g.adminPorts()})
		}
		c.BaselineAdminNetworkPolicies = append(c.BaselineAdminNetworkPolicies, p)
	}
	for i := range r.IntN(4) {
		c.ClusterNetworkPolicies = append(c.ClusterNetworkPolicies, g.clusterNetworkPolicy(i))
	}
}

// RandomClusterNetworkPolicies draws 1-4 ClusterNetworkPolicies as
// AddRandomTiers does (both tiers, priorities that tie, Accept, Deny and
// Pass, namespace, pod, node and network peers, numeric, ranged and named
// ports), with their apiVersion and kind set for writing as manifests.
func RandomClusterNetworkPolicies(r *rand.Rand) []*netpol.ClusterNetworkPolicy {
	g := &rgen{r: r}
	var out []*netpol.ClusterNetworkPolicy
	for i := range 1 + r.IntN(4) {
		p := g.clusterNetworkPolicy(i)
		p.APIVersion, p.Kind = "policy.networking.k8s.io/v1alpha2", netpol.KindClusterNetworkPolicy
		out = append(out, p)
	}
	return out
}

func (g *rgen) clusterNetworkPolicy(i int) *netpol.ClusterNetworkPolicy {
	r := g.r
	tier := g.pick([]string{"Admin", "Baseline"})
	actions := []string{"Accept", "Deny"}
	if tier == "Admin" {
		actions = append(actions, "Pass")
	}
	p := &netpol.ClusterNetworkPolicy{Spec: netpol.ClusterNetworkPolicySpec{Tier: tier, Priority: int32(r.IntN(4) * 10), Subject: g.subject()}}
	p.Name = fmt.Sprintf("cnp%d", i)
	for range r.IntN(3) {
		p.Spec.Ingress = append(p.Spec.Ingress, netpol.ClusterPolicyIngressRule{Action: g.pick(actions), From: g.ingressPeers(), Protocols: g.protocols()})
	}
	for range r.IntN(3) {
		p.Spec.Egress = append(p.Spec.Egress, netpol.ClusterPolicyEgressRule{Action: g.pick(actions), To: g.egressPeers(), Protocols: g.protocols()})
	}
	return p
}

func (g *rgen) namespacedPod() *netpol.NamespacedPod {
	return &netpol.NamespacedPod{NamespaceSelector: *g.selector(true), PodSelector: *g.selector(true)}
}

func (g *rgen) subject() netpol.ClusterPolicySubject {
	if g.r.IntN(2) == 0 {
		return netpol.ClusterPolicySubject{Namespaces: g.selector(true)}
	}
	return netpol.ClusterPolicySubject{Pods: g.namespacedPod()}
}

func (g *rgen) ingressPeers() []netpol.ClusterIngressPeer {
	var out []netpol.ClusterIngressPeer
	for range 1 + g.r.IntN(2) {
		if g.r.IntN(2) == 0 {
			out = append(out, netpol.ClusterIngressPeer{Namespaces: g.selector(true)})
		} else {
			out = append(out, netpol.ClusterIngressPeer{Pods: g.namespacedPod()})
		}
	}
	return out
}

func (g *rgen) egressPeers() []netpol.ClusterEgressPeer {
	var out []netpol.ClusterEgressPeer
	for range 1 + g.r.IntN(2) {
		switch g.r.IntN(5) {
		case 0:
			out = append(out, netpol.ClusterEgressPeer{Namespaces: g.selector(true)})
		case 1:
			out = append(out, netpol.ClusterEgressPeer{Pods: g.namespacedPod()})
		case 2:
			out = append(out, netpol.ClusterEgressPeer{Nodes: &metav1.LabelSelector{}})
		default:
			var nets []string
			for range 1 + g.r.IntN(2) {
				nets = append(nets, g.pick(cidrPool))
			}
			out = append(out, netpol.ClusterEgressPeer{Networks: nets})
		}
	}
	return out
}

func (g *rgen) adminPorts() *[]netpol.AdminPolicyPort {
	if g.r.IntN(3) == 0 {
		return nil
	}
	var out []netpol.AdminPolicyPort
	for range 1 + g.r.IntN(2) {
		proto := protoPool[g.r.IntN(len(protoPool))]
		switch g.r.IntN(3) {
		case 0:
			out = append(out, netpol.AdminPolicyPort{PortNumber: &netpol.AdminPortNumber{Protocol: proto, Port: portNums[g.r.IntN(len(portNums))]}})
		case 1:
			lo := portNums[g.r.IntN(len(portNums)-1)]
			out = append(out, netpol.AdminPolicyPort{PortRange: &netpol.AdminPortRange{Protocol: proto, Start: lo, End: lo + 1 + int32(g.r.IntN(100))}})
		default:
			name := g.pick(portNames)
			out = append(out, netpol.AdminPolicyPort{NamedPort: &name})
		}
	}
	return &out
}

func (g *rgen) protocols() []netpol.ClusterPolicyProtocol {
	if g.r.IntN(3) == 0 {
		return nil
	}
	var out []netpol.ClusterPolicyProtocol
	for range 1 + g.r.IntN(2) {
		if g.r.IntN(4) == 0 {
			out = append(out, netpol.ClusterPolicyProtocol{DestinationNamedPort: g.pick(portNames)})
			continue
		}
		pp := &netpol.ClusterPolicyProtocolPort{}
		switch g.r.IntN(3) {
		case 0:
			pp.DestinationPort = &netpol.ClusterPolicyPort{Number: portNums[g.r.IntN(len(portNums))]}
		case 1:
			lo := portNums[g.r.IntN(len(portNums)-1)]
			pp.DestinationPort = &netpol.ClusterPolicyPort{Range: &netpol.ClusterPolicyPortRange{Start: lo, End: lo + 1 + int32(g.r.IntN(100))}}
		}
		var p netpol.ClusterPolicyProtocol
		switch protoPool[g.r.IntN(len(protoPool))] {
		case corev1.ProtocolTCP:
			p.TCP = pp
		case corev1.ProtocolUDP:
			p.UDP = pp
		default:
			p.SCTP = pp
		}
		out = append(out, p)
	}
	return out
}
