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

// Large is a cluster of the "large" profile and the state to draw
// realistic deltas of it: pods of Deployments with app, component, tier
// and version labels drawn from Zipf-like pools (a few names everywhere,
// a long tail), namespaces with team and env labels, and about one
// NetworkPolicy per ten pods, mostly namespace-local (ingress to an app
// from other apps of the namespace, default deny), some with
// namespaceSelector peers (from a team's or env's namespaces, from an
// ingress controller), some egress lockdowns allowing DNS.
type Large struct {
	netpol.Cluster
	r        *rand.Rand
	apps     []largeApp
	podIdx   map[string]int // namespace/name -> index in Cluster.Pods
	appSeen  map[string]bool
	nsNames  []string
	nsPols   map[string]int // policies generated per namespace
	appZipf  *rand.Zipf
	verZipf  *rand.Zipf
	teamZipf *rand.Zipf
	nextIP   uint32
	nextPod  int
}

type largeApp struct {
	ns, app   string
	labels    map[string]string
	ports     []netpol.ContainerPort
	workload  string
	podNames  []string
	component string
}

var (
	largeAppNames   = []string{"api", "web", "worker", "frontend", "backend", "redis", "postgres", "auth", "gateway", "search", "cart", "checkout", "payments", "notifications", "scheduler", "indexer", "ingest", "exporter", "metrics", "cache", "queue", "billing", "catalog", "profile", "session", "media", "recommend", "report", "admin", "sync"}
	largeComponents = []string{"server", "worker", "cache", "db", "frontend", "proxy", "cron"}
	largeTiers      = []string{"frontend", "backend", "data"}
	largeTeams      = []string{"payments", "search", "platform", "data", "ml", "growth", "identity", "infra", "mobile", "web"}
	largeEnvs       = []string{"prod", "staging", "dev"}
	largePorts      = [][]netpol.ContainerPort{
		{{Name: "http", Port: 8080}},
		{{Name: "http", Port: 8080}, {Name: "metrics", Port: 9090}},
		{{Name: "grpc", Port: 9000}, {Name: "metrics", Port: 9090}},
		{{Name: "http", Port: 80}},
		{{Name: "redis", Port: 6379}},
		{{Name: "postgres", Port: 5432}},
	}
)

// GenerateLarge builds a cluster of the large profile with about the given
// number of pods: pods/50 namespaces (2,000 at 100,000 pods) and pods/10
// policies (10,000).
func GenerateLarge(seed int64, pods int) *Large {
	r := rand.New(rand.NewPCG(uint64(seed), 0x6c61726765))
	l := &Large{
		r: r, podIdx: map[string]int{}, nsPols: map[string]int{}, appSeen: map[string]bool{},
		appZipf:  rand.NewZipf(r, 1.3, 2, uint64(len(largeAppNames)-1)),
		verZipf:  rand.NewZipf(r, 2, 1, 4),
		teamZipf: rand.NewZipf(r, 1.2, 1, uint64(len(largeTeams)-1)),
	}
	l.Namespaces = append(l.Namespaces, netpol.Namespace{Name: "kube-system", Labels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}})
	l.addPod(&largeApp{ns: "kube-system", app: "coredns", labels: map[string]string{"k8s-app": "kube-dns"},
		ports:    []netpol.ContainerPort{{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}, {Name: "dns-tcp", Port: 53}},
		workload: "kube-system/coredns[Deployment]"})
	l.Namespaces = append(l.Namespaces, netpol.Namespace{Name: "ingress-nginx", Labels: map[string]string{"kubernetes.io/metadata.name": "ingress-nginx", "team": "infra"}})
	ing := &largeApp{ns: "ingress-nginx", app: "controller", labels: map[string]string{"app": "ingress-nginx", "component": "controller"},
		ports: []netpol.ContainerPort{{Name: "http", Port: 80}, {Name: "https", Port: 443}}, workload: "ingress-nginx/controller[Deployment]"}
	l.apps = append(l.apps, *ing)
	for range 2 {
		l.addPod(&l.apps[0])
	}
	nNS := max(3, pods/50)
	for i := range nNS {
		name := fmt.Sprintf("ns-%04d", i)
		l.nsNames = append(l.nsNames, name)
		l.Namespaces = append(l.Namespaces, netpol.Namespace{Name: name, Labels: map[string]string{
			"kubernetes.io/metadata.name": name,
			"team":                        largeTeams[l.teamZipf.Uint64()],
			"env":                         largeEnvs[r.IntN(len(largeEnvs))],
		}})
	}
	for len(l.Pods) < pods {
		l.deployment(l.nsNames[r.IntN(len(l.nsNames))], min(1+r.IntN(5), pods-len(l.Pods)))
	}
	for len(l.Policies) < max(1, pods/10) {
		l.Policies = append(l.Policies, l.policy(l.nsNames[r.IntN(len(l.nsNames))]))
	}
	return l
}

