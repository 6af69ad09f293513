package manifest

import (
	"fmt"
	"strconv"

	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/budnet/budnet/internal/yamlsrc"
)

// Source says where an object came from, so every finding can cite file:line.
type Source struct {
	File string
	// Line is the first line of the object: its document, or its entry in a List.
	Line int
	// Template is the Helm template that rendered the object; empty for plain files.
	Template string
	// Index is the position of the document in its file, from 0.
	Index int
	// Item is the object's position in the items of a List document, from 0;
	// -1 when the document is the object itself.
	Item int
}

// String renders the source as "file:line", the form editors jump to.
func (s Source) String() string {
	name := s.File
	if s.Template != "" {
		name = s.Template
	}
	if s.Line > 0 {
		return name + ":" + strconv.Itoa(s.Line)
	}
	return name
}

// ObjectKey identifies an object the way the API server does: two objects
// with the same key are the same object, whatever their version.
type ObjectKey struct {
	Group, Kind, Namespace, Name string
}

func (k ObjectKey) String() string {
	kind := k.Kind
	if k.Group != "" {
		kind += "." + k.Group
	}
	if k.Namespace == "" {
		return kind + "/" + k.Name
	}
	return kind + " " + k.Namespace + "/" + k.Name
}

// Object is one Kubernetes object as loaded. Every object, typed or not, is
// kept here with its YAML node for later checks.
type Object struct {
	APIVersion string
	Kind       string
	// Namespace is the effective namespace: as written, or defaulted (see
	// NamespaceDefaulted); empty for cluster-scoped kinds.
	Namespace string
	Name      string
	// NamespaceDefaulted is true when the manifest named no namespace and the
	// loader applied Options.DefaultNamespace (or "default"), as kubectl does.
	NamespaceDefaulted bool
	Source             Source
	// Node is the object's mapping node; yamlsrc.LineOf(Node, path) gives the
	// line of any field.
	Node *yaml.Node
	// Unstructured holds the object's content, with the effective namespace set.
	Unstructured *unstructured.Unstructured

	typed any // the typed decode of kinds budnet understands
}

// Key is the identity used to detect duplicates.
func (o *Object) Key() ObjectKey {
	return ObjectKey{Group: groupOf(o.APIVersion), Kind: o.Kind, Namespace: o.Namespace, Name: o.Name}
}

// Ref renders the object as "namespace/name[Kind]" (or "name[Kind]" when
// cluster-scoped), the naming the reports use.
func (o *Object) Ref() string {
	if o.Namespace == "" {
		return o.Name + "[" + o.Kind + "]"
	}
	return o.Namespace + "/" + o.Name + "[" + o.Kind + "]"
}

// LineOf returns the line of the field at path inside the object
// ("spec.template.spec.containers[0].env[2].value"), or the nearest existing
// parent's line.
func (o *Object) LineOf(path string) int {
	if o.Node == nil {
		return o.Source.Line
	}
	return yamlsrc.LineOf(o.Node, path)
}

// At renders "file:line" for the field at path, for evidence in findings.
func (o *Object) At(path string) string {
	s := o.Source
	s.Line = o.LineOf(path)
	return s.String()
}

// Inference records something the cluster will add that the manifest does not
// say, so a reader can tell written facts from inferred ones.
type Inference struct {
	// Field is what was added, as a field path ("metadata.labels[dapr.io/app-id]").
	Field string
	// Value is the added value.
	Value string
	// Reason says who adds it and why, with the upstream source.
	Reason string
}

func (i Inference) String() string {
	return fmt.Sprintf("%s=%q (inferred: %s)", i.Field, i.Value, i.Reason)
}

// Namespace is a namespace of the inventory, declared or only referenced.
type Namespace struct {
	Name string
	// Labels include the automatic kubernetes.io/metadata.name label.
	Labels      map[string]string
	Annotations map[string]string
	// Implicit is true when objects live in the namespace but no Namespace
	// object declares it.
	Implicit bool
	// Object is the declaring object; nil when Implicit.
	Object   *Object
	Inferred []Inference
}

// Container is one container of a pod template, with its protocol defaults applied.
type Container struct {
	Name  string
	Image string
	// Ports have Protocol set (TCP when the manifest omits it, as the API server defaults it).
	Ports   []corev1.ContainerPort
	Env     []corev1.EnvVar
	EnvFrom []corev1.EnvFromSource
	// Init is true for init containers (including native sidecars).
	Init bool
	// Sidecar is true for an init container with restartPolicy Always (a
	// native sidecar): it runs beside the app containers, and its ports count.
	Sidecar bool
	// Path is the field path of the container in its object
	// ("spec.template.spec.containers[1]"); empty for inferred containers.
	Path string
	// Inferred is true for containers admission adds (the Dapr sidecar).
	Inferred bool
}

// OwnerRef names the controller that owns a Pod.
type OwnerRef struct {
	APIVersion, Kind, Name string
}

