package netpoltest

import (
	"fmt"
	"math/rand/v2"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/budnet/budnet/internal/netpol"
)

// RandomOptions shape RandomCluster.
type RandomOptions struct {
	// NotInKeysAlwaysPresent gives every pod and namespace the label keys that
	// NotIn expressions use (tier, env), for oracles that mis-handle NotIn on an
	// absent key.
	NotInKeysAlwaysPresent bool
	// HostNetwork allows host-network pods.
	HostNetwork bool
	// NoIPBlocks leaves ipBlock peers out, for oracles that need every
	// pod's address when policies have them (cyclonus) and cases where the
	// manifests do not give it.
	NoIPBlocks bool
}

// Small pools so that random selectors, names and addresses collide often.
var (
	nsPool     = []string{"a", "b", "c", "d"}
	labelPool  = map[string][]string{"app": {"web", "db", "api"}, "tier": {"front", "back"}, "env": {"prod", "dev"}}
	labelKeys  = []string{"app", "tier", "env"}
	portNames  = []string{"http", "dns", "metrics", "sig"}
	portNums   = []int32{53, 80, 81, 443, 5000, 8080, 9090}
	protoPool  = []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}
	cidrPool   = []string{"10.0.0.0/8", "10.0.0.0/16", "10.0.1.0/24", "10.0.0.5/32", "0.0.0.0/0", "192.168.0.0/16", "fd00::/8", "fd00::/64", "::/0", "2001:db8::/32"}
	exceptPool = map[string][]string{
		"10.0.0.0/8":     {"10.0.1.0/24", "10.0.0.0/16", "10.0.0.4/30"},
		"10.0.0.0/16":    {"10.0.0.0/24", "10.0.0.5/32"},
		"0.0.0.0/0":      {"10.0.0.0/8", "192.168.0.0/16", "10.0.1.0/24"},
		"192.168.0.0/16": {"192.168.1.0/24"},
		"fd00::/8":       {"fd00::/64", "fd00:0:0:1::/64"},
		"::/0":           {"fd00::/8"},
		"2001:db8::/32":  {"2001:db8::/48"},
	}
	addressPool = []netip.Addr{
		netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("10.0.1.7"), netip.MustParseAddr("10.1.2.3"),
		netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("192.168.2.1"), netip.MustParseAddr("8.8.8.8"),
		netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00:0:0:1::1"), netip.MustParseAddr("2001:db8::1"),
		netip.MustParseAddr("2001:db8:1::1"), netip.MustParseAddr("2606:4700::1111"),
	}
	portPool = []int32{1, 52, 53, 54, 79, 80, 81, 82, 443, 4999, 5000, 5001, 8080, 9090, 65535}
)

// Addresses are external addresses in and around the CIDRs RandomCluster uses.
func Addresses() []netip.Addr { return append([]netip.Addr(nil), addressPool...) }

// Ports are the ports worth trying connections on: the numbers RandomCluster
// uses, their neighbours and the range edges.
func Ports() []int32 { return append([]int32(nil), portPool...) }

// Protocols are the protocols NetworkPolicy supports.
func Protocols() []corev1.Protocol { return append([]corev1.Protocol(nil), protoPool...) }

// RandomCluster builds a small cluster exercising every NetworkPolicy feature:
// 2-4 namespaces, 2-9 pods with random labels and named ports, and 1-5 policies
// with random selectors (matchLabels and all four operators), policyTypes (often
// left for defaulting), absent/empty/non-empty rule and peer lists, ipBlocks with
// except in both families, numeric, named and ranged ports of all protocols.
// Pods have one IP each (IPv4 or IPv6), drawn near the CIDR pool; a third of
// them copy the namespace and labels (and half of those the ports) of an
// earlier pod.
func RandomCluster(r *rand.Rand, opts RandomOptions) netpol.Cluster {
	g := &rgen{r: r, opts: opts}
	var c netpol.Cluster
	nNS := 2 + r.IntN(3)
	for _, name := range nsPool[:nNS] {
		l := g.labels()
		l["kubernetes.io/metadata.name"] = name
		c.Namespaces = append(c.Namespaces, netpol.Namespace{Name: name, Labels: l})
	}
	nPods := 2 + r.IntN(8)
	for i := range nPods {
		p := netpol.Pod{
			Namespace: nsPool[r.IntN(nNS)], Name: fmt.Sprintf("p%d", i),
			Labels: g.labels(), Ports: g.ports(), IPs: []netip.Addr{g.podIP(i)},
		}
		if i > 0 && r.IntN(3) == 0 {
			// A twin of an earlier pod: same namespace and labels, its own
			// ports and IP, so that pod classes must keep them apart.
			twin := c.Pods[r.IntN(i)]
			p.Namespace, p.Labels = twin.Namespace, twin.Labels
			if r.IntN(2) == 0 {
				p.Ports = twin.Ports // only the IP tells them apart
			}
		}
		if r.IntN(4) == 0 && i > 0 { // some workloads span pods
			p.Workload = fmt.Sprintf("w%d", r.IntN(i))
		}
		p.HostNetwork = opts.HostNetwork && r.IntN(8) == 0
		c.Pods = append(c.Pods, p)
	}
	nPol := 1 + r.IntN(5)
	for i := range nPol {
		c.Policies = append(c.Policies, g.policy(nsPool[r.IntN(nNS)], fmt.Sprintf("np%d", i)))
	}
	return c
}

type rgen struct {
	r    *rand.Rand
	opts RandomOptions
}

func (g *rgen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }

func (g *rgen) labels() map[string]string {
	l := map[string]string{}
	for _, k := range labelKeys {
		always := g.opts.NotInKeysAlwaysPresent && k != "app"
		if always || g.r.IntN(3) > 0 {
			l[k] = g.pick(labelPool[k])
		}
	}
	return l
}

