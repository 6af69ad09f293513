// Package netpoltest generates clusters for tests and benchmarks of the netpol
// engine and of commands built on it. Generation is deterministic per seed.
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

// tier describes a kind of workload: its container ports.
type tier struct {
	name  string
	ports []netpol.ContainerPort
}

var tiers = []tier{
	{"web", []netpol.ContainerPort{{Name: "http", Port: 8080}, {Name: "metrics", Port: 9090}}},
	{"api", []netpol.ContainerPort{{Name: "http", Port: 8000}, {Name: "grpc", Port: 9000}, {Name: "metrics", Port: 9090}}},
	{"db", []netpol.ContainerPort{{Name: "postgres", Port: 5432}}},
	{"cache", []netpol.ContainerPort{{Name: "redis", Port: 6379}}},
	{"worker", []netpol.ContainerPort{{Name: "metrics", Port: 9091}}},
	{"media", []netpol.ContainerPort{{Name: "rtp", Port: 5004, Protocol: corev1.ProtocolUDP}, {Name: "sig", Port: 3868, Protocol: corev1.ProtocolSCTP}}},
}

// GenerateCluster builds a cluster of about the given number of pods in
// Deployments of 1-5 replicas spread over namespaces (one per ~100 pods, at
// least 3, plus kube-system with DNS), and about pods/4 NetworkPolicies mixing
// default deny, matchLabels, matchExpressions, namespace selectors, ipBlock with
// except, named ports that mean different numbers on different pods, port
// ranges, UDP and SCTP.
func GenerateCluster(seed int64, pods int) netpol.Cluster {
	r := rand.New(rand.NewPCG(uint64(seed), 0x6e6574706f6c))
	g := &gen{r: r}
	nNS := max(3, pods/100)
	g.namespaces(nNS)
	for len(g.c.Pods) < pods {
		g.deployment(min(1+r.IntN(5), pods-len(g.c.Pods)))
	}
	for len(g.c.Policies) < max(1, pods/4) {
		g.policy()
	}
	return g.c
}

type gen struct {
	r        *rand.Rand
	c        netpol.Cluster
	nsNames  []string
	apps     []string // namespace/app of each deployment
	nextIP   uint32
	nextName int
}

func (g *gen) namespaces(n int) {
	teams := []string{"payments", "search", "platform", "data", "ml"}
	envs := []string{"prod", "staging", "dev"}
	g.c.Namespaces = append(g.c.Namespaces, netpol.Namespace{Name: "kube-system", Labels: map[string]string{
		"kubernetes.io/metadata.name": "kube-system",
	}})
	g.c.Pods = append(g.c.Pods, netpol.Pod{
		Namespace: "kube-system", Name: "coredns-0", Workload: "kube-system/coredns[Deployment]",
		Labels: map[string]string{"k8s-app": "kube-dns"},
		Ports: []netpol.ContainerPort{{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP},
			{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP}},
		IPs: []netip.Addr{g.ip()},
	})
	for i := range n {
		name := fmt.Sprintf("ns-%03d", i)
		g.nsNames = append(g.nsNames, name)
		g.c.Namespaces = append(g.c.Namespaces, netpol.Namespace{Name: name, Labels: map[string]string{
			"kubernetes.io/metadata.name": name,
			"team":                        teams[i%len(teams)],
			"env":                         envs[g.r.IntN(len(envs))],
		}})
	}
}

func (g *gen) ip() netip.Addr {
	g.nextIP++
	n := g.nextIP
	return netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
}

func (g *gen) deployment(replicas int) {
	ns := g.nsNames[g.r.IntN(len(g.nsNames))]
	t := tiers[g.r.IntN(len(tiers))]
	g.nextName++
	app := fmt.Sprintf("%s-%d", t.name, g.nextName)
	g.apps = append(g.apps, ns+"/"+app)
	labels := map[string]string{"app": app, "tier": t.name, "version": []string{"v1", "v2"}[g.r.IntN(2)]}
	for i := range replicas {
		g.c.Pods = append(g.c.Pods, netpol.Pod{
			Namespace: ns, Name: fmt.Sprintf("%s-%d", app, i), Workload: ns + "/" + app + "[Deployment]",
			Labels: labels, Ports: t.ports, IPs: []netip.Addr{g.ip()},
		})
	}
}

