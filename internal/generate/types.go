// Package generate turns the platform model into the objects that implement
// the guide: namespaces, NetworkPolicies, Dapr configuration, certificates,
// edge hardening, FQDN egress policy, alerts, multi-cluster access and cloud
// firewall rules. One file per concern; every object carries the
// managed-by label and an annotation naming the model row it came from.
package generate

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/budnet/budnet/internal/platform"
)

// Labels and annotations on every generated object.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "budnet"
	// AnnotationModelRow names the model element an object implements, e.g.
	// "spec.flows.internal[3] (system-to-postgresql)".
	AnnotationModelRow = "budnet.io/model-row"
	// AnnotationGuide cites the guide row or section, e.g.
	// "4.2 bud-system -> bud-data (PostgreSQL) 5432".
	AnnotationGuide = "budnet.io/guide"
)

// CNI selects how egress to external hosts is expressed.
type CNI string

// Supported CNIs.
const (
	CNIKubernetes CNI = "kubernetes" // plain NetworkPolicy: ipBlock egress on the flow's ports
	CNICilium     CNI = "cilium"     // CiliumNetworkPolicy toFQDNs for the allowlisted hosts
)

// Cloud selects the cloud perimeter rules.
type Cloud string

// Supported clouds; empty means none.
const (
	CloudNone  Cloud = ""
	CloudAWS   Cloud = "aws"
	CloudAzure Cloud = "azure"
)

// Options choose among the implementations generate can emit.
type Options struct {
	// Edge overrides the model's edge kind (--edge).
	Edge platform.EdgeKind
	CNI  CNI
	// Cloud overrides the model's cloud provider (--cloud).
	Cloud Cloud
	// CiliumVersion is the Cilium release the CiliumNetworkPolicies target
	// (--cilium-version); empty means DefaultCiliumVersion.
	CiliumVersion string
}

// File is one output file: Kubernetes objects (written as multi-document
// YAML) or raw content (Terraform JSON).
type File struct {
	// Name is the path relative to the output directory ("20-networkpolicies.yaml",
	// "cloud/aws.tf.json"). Names sort in apply order.
	Name string
	// Concern says what the file implements, for --dry-run summaries.
	Concern string
	// Objects are written in order; Raw is written as is when Objects is empty.
	Objects []*unstructured.Unstructured
	Raw     []byte
}

// Object builds an unstructured object with the managed-by label and the
// model-row and guide annotations set.
func Object(apiVersion, kind, namespace, name, modelRow, guide string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetName(name)
	if namespace != "" {
		u.SetNamespace(namespace)
	}
	u.SetLabels(map[string]string{LabelManagedBy: ManagedBy})
	ann := map[string]string{}
	if modelRow != "" {
		ann[AnnotationModelRow] = modelRow
	}
	if guide != "" {
		ann[AnnotationGuide] = guide
	}
	if len(ann) > 0 {
		u.SetAnnotations(ann)
	}
	for k, v := range spec {
		u.Object[k] = v
	}
	return u
}

// ModelRow renders a reference to a model element for AnnotationModelRow.
func ModelRow(path, name string) string {
	if name == "" {
		return path
	}
	return fmt.Sprintf("%s (%s)", path, name)
}

// Concern generates the files of one concern from a validated model.
type Concern func(p *platform.Platform, o Options) ([]File, error)
