package netpoltest

import (
	"fmt"
	"math/rand/v2"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/budnet/budnet/internal/netpol"
)

// AddRandomCilium adds 1-4 Cilium policies, namespaced and clusterwide, to a
// RandomCluster: endpoint selectors with Cilium's key forms (k8s: prefixes,
// the namespace key, namespace labels), allow and deny rules of both
// directions, entities, CIDRs with except, L4-only and empty rules, ports
// with ranges, names and protocol ANY, L7 rules and enableDefaultDeny.
func AddRandomCilium(r *rand.Rand, c *netpol.Cluster) {
	g := &rgen{r: r}
	for i := range 1 + r.IntN(4) {
		p := &netpol.CiliumNetworkPolicy{Spec: g.ciliumRule()}
		p.Kind = netpol.KindCiliumNetworkPolicy
		p.Name = fmt.Sprintf("cnp%d", i)
		if r.IntN(3) == 0 {
			p.Kind = netpol.KindCiliumClusterwideNetworkPolicy
		} else {
			p.Namespace = c.Namespaces[r.IntN(len(c.Namespaces))].Name
		}
		if r.IntN(4) == 0 {
			p.Specs = append(p.Specs, *g.ciliumRule())
		}
		c.CiliumNetworkPolicies = append(c.CiliumNetworkPolicies, p)
	}
}

// ciliumSelector is a random selector with Cilium's key forms.
func (g *rgen) ciliumSelector() *metav1.LabelSelector {
	s := g.selector(true)
	out := &metav1.LabelSelector{MatchExpressions: s.MatchExpressions}
	for k, v := range s.MatchLabels {
		if out.MatchLabels == nil {
			out.MatchLabels = map[string]string{}
		}
		if g.r.IntN(2) == 0 {
			k = "k8s:" + k
		}
		out.MatchLabels[k] = v
	}
	switch g.r.IntN(5) {
	case 0:
		if out.MatchLabels == nil {
			out.MatchLabels = map[string]string{}
		}
		out.MatchLabels["k8s:io.kubernetes.pod.namespace"] = g.pick(nsPool)
	case 1:
		if out.MatchLabels == nil {
			out.MatchLabels = map[string]string{}
		}
		k := g.pick(labelKeys)
		out.MatchLabels["k8s:io.cilium.k8s.namespace.labels."+k] = g.pick(labelPool[k])
	}
	return out
}

func (g *rgen) ciliumRule() *netpol.CiliumRule {
	r := &netpol.CiliumRule{EndpointSelector: g.ciliumSelector()}
	for range g.r.IntN(3) {
		r.Ingress = append(r.Ingress, g.ciliumIngress(false))
	}
	for range g.r.IntN(2) {
		r.IngressDeny = append(r.IngressDeny, g.ciliumIngress(true))
	}
	for range g.r.IntN(3) {
		r.Egress = append(r.Egress, g.ciliumEgress(false))
	}
	for range g.r.IntN(2) {
		r.EgressDeny = append(r.EgressDeny, g.ciliumEgress(true))
	}
	if g.r.IntN(4) == 0 {
		f := false
		r.EnableDefaultDeny = &netpol.CiliumDefaultDeny{}
		if g.r.IntN(2) == 0 {
			r.EnableDefaultDeny.Ingress = &f
		} else {
			r.EnableDefaultDeny.Egress = &f
		}
	}
	return r
}

var ciliumEntities = []string{"world", "cluster", "all", "world-ipv4", "world-ipv6"}

func (g *rgen) ciliumIngress(deny bool) netpol.CiliumIngressRule {
	var ir netpol.CiliumIngressRule
	switch g.r.IntN(6) {
	case 0:
		ir.FromEndpoints = []metav1.LabelSelector{*g.ciliumSelector()}
	case 1:
		ir.FromEntities = []string{g.pick(ciliumEntities)}
	case 2:
		ir.FromCIDRSet = []netpol.CiliumCIDRRule{g.cidrRule()}
	case 3:
		ir.FromCIDR = []string{g.pick(cidrPool)}
	case 4:
		ir.FromEndpoints = []metav1.LabelSelector{*g.ciliumSelector(), *g.ciliumSelector()}
	}
	ir.ToPorts = g.ciliumPorts(deny)
	return ir
}

func (g *rgen) ciliumEgress(deny bool) netpol.CiliumEgressRule {
	var er netpol.CiliumEgressRule
	switch g.r.IntN(6) {
	case 0:
		er.ToEndpoints = []metav1.LabelSelector{*g.ciliumSelector()}
	case 1:
		er.ToEntities = []string{g.pick(ciliumEntities)}
	case 2:
		er.ToCIDRSet = []netpol.CiliumCIDRRule{g.cidrRule()}
	case 3:
		er.ToCIDR = []string{g.pick(cidrPool)}
	case 4:
		if !deny {
			er.ToFQDNs = []netpol.CiliumFQDNSelector{{MatchName: "api.example.com"}}
		}
	}
	er.ToPorts = g.ciliumPorts(deny)
	return er
}

func (g *rgen) cidrRule() netpol.CiliumCIDRRule {
	cidr := g.pick(cidrPool)
	cr := netpol.CiliumCIDRRule{CIDR: cidr}
	if ex := exceptPool[cidr]; len(ex) > 0 && g.r.IntN(2) == 0 {
		cr.Except = []string{g.pick(ex)}
	}
	return cr
}

func (g *rgen) ciliumPorts(deny bool) []netpol.CiliumPortRule {
	if g.r.IntN(3) == 0 {
		return nil
	}
	var pr netpol.CiliumPortRule
	for range 1 + g.r.IntN(2) {
		pp := netpol.CiliumPortProtocol{Protocol: g.pick([]string{"", "ANY", "TCP", "UDP", "SCTP"})}
		switch g.r.IntN(4) {
		case 0:
			pp.Port = g.pick(portNames)
		case 1:
			lo := portNums[g.r.IntN(len(portNums)-1)]
			pp.Port, pp.EndPort = strconv.Itoa(int(lo)), lo+1+int32(g.r.IntN(100))
		case 2:
			pp.Port = strconv.Itoa(int(portNums[g.r.IntN(len(portNums))]))
		}
		pr.Ports = append(pr.Ports, pp)
	}
	if !deny && g.r.IntN(4) == 0 {
		pr.Rules = []byte(`{"http":[{"method":"GET"}]}`)
	}
	return []netpol.CiliumPortRule{pr}
}
