package kubetest

import (
	"maps"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The harness runs no kube-controller-manager, so no controller makes the
// ReplicaSets and Pods of the workloads a test applies. These build them as
// the controllers would, for a test to create: the template's labels and
// spec, the labels the controller adds, and a controller ownerReference to
// the owner (with its UID, as the garbage collector follows it).

// ReplicaSetFor is the ReplicaSet the Deployment controller makes for d:
// named <deployment>-<hash>, with pod-template-hash added to its selector
// and template labels (k8s.io/kubernetes pkg/controller/deployment sync.go,
// getNewReplicaSet). d must be read back from the server (its UID set).
func ReplicaSetFor(d *appsv1.Deployment, hash string) *appsv1.ReplicaSet {
	tmpl := *d.Spec.Template.DeepCopy()
	tmpl.Labels = withLabel(tmpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey, hash)
	sel := d.Spec.Selector.DeepCopy()
	sel.MatchLabels = withLabel(sel.MatchLabels, appsv1.DefaultDeploymentUniqueLabelKey, hash)
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name: d.Name + "-" + hash, Namespace: d.Namespace, Labels: tmpl.Labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(d, appsv1.SchemeGroupVersion.WithKind("Deployment"))},
		},
		Spec: appsv1.ReplicaSetSpec{Replicas: d.Spec.Replicas, Selector: sel, Template: tmpl},
	}
}

// PodFor is a Pod named name that owner (of kind gvk, read back from the
// server) makes from tmpl.
func PodFor(owner metav1.Object, gvk schema.GroupVersionKind, tmpl corev1.PodTemplateSpec, name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: owner.GetNamespace(),
			Labels:          maps.Clone(tmpl.Labels),
			Annotations:     maps.Clone(tmpl.Annotations),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(owner, gvk)},
		},
		Spec: *tmpl.Spec.DeepCopy(),
	}
}

// ReplicaSetPod is a Pod of rs, named <rs>-<suffix> as the ReplicaSet
// controller's generateName makes it.
func ReplicaSetPod(rs *appsv1.ReplicaSet, suffix string) *corev1.Pod {
	return PodFor(rs, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"), rs.Spec.Template, rs.Name+"-"+suffix)
}

// StatefulSetPod is the Pod of ordinal i of s, with the identity labels the
// StatefulSet controller sets (pod-name, pod-index; k8s.io/kubernetes
// pkg/controller/statefulset stateful_set_utils.go, newStatefulSetPod).
func StatefulSetPod(s *appsv1.StatefulSet, i int) *corev1.Pod {
	name := s.Name + "-" + strconv.Itoa(i)
	p := PodFor(s, appsv1.SchemeGroupVersion.WithKind("StatefulSet"), s.Spec.Template, name)
	p.Labels = withLabel(p.Labels, appsv1.StatefulSetPodNameLabel, name)
	p.Labels[appsv1.PodIndexLabel] = strconv.Itoa(i)
	return p
}

func withLabel(l map[string]string, k, v string) map[string]string {
	out := maps.Clone(l)
	if out == nil {
		out = map[string]string{}
	}
	out[k] = v
	return out
}
