package reach

import (
	"maps"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/budnet/budnet/internal/manifest"
)

// podOf is one engine pod that stands for pods of a manifest workload.
type podOf struct {
	name        string
	labels      map[string]string
	ips         []string
	hostNetwork bool
	ports       []corev1.ContainerPort
}

// podsOf are the engine pods a manifest workload stands for. The pods of a
// template are alike, so one engine pod stands for them all, except a
// StatefulSet's: its controller gives each pod its own labels, the pod's
// name (statefulset.kubernetes.io/pod-name) and ordinal
// (apps.kubernetes.io/pod-index, the PodIndexLabel feature, on by default
// since Kubernetes 1.28), and a policy that selects one pod by them (a
// primary) must see that pod, as the cluster does. Each StatefulSet pod is
// then an engine pod of its own, named as the controller names it
// (<name>-<ordinal>; k8s.io/kubernetes pkg/controller/statefulset
// stateful_set_utils.go, initIdentity/updateIdentity).
//
// A live read's workload with running Pods (w.LivePods) stands for exactly
// those: each Pod is an engine pod with its own labels, addresses and ports,
// so a Pod relabelled after its controller made it is selected as the
// cluster selects it, and the matrix says partial when the Pods of one
// workload differ, as for a StatefulSet's per-pod labels.
func podsOf(w *manifest.Workload) []podOf {
	if len(w.LivePods) > 0 {
		out := make([]podOf, 0, len(w.LivePods))
		for _, p := range w.LivePods {
			out = append(out, podOf{name: p.Name, labels: p.Labels, ips: p.IPs, hostNetwork: p.HostNetwork, ports: p.Ports})
		}
		return out
	}
	tmpl := podOf{name: w.Name, labels: w.Labels, ips: w.PodIPs, hostNetwork: w.HostNetwork, ports: w.Ports()}
	if w.Kind != "StatefulSet" || w.Replicas == nil || *w.Replicas < 1 {
		return []podOf{tmpl}
	}
	out := make([]podOf, 0, *w.Replicas)
	for i := range int(*w.Replicas) {
		p := tmpl
		p.name = w.Name + "-" + strconv.Itoa(i)
		p.labels = maps.Clone(w.Labels)
		if p.labels == nil {
			p.labels = map[string]string{}
		}
		p.labels[appsv1.StatefulSetPodNameLabel] = p.name
		p.labels[appsv1.PodIndexLabel] = strconv.Itoa(i)
		out = append(out, p)
	}
	return out
}