func (l *Large) deployment(ns string, replicas int) *largeApp {
	r := l.r
	app := largeAppNames[l.appZipf.Uint64()]
	// A second Deployment of a name in a namespace gets a suffix, as
	// "api-v2" or "worker-2" would be.
	for i := 2; ; i++ {
		if !l.hasApp(ns, app) {
			break
		}
		app = fmt.Sprintf("%s-%d", largeAppNames[l.appZipf.Uint64()], i)
	}
	a := largeApp{
		ns: ns, app: app, component: largeComponents[r.IntN(len(largeComponents))],
		ports:    largePorts[r.IntN(len(largePorts))],
		workload: ns + "/" + app + "[Deployment]",
	}
	a.labels = map[string]string{
		"app": app, "component": a.component, "tier": largeTiers[r.IntN(len(largeTiers))],
		"version": fmt.Sprintf("v%d", 1+l.verZipf.Uint64()),
	}
	l.appSeen[ns+"/"+app] = true
	l.apps = append(l.apps, a)
	p := &l.apps[len(l.apps)-1]
	for range replicas {
		l.addPod(p)
	}
	return p
}

func (l *Large) hasApp(ns, app string) bool { return l.appSeen[ns+"/"+app] }

func (l *Large) addPod(a *largeApp) *netpol.Pod {
	l.nextIP++
	l.nextPod++
	n := l.nextIP
	name := fmt.Sprintf("%s-%d", a.app, l.nextPod)
	p := netpol.Pod{
		Namespace: a.ns, Name: name, Workload: a.workload,
		Labels: a.labels, Ports: a.ports,
		IPs: []netip.Addr{netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})},
	}
	a.podNames = append(a.podNames, name)
	l.podIdx[a.ns+"/"+name] = len(l.Pods)
	l.Pods = append(l.Pods, p)
	return &l.Pods[len(l.Pods)-1]
}

// appIn picks an app of a namespace (any app when a few draws find none:
// its selector then selects nothing there, as stale policies do).
func (l *Large) appIn(ns string) *largeApp {
	for range 40 {
		a := &l.apps[l.r.IntN(len(l.apps))]
		if a.ns == ns {
			return a
		}
	}
	return &l.apps[l.r.IntN(len(l.apps))]
}

func (l *Large) policy(ns string) *networkingv1.NetworkPolicy {
	r := l.r
	l.nsPols[ns]++
	np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("np-%d", l.nsPols[ns])}}
	appSel := func(a *largeApp) metav1.LabelSelector {
		return metav1.LabelSelector{MatchLabels: map[string]string{"app": a.app}}
	}
	tcp := func(port intstr.IntOrString) networkingv1.NetworkPolicyPort {
		proto := corev1.ProtocolTCP
		return networkingv1.NetworkPolicyPort{Protocol: &proto, Port: &port}
	}
	target := l.appIn(ns)
	switch k := r.IntN(20); {
	case k < 2: // default deny ingress for the namespace
		np.Name = fmt.Sprintf("default-deny-%d", l.nsPols[ns])
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	case k < 3: // egress lockdown of an app, DNS allowed
		np.Spec.PodSelector = appSel(target)
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
		udp := corev1.ProtocolUDP
		dns := intstr.FromInt32(53)
		np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{
			{To: []networkingv1.NetworkPolicyPeer{{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}},
				PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
			}}, Ports: []networkingv1.NetworkPolicyPort{{Protocol: &udp, Port: &dns}}},
			{To: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}},
		}
	case k < 5: // from a team's or env's namespaces
		np.Spec.PodSelector = appSel(target)
		sel := &metav1.LabelSelector{MatchLabels: map[string]string{"team": largeTeams[l.teamZipf.Uint64()]}}
		if r.IntN(2) == 0 {
			sel = &metav1.LabelSelector{MatchLabels: map[string]string{"env": largeEnvs[r.IntN(len(largeEnvs))]}}
		}
		peer := networkingv1.NetworkPolicyPeer{NamespaceSelector: sel}
		if r.IntN(2) == 0 {
			peer.PodSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"component": largeComponents[r.IntN(len(largeComponents))]}}
		}
		np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{peer}, Ports: []networkingv1.NetworkPolicyPort{tcp(intstr.FromString("http"))}}}
	case k < 6: // from the ingress controller
		np.Spec.PodSelector = appSel(target)
		np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "ingress-nginx"}},
			PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app": "ingress-nginx"}},
		}}, Ports: []networkingv1.NetworkPolicyPort{tcp(intstr.FromInt32(8080)), tcp(intstr.FromInt32(80))}}}
	default: // ingress to an app from other apps of the namespace
		np.Spec.PodSelector = appSel(target)
		var from []networkingv1.NetworkPolicyPeer
		for range 1 + r.IntN(3) {
			s := appSel(l.appIn(ns))
			if r.IntN(4) == 0 {
				s = metav1.LabelSelector{MatchLabels: map[string]string{"component": largeComponents[r.IntN(len(largeComponents))]}}
			}
			from = append(from, networkingv1.NetworkPolicyPeer{PodSelector: &s})
		}
		ports := []networkingv1.NetworkPolicyPort{tcp(intstr.FromInt32(target.ports[0].Port))}
		if r.IntN(3) == 0 {
			ports = append(ports, tcp(intstr.FromString("metrics")))
		}
		np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: from, Ports: ports}}
	}
	return np
}