func (g *rgen) podIP(i int) netip.Addr {
	if g.r.IntN(4) == 0 {
		return netip.AddrFrom16([16]byte{0: 0xfd, 7: byte(g.r.IntN(2)), 15: byte(i + 1)})
	}
	return netip.AddrFrom4([4]byte{10, 0, byte(g.r.IntN(3)), byte(1 + g.r.IntN(8))})
}

// ports gives a pod distinct names and distinct (port, protocol) pairs, as
// API validation requires.
func (g *rgen) ports() []netpol.ContainerPort {
	var out []netpol.ContainerPort
	seen := map[string]bool{}
	for _, name := range portNames {
		if g.r.IntN(2) == 0 {
			continue
		}
		cp := netpol.ContainerPort{Name: name, Port: portNums[g.r.IntN(len(portNums))], Protocol: protoPool[g.r.IntN(3)]}
		if g.r.IntN(3) == 0 {
			cp.Protocol = "" // defaulted to TCP
		}
		key := fmt.Sprint(cp.Port, netpolProto(cp.Protocol))
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, cp)
	}
	return out
}

func netpolProto(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

func (g *rgen) selector(allowEmpty bool) *metav1.LabelSelector {
	s := &metav1.LabelSelector{}
	if allowEmpty && g.r.IntN(3) == 0 {
		return s
	}
	for range 1 + g.r.IntN(2) {
		k := g.pick(labelKeys)
		switch g.r.IntN(6) {
		case 0, 1:
			if s.MatchLabels == nil {
				s.MatchLabels = map[string]string{}
			}
			s.MatchLabels[k] = g.pick(labelPool[k])
		case 2:
			s.MatchExpressions = append(s.MatchExpressions, metav1.LabelSelectorRequirement{Key: k, Operator: metav1.LabelSelectorOpIn, Values: g.values(k)})
		case 3:
			if k == "app" { // NotIn only on keys the options may force present
				k = "tier"
			}
			s.MatchExpressions = append(s.MatchExpressions, metav1.LabelSelectorRequirement{Key: k, Operator: metav1.LabelSelectorOpNotIn, Values: g.values(k)})
		case 4:
			s.MatchExpressions = append(s.MatchExpressions, metav1.LabelSelectorRequirement{Key: k, Operator: metav1.LabelSelectorOpExists})
		default:
			s.MatchExpressions = append(s.MatchExpressions, metav1.LabelSelectorRequirement{Key: k, Operator: metav1.LabelSelectorOpDoesNotExist})
		}
	}
	return s
}

func (g *rgen) values(k string) []string {
	vs := labelPool[k]
	if g.r.IntN(2) == 0 {
		return []string{g.pick(vs)}
	}
	return append([]string(nil), vs[:2]...)
}

func (g *rgen) policy(ns, name string) *networkingv1.NetworkPolicy {
	np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	np.Spec.PodSelector = *g.selector(true)
	switch g.r.IntN(5) {
	case 0:
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	case 1:
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	case 2:
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	} // otherwise left empty for defaulting
	switch g.r.IntN(4) {
	case 0: // absent
	case 1:
		np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{}
	default:
		for range 1 + g.r.IntN(3) {
			np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: g.peers(), Ports: g.policyPorts()})
		}
	}
	switch g.r.IntN(4) {
	case 0:
	case 1:
		np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{}
	default:
		for range 1 + g.r.IntN(3) {
			np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: g.peers(), Ports: g.policyPorts()})
		}
	}
	return np
}

func (g *rgen) peers() []networkingv1.NetworkPolicyPeer {
	switch g.r.IntN(5) {
	case 0:
		return nil
	case 1:
		return []networkingv1.NetworkPolicyPeer{}
	}
	var out []networkingv1.NetworkPolicyPeer
	for range 1 + g.r.IntN(3) {
		var p networkingv1.NetworkPolicyPeer
		k := g.r.IntN(4)
		if g.opts.NoIPBlocks {
			k = g.r.IntN(3)
		}
		switch k {
		case 0:
			p.PodSelector = g.selector(true)
		case 1:
			p.NamespaceSelector = g.selector(true)
		case 2:
			p.PodSelector, p.NamespaceSelector = g.selector(true), g.selector(true)
		default:
			cidr := g.pick(cidrPool)
			p.IPBlock = &networkingv1.IPBlock{CIDR: cidr}
			if ex := exceptPool[cidr]; len(ex) > 0 && g.r.IntN(2) == 0 {
				p.IPBlock.Except = append(p.IPBlock.Except, g.pick(ex))
			}
		}
		out = append(out, p)
	}
	return out
}

func (g *rgen) policyPorts() []networkingv1.NetworkPolicyPort {
	if g.r.IntN(3) == 0 {
		return nil
	}
	var out []networkingv1.NetworkPolicyPort
	for range 1 + g.r.IntN(3) {
		var p networkingv1.NetworkPolicyPort
		if g.r.IntN(3) > 0 {
			proto := protoPool[g.r.IntN(3)]
			p.Protocol = &proto
		}
		switch g.r.IntN(5) {
		case 0: // every port of the protocol
		case 1:
			v := intstr.FromString(g.pick(portNames))
			p.Port = &v
		case 2:
			lo := portNums[g.r.IntN(len(portNums))]
			v := intstr.FromInt32(lo)
			end := lo + int32(g.r.IntN(3))
			if g.r.IntN(4) == 0 {
				end = 65535
			}
			p.Port, p.EndPort = &v, &end
		default:
			v := intstr.FromInt32(portNums[g.r.IntN(len(portNums))])
			p.Port = &v
		}
		out = append(out, p)
	}
	return out
}
