package reach

import (
	"maps"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/budnet/budnet/internal/manifest"
)

// podOf is one engine pod that stands for pods of a manifest workload.
type podOf struct {
	name   string
	labels map[string]string
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
func podsOf(w *manifest.Workload) []podOf {
	if w.Kind != "StatefulSet" || w.Replicas == nil || *w.Replicas < 1 {
		return []podOf{{name: w.Name, labels: w.Labels}}
	}
	out := make([]podOf, 0, *w.Replicas)
	for i := range int(*w.Replicas) {
		name := w.Name + "-" + strconv.Itoa(i)
		l := maps.Clone(w.Labels)
		if l == nil {
			l = map[string]string{}
		}
		l[appsv1.StatefulSetPodNameLabel] = name
		l[appsv1.PodIndexLabel] = strconv.Itoa(i)
		out = append(out, podOf{name: name, labels: l})
	}
	return out
}
