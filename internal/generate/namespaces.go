package generate

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/budnet/budnet/internal/platform"
)

// FileNamespaces holds the zones' Namespace objects; it sorts first so the
// namespaces exist before anything is created in them.
const FileNamespaces = "00-namespaces.yaml"

// defaultPodSecurity applies to zones that name no level: baseline is the
// lowest level Pod Security Standards call hardened against known privilege
// escalations (https://kubernetes.io/docs/concepts/security/pod-security-standards/).
const defaultPodSecurity = "baseline"

// Namespaces implements guide section 3.1: a Namespace per zone with the
// zone's labels and Pod Security Admission labels enforcing, auditing and
// warning at the zone's level against the latest policy version
// (https://kubernetes.io/docs/concepts/security/pod-security-admission/#pod-security-admission-labels-for-namespaces).
func Namespaces(p *platform.Platform, _ Options) ([]File, error) {
	objs := make([]*unstructured.Unstructured, 0, len(p.Spec.Zones))
	for i := range p.Spec.Zones {
		z := &p.Spec.Zones[i]
		guide := "3.1 network segmentation: " + z.Name
		if z.Purpose != "" {
			guide += " (" + z.Purpose + ")"
		}
		u := Object("v1", "Namespace", "", z.Name, ModelRow(fmt.Sprintf("spec.zones[%d]", i), z.Name), guide, nil)
		labels := u.GetLabels()
		for k, v := range z.Labels {
			labels[k] = v
		}
		level := z.PodSecurity
		if level == "" {
			level = defaultPodSecurity
		}
		for _, mode := range []string{"enforce", "audit", "warn"} {
			labels["pod-security.kubernetes.io/"+mode] = level
			labels["pod-security.kubernetes.io/"+mode+"-version"] = "latest"
		}
		labels[LabelManagedBy] = ManagedBy
		u.SetLabels(labels)
		objs = append(objs, u)
	}
	return []File{{Name: FileNamespaces, Concern: "namespaces with Pod Security Admission (guide 3.1)", Objects: objs}}, nil
}
