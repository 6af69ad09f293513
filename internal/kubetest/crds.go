package kubetest

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/budnet/budnet/internal/crds"
)

// Projects lists the CRD projects an Env can install (internal/crds), sorted.
func Projects() []string { return crds.Projects() }

// CRDs decodes the pinned CRDs of the given projects (all when none are
// given); see crds.Decode.
func CRDs(projects ...string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	return crds.Decode(projects...)
}
