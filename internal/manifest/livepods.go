package manifest

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

// LivePod is one Pod a live read listed for a workload, with what
// connectivity depends on read from the Pod itself: a Pod relabelled after
// its controller made it (kubectl label pod db-0 role=x) is selected by
// NetworkPolicies through the labels it has now, not its template's.
type LivePod struct {
	Name string
	// Labels are the Pod's own metadata.labels.
	Labels map[string]string
	// IPs are status.podIP(s).
	IPs         []string
	HostNetwork bool
	// Ports are the Pod's container ports, as Workload.Ports reads them.
	Ports []corev1.ContainerPort
}

// LiveRead says how a live read mapped Pods to workloads, so what was judged
// by a template rather than by Pods can be said.
type LiveRead struct {
	// TemplateOnly are the workloads with no running Pod listed (scaled to 0,
	// or Pods not created yet), each "ref: why": their template stands for
	// their pods.
	TemplateOnly []string
	// OwnWorkload are the owned objects whose controller reference names no
	// workload of the read (a forged reference, a kind budnet does not list,
	// an owner deleted): each is judged as its own workload, "ref: why".
	OwnWorkload []string
}

// controlledKinds are the kinds a controller makes from its template: a
// Deployment's ReplicaSets and Pods, a CronJob's Jobs, a StatefulSet's Pods.
// One whose controller is in the read is folded into it (a ReplicaSet, a
// Job), or read as one of its Pods (a Pod), so no workload counts twice.
var controlledKinds = map[string]bool{"Pod": true, "ReplicaSet": true, "Job": true}

// ownerKinds are the kinds whose controller reference makes Pods: the owners
// a controlled object is folded into. A reference to anything else (a
// ConfigMap, a Pod, a kind budnet does not list) leaves the object its own
// workload.
var ownerKinds = map[string]bool{
	"Deployment": true, "StatefulSet": true, "DaemonSet": true, "ReplicaSet": true,
	"Job": true, "CronJob": true, "ReplicationController": true,
}

// liveOwners resolves controller references among the objects of one read.
type liveOwners struct {
	byUID map[types.UID]*unstructured.Unstructured
}

func newLiveOwners(objs []*unstructured.Unstructured) liveOwners {
	o := liveOwners{byUID: make(map[types.UID]*unstructured.Unstructured, len(objs))}
	for _, u := range objs {
		if uid := u.GetUID(); uid != "" {
			o.byUID[uid] = u
		}
	}
	return o
}

// controller returns the workload of the read that u's controller reference
// names: same UID (the reference the garbage collector follows), kind, name
// and namespace. nil when u has no controller or it is not in the read.
func (o liveOwners) controller(u *unstructured.Unstructured) (*unstructured.Unstructured, *metav1.OwnerReference) {
	ref := metav1.GetControllerOf(u)
	if ref == nil {
		return nil, nil
	}
	ow := o.byUID[ref.UID]
	if ow == nil || !ownerKinds[ow.GetKind()] || ow.GetKind() != ref.Kind || ow.GetName() != ref.Name || ow.GetNamespace() != u.GetNamespace() {
		return nil, ref
	}
	return ow, ref
}

// top follows controller references from a controlled object to the workload
// reach names its Pods by: a Pod's ReplicaSet to the Deployment that owns
// it, a Job to its CronJob. The depth bound stops a reference cycle.
func (o liveOwners) top(u *unstructured.Unstructured) *unstructured.Unstructured {
	cur, _ := o.controller(u)
	for range 4 {
		if cur == nil || !controlledKinds[cur.GetKind()] {
			return cur
		}
		next, _ := o.controller(cur)
		if next == nil {
			return cur
		}
		cur = next
	}
	return cur
}

// livePods is what the read's controlled objects became before decoding.
type livePods struct {
	// byOwner are the Pods of each workload, by "Kind/ns/name".
	byOwner map[string][]LivePod
	// own are the controlled objects kept as their own workloads, by the
	// same key, with why.
	own map[string]string
}

func ownerKey(kind, ns, name string) string { return kind + "/" + ns + "/" + name }

