package netpoltest

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/budnet/budnet/internal/netpol"
)

// ManifestCase is a set of manifests as a user writes them (workload
// objects, not pods) together with the pods the cluster runs for them.
type ManifestCase struct {
	// YAML is the multi-document manifest file.
	YAML []byte
	// Truth are the pods the controllers and the kubelet create from the
	// manifests, with the labels they add; each pod's Workload is the name
	// docs/reach.md says reach reports it under. HostNetwork is as written;
	// IPs only where the manifest carries status.podIP.
	Truth netpol.Cluster
	// Objects are, per Truth pod, the manifest object it comes from
	// ("ns/name"), which is what reach's explanation names a pod by when
	// it does not expand the object into pods.
	Objects []string
}

// Nodes are the nodes pods of a ManifestCase run on: a DaemonSet runs a pod
// on each, and static pods are named after theirs.
var Nodes = []string{"node-a", "node-b"}

// RandomManifests builds a ManifestCase: 2-4 namespaces with random labels,
// 2-7 workloads of every kind reach reads pods from (Deployments,
// StatefulSets, DaemonSets, bare Pods, static pods mirrored with a Node
// owner, and pods of a StatefulSet listed without it, as a live cluster
// shows them), named container ports, and 1-5 NetworkPolicies from the
// RandomCluster generator, some of which select a single StatefulSet pod by
// the label its controller adds.
//
// The labels the controllers add are those of Kubernetes 1.28 and later
// (k8s.io/api apps/v1 types.go): a Deployment's pods get pod-template-hash;
// a StatefulSet's pods get statefulset.kubernetes.io/pod-name, and
// apps.kubernetes.io/pod-index (the PodIndexLabel feature, on by default
// since 1.28) and controller-revision-hash; a DaemonSet's pods get
// controller-revision-hash and pod-template-generation.
func RandomManifests(r *rand.Rand, opts RandomOptions) ManifestCase {
	g := &mgen{rgen: rgen{r: r, opts: opts}}
	nNS := 2 + r.IntN(3)
	for _, name := range nsPool[:nNS] {
		l := g.labels()
		// The API server sets this label; users rarely write it.
		if r.IntN(2) == 0 {
			l["kubernetes.io/metadata.name"] = name
		}
		g.objs = append(g.objs, &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l}})
		all := maps.Clone(l)
		all["kubernetes.io/metadata.name"] = name
		g.c.Truth.Namespaces = append(g.c.Truth.Namespaces, netpol.Namespace{Name: name, Labels: all})
	}
	for range 2 + r.IntN(6) {
		g.workload(nsPool[r.IntN(nNS)])
	}
	for i := range 1 + r.IntN(5) {
		ns := nsPool[r.IntN(nNS)]
		np := g.policy(ns, fmt.Sprintf("np%d", i))
		if len(g.sts) > 0 && r.IntN(3) == 0 {
			g.perPod(np)
		}
		np.APIVersion, np.Kind = "networking.k8s.io/v1", "NetworkPolicy"
		g.objs = append(g.objs, np)
		g.c.Truth.Policies = append(g.c.Truth.Policies, np)
	}
	var buf bytes.Buffer
	for _, o := range g.objs {
		b, err := yaml.Marshal(o)
		if err != nil {
			panic(fmt.Sprintf("netpoltest: encoding a generated object: %v", err)) // generated objects always encode
		}
		buf.WriteString("---\n")
		buf.Write(b)
	}
	g.c.YAML = buf.Bytes()
	return g.c
}

type mgen struct {
	rgen
	c    ManifestCase
	objs []any
	sts  []string // "ns/name-ordinal" of each StatefulSet pod
	n    int
}