// PodDelta draws a pod change as Deployments make them: a replica added
// or removed, a rolling update relabelling one pod's version, or a new
// Deployment's first pod. It keeps Cluster current.
func (l *Large) PodDelta() netpol.Delta {
	r := l.r
	switch k := r.IntN(10); {
	case k < 4: // scale up
		a := &l.apps[1+r.IntN(len(l.apps)-1)]
		p := *l.addPod(a)
		return netpol.Delta{Op: netpol.Upsert, Object: &p}
	case k < 7: // scale down (one replica kept)
		for {
			a := &l.apps[1+r.IntN(len(l.apps)-1)]
			if len(a.podNames) < 2 {
				continue
			}
			name := a.podNames[len(a.podNames)-1]
			a.podNames = a.podNames[:len(a.podNames)-1]
			i := l.podIdx[a.ns+"/"+name]
			p := l.Pods[i]
			l.removePod(i)
			return netpol.Delta{Op: netpol.Delete, Object: &p}
		}
	case k < 9: // rolling update: one pod gets the next version
		i := r.IntN(len(l.Pods))
		p := l.Pods[i]
		if _, ok := p.Labels["version"]; !ok {
			return l.PodDelta()
		}
		labels := make(map[string]string, len(p.Labels))
		for k, v := range p.Labels {
			labels[k] = v
		}
		labels["version"] = fmt.Sprintf("v%d", 1+l.verZipf.Uint64())
		p.Labels = labels
		l.Pods[i] = p
		return netpol.Delta{Op: netpol.Upsert, Object: &p}
	default: // a new Deployment's first pod
		a := l.deployment(l.nsNames[r.IntN(len(l.nsNames))], 1)
		p := l.Pods[l.podIdx[a.ns+"/"+a.podNames[0]]]
		return netpol.Delta{Op: netpol.Upsert, Object: &p}
	}
}

func (l *Large) removePod(i int) {
	last := len(l.Pods) - 1
	delete(l.podIdx, l.Pods[i].Namespace+"/"+l.Pods[i].Name)
	if i != last {
		l.Pods[i] = l.Pods[last]
		l.podIdx[l.Pods[i].Namespace+"/"+l.Pods[i].Name] = i
	}
	l.Pods = l.Pods[:last]
}

// PolicyDelta draws a NetworkPolicy change: a new policy, one replaced by
// another of the same name, or one removed. It keeps Cluster current.
func (l *Large) PolicyDelta() netpol.Delta {
	r := l.r
	switch k := r.IntN(3); k {
	case 0:
		np := l.policy(l.nsNames[r.IntN(len(l.nsNames))])
		l.Policies = append(l.Policies, np)
		return netpol.Delta{Op: netpol.Upsert, Object: np}
	case 1:
		i := r.IntN(len(l.Policies))
		old := l.Policies[i]
		np := l.policy(old.Namespace)
		np.Name = old.Name
		l.Policies[i] = np
		return netpol.Delta{Op: netpol.Upsert, Object: np}
	default:
		i := r.IntN(len(l.Policies))
		np := l.Policies[i]
		l.Policies[i] = l.Policies[len(l.Policies)-1]
		l.Policies = l.Policies[:len(l.Policies)-1]
		return netpol.Delta{Op: netpol.Delete, Object: np}
	}
}