// Workload is anything that runs pods: a Pod or a controller's pod template.
type Workload struct {
	Object    *Object
	Kind      string
	Namespace string
	Name      string
	// Labels are the pod labels: the template's, plus inferred ones (see Inferred).
	Labels map[string]string
	// Annotations are the pod template's annotations.
	Annotations map[string]string
	// Selector is the controller's pod selector; nil for Pods.
	Selector       *metav1.LabelSelector
	Containers     []Container // regular containers, then inferred ones
	InitContainers []Container
	HostNetwork    bool
	ServiceAccount string
	// Replicas is the desired pod count: spec.replicas (default 1) for
	// Deployments, StatefulSets, ReplicaSets and ReplicationControllers,
	// parallelism for Jobs and CronJobs, 1 for Pods, nil for DaemonSets
	// (one per node).
	Replicas *int32
	// Owner is the controller owner of a Pod (ownerReferences with controller: true).
	Owner *OwnerRef
	// PodIPs are status.podIP(s) of a Pod, when the manifest carries them.
	PodIPs []string
	// PodSpec is the typed pod spec as written (without inferred additions).
	PodSpec *corev1.PodSpec
	// PodSpecPath is the field path of the pod spec ("spec.template.spec").
	PodSpecPath string
	// Dapr is set when the Dapr sidecar injector will inject this pod.
	Dapr *DaprSidecar
	// Inferred lists what admission adds to the pods (labels, containers).
	Inferred []Inference
	// LivePods are the running Pods a live read listed for this workload,
	// sorted by name: what a relabel changed is in their labels, not in the
	// template's. Nil for manifests and for a live workload with no running
	// Pod, whose template then stands for its pods (Inventory.Live says so).
	LivePods []LivePod
}

// Ref renders the workload as "namespace/name[Kind]".
func (w *Workload) Ref() string { return w.Namespace + "/" + w.Name + "[" + w.Kind + "]" }

// Ports returns the ports of the containers that run beside the app: regular
// containers (inferred ones included) and native sidecars, the set Kubernetes
// resolves named ports against (FindPort in k8s.io/kubernetes pkg/api/v1/pod).
// Ports of ordinary init containers, which exit before the app starts, are left out.
func (w *Workload) Ports() []corev1.ContainerPort {
	var out []corev1.ContainerPort
	for _, c := range w.InitContainers {
		if c.Sidecar {
			out = append(out, c.Ports...)
		}
	}
	for _, c := range w.Containers {
		out = append(out, c.Ports...)
	}
	return out
}

// Service is a core/v1 Service with defaults applied.
type Service struct {
	Object    *Object
	Namespace string
	Name      string
	// Type defaults to ClusterIP.
	Type     corev1.ServiceType
	Selector map[string]string
	// Ports have Protocol defaulted to TCP and TargetPort defaulted to Port, as
	// the API server does.
	Ports                    []corev1.ServicePort
	LoadBalancerSourceRanges []string
	Spec                     *corev1.ServiceSpec
}

// NetworkPolicy is a networking.k8s.io/v1 NetworkPolicy whose Namespace is
// the effective one; other fields are as written (no defaulting).
type NetworkPolicy struct {
	Object *Object
	Policy *networkingv1.NetworkPolicy
}

// Warning is a problem that does not stop the analysis, such as a duplicate object.
type Warning struct {
	Source Source
	// Other is the second source involved (the earlier duplicate), if any.
	Other *Source
	Msg   string
}

func (w Warning) String() string {
	if w.Other != nil {
		return fmt.Sprintf("%s: %s (also at %s)", w.Source, w.Msg, w.Other)
	}
	return fmt.Sprintf("%s: %s", w.Source, w.Msg)
}

// Inventory is the set of objects budnet judges, typed where budnet
// understands them. Slices are in load order (files in argument order,
// directory entries sorted, documents in file order), after duplicates are resolved.
type Inventory struct {
	// Objects holds every object, typed kinds included.
	Objects []*Object
	// Namespaces are sorted by name.
	Namespaces      []*Namespace
	Workloads       []*Workload
	Services        []*Service
	NetworkPolicies []*NetworkPolicy
	Warnings        []Warning
	// Live says how a live read mapped Pods to workloads; nil for files.
	Live *LiveRead
}

// Namespace returns the namespace called name, or nil.
func (inv *Inventory) Namespace(name string) *Namespace {
	for _, ns := range inv.Namespaces {
		if ns.Name == name {
			return ns
		}
	}
	return nil
}

// Workload returns the workload of the given kind, namespace and name, or nil.
func (inv *Inventory) Workload(kind, namespace, name string) *Workload {
	for _, w := range inv.Workloads {
		if w.Kind == kind && w.Namespace == namespace && w.Name == name {
			return w
		}
	}
	return nil
}

// ObjectsOfKind returns the objects of a kind (any group), in load order.
func (inv *Inventory) ObjectsOfKind(kind string) []*Object {
	var out []*Object
	for _, o := range inv.Objects {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}