// foldControlled splits objs into the objects to decode and the Pods each
// workload runs. A controlled object whose controller is in the read is not
// decoded: a Pod becomes a LivePod of its top owner (unless it has finished:
// a Succeeded or Failed Pod runs nothing), a ReplicaSet or Job is its
// owner's. One whose controller is not in the read is decoded as its own
// workload and named in own.
func foldControlled(objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, livePods, []Warning) {
	owners := newLiveOwners(objs)
	lp := livePods{byOwner: map[string][]LivePod{}, own: map[string]string{}}
	var warnings []Warning
	keep := make([]*unstructured.Unstructured, 0, len(objs))
	for _, u := range objs {
		if !controlledKinds[u.GetKind()] {
			keep = append(keep, u)
			continue
		}
		ow, ref := owners.controller(u)
		switch {
		case ref == nil:
			keep = append(keep, u)
			continue
		case ow == nil:
			keep = append(keep, u)
			if ref.Kind != "Node" { // a static pod's mirror: the kubelet's own, not forged
				lp.own[ownerKey(u.GetKind(), u.GetNamespace(), u.GetName())] = fmt.Sprintf("controller %s/%s (uid %s) is not a workload of the read", ref.Kind, ref.Name, ref.UID)
			}
			continue
		case u.GetKind() != "Pod":
			continue // folded into its owner, whose template it copies
		}
		pod, err := livePodOf(u)
		if err != nil {
			warnings = append(warnings, Warning{Source: Source{File: ClusterSource},
				Msg: fmt.Sprintf("Pod/%s/%s skipped: %v", u.GetNamespace(), u.GetName(), err)})
			continue
		}
		if pod == nil {
			continue
		}
		t := owners.top(u)
		k := ownerKey(t.GetKind(), t.GetNamespace(), t.GetName())
		lp.byOwner[k] = append(lp.byOwner[k], *pod)
	}
	return keep, lp, warnings
}

// livePodOf reads what connectivity needs from a live Pod; nil for a Pod
// that has finished.
func livePodOf(u *unstructured.Unstructured) (*LivePod, error) {
	var pod corev1.Pod
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(podFields(u.Object), &pod); err != nil {
		return nil, fmt.Errorf("cannot decode: %w", err)
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return nil, nil
	}
	// The same port reading as a template's (sidecars in, init containers out).
	w := Workload{
		InitContainers: containers(pod.Spec.InitContainers, "spec.initContainers", true),
		Containers:     containers(pod.Spec.Containers, "spec.containers", false),
	}
	labels := maps.Clone(pod.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	return &LivePod{Name: pod.Name, Labels: labels, IPs: podIPs(pod.Status),
		HostNetwork: pod.Spec.HostNetwork, Ports: w.Ports()}, nil
}

// attach gives each workload of inv its live Pods and records what was
// judged otherwise in inv.Live.
func (lp livePods) attach(inv *Inventory) {
	live := &LiveRead{}
	seen := map[string]bool{}
	for _, w := range inv.Workloads {
		k := ownerKey(w.Kind, w.Namespace, w.Name)
		if why, ok := lp.own[k]; ok {
			// Named as itself: reach reads a Pod's Owner as its workload.
			w.Owner = nil
			live.OwnWorkload = append(live.OwnWorkload, w.Ref()+": "+why)
		}
		pods := lp.byOwner[k]
		seen[k] = true
		if len(pods) == 0 {
			if w.Kind != "Pod" {
				live.TemplateOnly = append(live.TemplateOnly, w.Ref()+": "+noPodWhy(w))
			}
			continue
		}
		slices.SortFunc(pods, func(a, b LivePod) int { return strings.Compare(a.Name, b.Name) })
		w.LivePods = pods
	}
	for k, pods := range lp.byOwner {
		if !seen[k] {
			// The owner was listed but did not decode (skipped with a warning).
			inv.Warnings = append(inv.Warnings, Warning{Source: Source{File: ClusterSource},
				Msg: fmt.Sprintf("%d Pods of %s not judged: their owner was skipped", len(pods), k)})
		}
	}
	for _, s := range live.OwnWorkload {
		inv.Warnings = append(inv.Warnings, Warning{Source: Source{File: ClusterSource}, Msg: "judged as its own workload: " + s})
	}
	slices.Sort(live.TemplateOnly)
	slices.Sort(live.OwnWorkload)
	inv.Live = live
}

// noPodWhy says why a workload with no live Pod is read from its template.
func noPodWhy(w *Workload) string {
	if w.Replicas != nil && *w.Replicas == 0 {
		return "scaled to 0, no Pod listed: judged by its template"
	}
	return "no running Pod listed: judged by its template"
}

// podFields keeps the fields of a Pod that livePodOf reads: the converter
// then walks neither volumes nor status conditions nor container statuses,
// which are most of a running Pod.
func podFields(obj map[string]any) map[string]any {
	pick := func(from any, keys ...string) map[string]any {
		m, _ := from.(map[string]any)
		out := make(map[string]any, len(keys))
		for _, k := range keys {
			if v, ok := m[k]; ok {
				out[k] = v
			}
		}
		return out
	}
	return map[string]any{
		"metadata": pick(obj["metadata"], "name", "namespace", "labels"),
		"spec":     pick(obj["spec"], "hostNetwork", "containers", "initContainers"),
		"status":   pick(obj["status"], "phase", "podIP", "podIPs"),
	}
}
