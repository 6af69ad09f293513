package generate_test

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/budnet/budnet/internal/generate"
)

// ciliumValidator returns the OpenAPI validator of CiliumNetworkPolicy v2
// from the CRD pinned in internal/kubetest (cilium v1.20.2), the same schema
// the API server checks custom resources against.
func ciliumValidator(t *testing.T) validation.SchemaCreateValidator {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "crds", "cilium", "ciliumnetworkpolicies.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(data, &crd); err != nil {
		t.Fatal(err)
	}
	for _, v := range crd.Spec.Versions {
		if v.Name != "v2" || v.Schema == nil {
			continue
		}
		var internal apiextensions.JSONSchemaProps
		if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, &internal, nil); err != nil {
			t.Fatal(err)
		}
		val, _, err := validation.NewSchemaValidator(&internal)
		if err != nil {
			t.Fatal(err)
		}
		return val
	}
	t.Fatal("no v2 schema in the CiliumNetworkPolicy CRD")
	return nil
}

// TestCiliumSchema validates every generated CiliumNetworkPolicy against the
// CRD's schema (field names, types, the port pattern, matchPattern's
// allowed characters).
func TestCiliumSchema(t *testing.T) {
	val := ciliumValidator(t)
	for _, tc := range roundTripCases() {
		t.Run(tc.name, func(t *testing.T) {
			files, err := generate.Generate(loadModel(t, tc.platform), generate.Options{CNI: generate.CNICilium})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, f := range files {
				for _, u := range f.Objects {
					if u.GetKind() != "CiliumNetworkPolicy" {
						continue
					}
					n++
					if errs := validation.ValidateCustomResource(field.NewPath(""), u.Object, val); len(errs) > 0 {
						t.Errorf("%s/%s: %v", u.GetNamespace(), u.GetName(), errs.ToAggregate())
					}
				}
			}
			if n == 0 {
				t.Error("no CiliumNetworkPolicy generated")
			}
		})
	}
	// The validator must be able to fail: a port that is not a number.
	bad := map[string]any{"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy", "metadata": map[string]any{"name": "x"},
		"spec": map[string]any{"endpointSelector": map[string]any{}, "egress": []any{map[string]any{
			"toPorts": []any{map[string]any{"ports": []any{map[string]any{"port": int64(443)}}}}}}}}
	if errs := validation.ValidateCustomResource(field.NewPath(""), bad, val); len(errs) == 0 {
		t.Error("the schema accepted a numeric port, which Cilium's schema types as a string")
	}
}
