package netpoltest

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/budnet/budnet/internal/netpol"
)

// GenerateCiliumCluster is GenerateCluster for a cluster run by Cilium:
// two thirds of the NetworkPolicies become CiliumNetworkPolicies (the
// same selectors, peers and ports in Cilium's form), every namespace gets
// an FQDN egress policy with the DNS rule it needs (an L7 dns rule), and
// two clusterwide policies apply to all: a deny of the world on the
// metrics ports and a non-isolating egress audit to the cluster entity.
func GenerateCiliumCluster(seed int64, pods int) netpol.Cluster {
	c := GenerateCluster(seed, pods)
	var keep []*networkingv1.NetworkPolicy
	for i, np := range c.Policies {
		if i%3 == 0 {
			keep = append(keep, np)
			continue
		}
		c.CiliumNetworkPolicies = append(c.CiliumNetworkPolicies, CiliumFromNetworkPolicy(np))
	}
	c.Policies = keep
	for _, ns := range c.Namespaces {
		if ns.Name == "kube-system" {
			continue
		}
		p := &netpol.CiliumNetworkPolicy{Spec: &netpol.CiliumRule{
			EndpointSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "api"}},
			Egress: []netpol.CiliumEgressRule{
				{ToFQDNs: []netpol.CiliumFQDNSelector{{MatchName: "api.openai.com"}, {MatchPattern: "*.amazonaws.com"}},
					ToPorts: []netpol.CiliumPortRule{{Ports: []netpol.CiliumPortProtocol{{Port: "443", Protocol: "TCP"}}}}},
				{ToEndpoints: []metav1.LabelSelector{{MatchLabels: map[string]string{"k8s:io.kubernetes.pod.namespace": "kube-system", "k8s:k8s-app": "kube-dns"}}},
					ToPorts: []netpol.CiliumPortRule{{Ports: []netpol.CiliumPortProtocol{{Port: "53", Protocol: "ANY"}},
						Rules: []byte(`{"dns":[{"matchPattern":"*"}]}`)}}},
			},
		}}
		p.Kind, p.Namespace, p.Name = netpol.KindCiliumNetworkPolicy, ns.Name, "fqdn-egress"
		c.CiliumNetworkPolicies = append(c.CiliumNetworkPolicies, p)
	}
	deny := &netpol.CiliumNetworkPolicy{Spec: &netpol.CiliumRule{
		EndpointSelector: &metav1.LabelSelector{},
		IngressDeny: []netpol.CiliumIngressRule{{FromEntities: []string{"world"},
			ToPorts: []netpol.CiliumPortRule{{Ports: []netpol.CiliumPortProtocol{{Port: "9090", EndPort: 9091, Protocol: "TCP"}}}}}},
	}}
	deny.Kind, deny.Name = netpol.KindCiliumClusterwideNetworkPolicy, "deny-world-metrics"
	no := false
	audit := &netpol.CiliumNetworkPolicy{Spec: &netpol.CiliumRule{
		EndpointSelector:  &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "io.kubernetes.pod.namespace", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"kube-system"}}}},
		EnableDefaultDeny: &netpol.CiliumDefaultDeny{Egress: &no, Ingress: &no},
		Egress:            []netpol.CiliumEgressRule{{ToEntities: []string{"cluster"}}},
	}}
	audit.Kind, audit.Name = netpol.KindCiliumClusterwideNetworkPolicy, "audit-cluster-egress"
	c.CiliumNetworkPolicies = append(c.CiliumNetworkPolicies, deny, audit)
	return c
}