func ptr[T any](v T) *T { return &v }

func port(p intstr.IntOrString, proto corev1.Protocol) networkingv1.NetworkPolicyPort {
	return networkingv1.NetworkPolicyPort{Port: &p, Protocol: &proto}
}

// policy adds one policy of a randomly chosen shape.
func (g *gen) policy() {
	ns := g.nsNames[g.r.IntN(len(g.nsNames))]
	np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("np-%d", len(g.c.Policies))}}
	tierSel := func() *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchLabels: map[string]string{"tier": tiers[g.r.IntN(len(tiers))].name}}
	}
	appSel := func() metav1.LabelSelector {
		app := g.apps[g.r.IntN(len(g.apps))]
		for i := range app {
			if app[i] == '/' {
				app = app[i+1:]
				break
			}
		}
		return metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}
	}
	switch k := g.r.IntN(10); k {
	case 0: // default deny both directions, with DNS allowed out
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
		np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{
			To: []networkingv1.NetworkPolicyPeer{{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}},
				PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
			}},
			Ports: []networkingv1.NetworkPolicyPort{port(intstr.FromString("dns"), corev1.ProtocolUDP), port(intstr.FromInt32(53), corev1.ProtocolTCP)},
		}}
	case 1, 2: // an app accepts its tier's named port from a tier in the namespace
		np.Spec.PodSelector = appSel()
		np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{
			From:  []networkingv1.NetworkPolicyPeer{{PodSelector: tierSel()}},
			Ports: []networkingv1.NetworkPolicyPort{port(intstr.FromString("http"), corev1.ProtocolTCP), port(intstr.FromString("postgres"), corev1.ProtocolTCP)},
		}}
	case 3: // matchExpressions and a namespace selector by team
		np.Spec.PodSelector = metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"api", "db", "cache"}},
			{Key: "version", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"v0"}},
		}}
		np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{
			From: []networkingv1.NetworkPolicyPeer{{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": []string{"payments", "search", "platform", "data", "ml"}[g.r.IntN(5)]}},
				PodSelector:       &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpExists}}},
			}},
			Ports: []networkingv1.NetworkPolicyPort{port(intstr.FromString("grpc"), corev1.ProtocolTCP), port(intstr.FromString("redis"), corev1.ProtocolTCP), port(intstr.FromInt32(5432), corev1.ProtocolTCP)},
		}}
	case 4: // egress to the internet except private ranges, HTTPS only
		np.Spec.PodSelector = *tierSel()
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
		np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{
			To:    []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}}}},
			Ports: []networkingv1.NetworkPolicyPort{port(intstr.FromInt32(443), corev1.ProtocolTCP)},
		}, {
			To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}},
		}}
	default:
		g.policyMore(np, k, tierSel, appSel)
	}
	g.c.Policies = append(g.c.Policies, np)
}