// workload adds one workload object (or pods) and the pods it runs.
func (g *mgen) workload(ns string) {
	g.n++
	name := fmt.Sprintf("w%d", g.n)
	labels, ports := g.labels(), g.ports()
	hostNet := g.opts.HostNetwork && g.r.IntN(8) == 0
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec(ports, hostNet)}
	meta := metav1.ObjectMeta{Namespace: ns, Name: name}
	replicas := int32(1 + g.r.IntN(3))
	switch g.r.IntN(6) {
	case 0, 1:
		g.objs = append(g.objs, &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: meta,
			Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl}})
		for i := range replicas {
			g.pod(ns, fmt.Sprintf("%s-5d8f9c-%d", name, i), with(labels, appsv1.DefaultDeploymentUniqueLabelKey, "5d8f9c"), ports, hostNet,
				ns+"/"+name+"[Deployment]", ns+"/"+name)
		}
	case 2:
		g.objs = append(g.objs, &appsv1.StatefulSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"}, ObjectMeta: meta,
			Spec: appsv1.StatefulSetSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl, ServiceName: name}})
		for i := range int(replicas) {
			g.statefulPod(ns, name, i, labels, ports, hostNet, ns+"/"+name)
		}
	case 3:
		g.objs = append(g.objs, &appsv1.DaemonSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"}, ObjectMeta: meta,
			Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl}})
		for i := range Nodes {
			l := with(with(labels, appsv1.ControllerRevisionHashLabelKey, "7c9d"), "pod-template-generation", "1") // DaemonSet controller (k8s.io/kubernetes pkg/apis/apps DaemonSetTemplateGenerationKey)
			g.pod(ns, fmt.Sprintf("%s-x%d", name, i), l, ports, hostNet, ns+"/"+name+"[DaemonSet]", ns+"/"+name)
		}
	case 4:
		// A static pod's mirror: the kubelet names it <name>-<node> and
		// makes the Node its controller owner.
		node := Nodes[g.r.IntN(len(Nodes))]
		pod := podManifest(ns, name+"-"+node, labels, ports, hostNet)
		pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node, UID: "node-uid", Controller: ptr(true)}}
		g.objs = append(g.objs, pod)
		g.pod(ns, pod.Name, labels, ports, hostNet, ns+"/"+pod.Name+"[Pod]", ns+"/"+pod.Name)
	default:
		if g.r.IntN(2) == 0 {
			pod := podManifest(ns, name, labels, ports, hostNet)
			ip := g.podIP(g.n)
			pod.Status.PodIP, pod.Status.PodIPs = ip.String(), []corev1.PodIP{{IP: ip.String()}}
			g.objs = append(g.objs, pod)
			g.pod(ns, name, labels, ports, hostNet, ns+"/"+name+"[Pod]", ns+"/"+name)
			g.c.Truth.Pods[len(g.c.Truth.Pods)-1].IPs = []netip.Addr{ip}
			return
		}
		// The pods of a StatefulSet as a live cluster lists them, without
		// the StatefulSet: each carries its per-pod labels.
		for i := range int(replicas) {
			pod := podManifest(ns, fmt.Sprintf("%s-%d", name, i), statefulLabels(labels, name, i), ports, hostNet)
			pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: name, UID: "sts-uid", Controller: ptr(true)}}
			g.objs = append(g.objs, pod)
			g.statefulPod(ns, name, i, labels, ports, hostNet, ns+"/"+pod.Name)
		}
	}
}

// statefulPod adds the truth of StatefulSet name's pod i.
func (g *mgen) statefulPod(ns, name string, i int, labels map[string]string, ports []netpol.ContainerPort, hostNet bool, object string) {
	pod := fmt.Sprintf("%s-%d", name, i)
	g.pod(ns, pod, statefulLabels(labels, name, i), ports, hostNet, ns+"/"+name+"[StatefulSet]", object)
	g.sts = append(g.sts, ns+"/"+pod)
}

func statefulLabels(labels map[string]string, name string, i int) map[string]string {
	l := with(labels, appsv1.StatefulSetPodNameLabel, fmt.Sprintf("%s-%d", name, i))
	l = with(l, appsv1.PodIndexLabel, strconv.Itoa(i))
	return with(l, appsv1.ControllerRevisionHashLabelKey, name+"-6b7d")
}

func (g *mgen) pod(ns, name string, labels map[string]string, ports []netpol.ContainerPort, hostNet bool, workload, object string) {
	g.c.Truth.Pods = append(g.c.Truth.Pods, netpol.Pod{Namespace: ns, Name: name, Workload: workload, Labels: labels, Ports: ports, HostNetwork: hostNet})
	g.c.Objects = append(g.c.Objects, object)
}

// perPod makes np select, or admit, one StatefulSet pod by its pod-name
// label, as users pin a primary.
func (g *mgen) perPod(np *networkingv1.NetworkPolicy) {
	ns, pod := splitRef(g.sts[g.r.IntN(len(g.sts))])
	sel := metav1.LabelSelector{MatchLabels: map[string]string{appsv1.StatefulSetPodNameLabel: pod}}
	if g.r.IntN(2) == 0 {
		np.Namespace, np.Spec.PodSelector = ns, sel
		return
	}
	peer := networkingv1.NetworkPolicyPeer{PodSelector: &sel,
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}}}
	np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: []networkingv1.NetworkPolicyPeer{peer}, Ports: g.policyPorts()})
	np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{peer}, Ports: g.policyPorts()})
}

func splitRef(ref string) (ns, name string) {
	for i := range ref {
		if ref[i] == '/' {
			return ref[:i], ref[i+1:]
		}
	}
	return "", ref
}

func with(l map[string]string, k, v string) map[string]string {
	out := maps.Clone(l)
	out[k] = v
	return out
}

func podSpec(ports []netpol.ContainerPort, hostNet bool) corev1.PodSpec {
	c := corev1.Container{Name: "main", Image: "registry.example/app:1"}
	for _, cp := range ports {
		c.Ports = append(c.Ports, corev1.ContainerPort{Name: cp.Name, ContainerPort: cp.Port, Protocol: cp.Protocol})
	}
	return corev1.PodSpec{Containers: []corev1.Container{c}, HostNetwork: hostNet}
}

func podManifest(ns, name string, labels map[string]string, ports []netpol.ContainerPort, hostNet bool) *corev1.Pod {
	return &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}, Spec: podSpec(ports, hostNet)}
}