// CiliumFromNetworkPolicy writes a NetworkPolicy as a CiliumNetworkPolicy
// with the same selectors, peers and ports: namespace selectors become
// selectors on Cilium's namespace-label keys, ipBlocks CIDR sets, a
// governed direction without rules an empty rule (deny all).
func CiliumFromNetworkPolicy(np *networkingv1.NetworkPolicy) *netpol.CiliumNetworkPolicy {
	ps := np.Spec.PodSelector
	r := &netpol.CiliumRule{EndpointSelector: &ps}
	ingress, egress := len(np.Spec.PolicyTypes) == 0, len(np.Spec.PolicyTypes) == 0 && len(np.Spec.Egress) > 0
	for _, t := range np.Spec.PolicyTypes {
		ingress = ingress || t == networkingv1.PolicyTypeIngress
		egress = egress || t == networkingv1.PolicyTypeEgress
	}
	if ingress {
		for _, ir := range np.Spec.Ingress {
			var cr netpol.CiliumIngressRule
			cr.FromEndpoints, cr.FromCIDRSet = ciliumPeersOf(ir.From)
			cr.ToPorts = ciliumPortsOf(ir.Ports)
			if len(ir.From) == 0 && len(cr.ToPorts) == 0 {
				cr.FromEntities = []string{"all"}
			}
			r.Ingress = append(r.Ingress, cr)
		}
		if len(np.Spec.Ingress) == 0 {
			r.Ingress = []netpol.CiliumIngressRule{{}}
		}
	}
	if egress {
		for _, er := range np.Spec.Egress {
			var cr netpol.CiliumEgressRule
			cr.ToEndpoints, cr.ToCIDRSet = ciliumPeersOf(er.To)
			cr.ToPorts = ciliumPortsOf(er.Ports)
			if len(er.To) == 0 && len(cr.ToPorts) == 0 {
				cr.ToEntities = []string{"all"}
			}
			r.Egress = append(r.Egress, cr)
		}
		if len(np.Spec.Egress) == 0 {
			r.Egress = []netpol.CiliumEgressRule{{}}
		}
	}
	p := &netpol.CiliumNetworkPolicy{Spec: r}
	p.Kind, p.Namespace, p.Name = netpol.KindCiliumNetworkPolicy, np.Namespace, np.Name
	return p
}

func ciliumPeersOf(peers []networkingv1.NetworkPolicyPeer) ([]metav1.LabelSelector, []netpol.CiliumCIDRRule) {
	var eps []metav1.LabelSelector
	var cidrs []netpol.CiliumCIDRRule
	for _, p := range peers {
		if p.IPBlock != nil {
			cidrs = append(cidrs, netpol.CiliumCIDRRule{CIDR: p.IPBlock.CIDR, Except: p.IPBlock.Except})
			continue
		}
		sel := metav1.LabelSelector{MatchLabels: map[string]string{}}
		if p.PodSelector != nil {
			for k, v := range p.PodSelector.MatchLabels {
				sel.MatchLabels["k8s:"+k] = v
			}
			sel.MatchExpressions = append(sel.MatchExpressions, p.PodSelector.MatchExpressions...)
		}
		if p.NamespaceSelector != nil {
			for k, v := range p.NamespaceSelector.MatchLabels {
				sel.MatchLabels["k8s:io.cilium.k8s.namespace.labels."+k] = v
			}
			for _, e := range p.NamespaceSelector.MatchExpressions {
				e.Key = "io.cilium.k8s.namespace.labels." + e.Key
				sel.MatchExpressions = append(sel.MatchExpressions, e)
			}
			if len(p.NamespaceSelector.MatchLabels)+len(p.NamespaceSelector.MatchExpressions) == 0 {
				// every namespace: a key every pod has, so the policy's own
				// namespace is not implied
				sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{Key: "io.kubernetes.pod.namespace", Operator: metav1.LabelSelectorOpExists})
			}
		}
		eps = append(eps, sel)
	}
	return eps, cidrs
}

func ciliumPortsOf(ports []networkingv1.NetworkPolicyPort) []netpol.CiliumPortRule {
	if len(ports) == 0 {
		return nil
	}
	var pr netpol.CiliumPortRule
	for _, p := range ports {
		proto := corev1.ProtocolTCP
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		pp := netpol.CiliumPortProtocol{Protocol: string(proto)}
		if p.Port != nil {
			pp.Port = p.Port.String()
			if _, err := strconv.Atoi(pp.Port); err != nil && p.EndPort != nil {
				panic(fmt.Sprintf("endPort with named port %s", pp.Port))
			}
		}
		if p.EndPort != nil {
			pp.EndPort = *p.EndPort
		}
		pr.Ports = append(pr.Ports, pp)
	}
	return []netpol.CiliumPortRule{pr}
}