// policyMore fills the remaining policy shapes of policy.
func (g *gen) policyMore(np *networkingv1.NetworkPolicy, k int, tierSel func() *metav1.LabelSelector, appSel func() metav1.LabelSelector) {
	switch k {
	case 5: // a port range and UDP for media, from a partner network
		net := g.r.IntN(4)
		np.Spec.PodSelector = metav1.LabelSelector{MatchLabels: map[string]string{"tier": "media"}}
		np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{
			From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: fmt.Sprintf("203.0.%d.0/24", net), Except: []string{fmt.Sprintf("203.0.%d.128/25", net)}}}},
			Ports: []networkingv1.NetworkPolicyPort{
				{Port: ptr(intstr.FromInt32(30000)), EndPort: ptr[int32](32767), Protocol: ptr(corev1.ProtocolUDP)},
				port(intstr.FromString("sig"), corev1.ProtocolSCTP),
			},
		}}
	case 6: // an app reachable from everywhere in the cluster on metrics
		np.Spec.PodSelector = appSel()
		np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{
			From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}},
			Ports: []networkingv1.NetworkPolicyPort{port(intstr.FromString("metrics"), corev1.ProtocolTCP)},
		}}
	case 7: // egress from an app to a tier across namespaces of an env
		np.Spec.PodSelector = appSel()
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
		np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{
			To: []networkingv1.NetworkPolicyPeer{{
				NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "env", Operator: metav1.LabelSelectorOpIn, Values: []string{"prod", "staging"}}}},
				PodSelector:       tierSel(),
			}},
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr(corev1.ProtocolTCP)}, port(intstr.FromInt32(53), corev1.ProtocolUDP)},
		}}
	case 8: // ingress deny-all for a tier
		np.Spec.PodSelector = *tierSel()
		np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{}
	default: // allow within the namespace
		np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}}}
	}
}

// GenerateBarePods builds the worst case for output size: pods bare pods, each
// its own workload with a unique label, in 8 namespaces, under policies that
// allow roughly one ordered pair in six (about 4 million connections for 5,000
// pods): every namespace denies ingress by default, servers (half the pods)
// accept clients (the other half) of their own namespace and of the next four
// on their named port "http" (8000-8002, varying per pod), and a few "monitor"
// pods reach everyone's metrics port.
func GenerateBarePods(seed int64, pods int) netpol.Cluster {
	r := rand.New(rand.NewPCG(uint64(seed), 0x626172650a))
	var c netpol.Cluster
	const nNS = 8
	for i := range nNS {
		name := fmt.Sprintf("bare-%d", i)
		c.Namespaces = append(c.Namespaces, netpol.Namespace{Name: name, Labels: map[string]string{
			"kubernetes.io/metadata.name": name, "ring": fmt.Sprint(i),
		}})
	}
	roles := []string{"client", "server"}
	for i := range pods {
		ns := fmt.Sprintf("bare-%d", i%nNS)
		role := roles[r.IntN(len(roles))]
		if i%97 == 0 {
			role = "monitor"
		}
		c.Pods = append(c.Pods, netpol.Pod{
			Namespace: ns, Name: fmt.Sprintf("pod-%05d", i), Workload: fmt.Sprintf("%s/pod-%05d[Pod]", ns, i),
			Labels: map[string]string{"role": role, "id": fmt.Sprint(i)},
			Ports:  []netpol.ContainerPort{{Name: "http", Port: int32(8000 + r.IntN(3))}, {Name: "metrics", Port: 9090}},
		})
	}
	for i := range nNS {
		ns := fmt.Sprintf("bare-%d", i)
		c.Policies = append(c.Policies,
			&networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "default-deny"},
				Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}},
			&networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "servers"},
				Spec: networkingv1.NetworkPolicySpec{
					PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"role": "server"}},
					Ingress: []networkingv1.NetworkPolicyIngressRule{{
						From: []networkingv1.NetworkPolicyPeer{
							{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "client"}}},
							{
								NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
									Key: "ring", Operator: metav1.LabelSelectorOpIn,
									Values: []string{fmt.Sprint((i + 1) % nNS), fmt.Sprint((i + 2) % nNS), fmt.Sprint((i + 3) % nNS), fmt.Sprint((i + 4) % nNS)},
								}}},
								PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "client"}},
							},
						},
						Ports: []networkingv1.NetworkPolicyPort{port(intstr.FromString("http"), corev1.ProtocolTCP)},
					}},
				}},
			&networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "monitoring"},
				Spec: networkingv1.NetworkPolicySpec{
					Ingress: []networkingv1.NetworkPolicyIngressRule{{
						From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}, PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "monitor"}}}},
						Ports: []networkingv1.NetworkPolicyPort{port(intstr.FromString("metrics"), corev1.ProtocolTCP)},
					}},
				}},
		)
	}
	return c
}
