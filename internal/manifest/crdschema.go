package manifest

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apimachinery/pkg/runtime/schema"
	sigsyaml "sigs.k8s.io/yaml"

	"budnet/internal/diag"
	"budnet/internal/yamlsrc"
)

// Custom resources of the kinds whose CRDs are embedded are checked for
// unknown fields the way the API server checks them: its structural pruning
// (k8s.io/apiextensions-apiserver pkg/apiserver/schema/pruning) over the
// CRD's own schema, so a Dapr Configuration with "mtls: {enable: false}" is
// not read as mTLS left at its default. Values are not validated against the
// schema (types, enums): that stays with the API server.

//go:embed crds/*/*.yaml
var embeddedCRDs embed.FS

// crdSchemas maps each served version of the embedded CRDs to its structural
// schema. Built once from embedded, immutable data: like encoding/json's type
// cache it holds facts, not state.
var crdSchemas = sync.OnceValues(func() (map[schema.GroupVersionKind]*structuralschema.Structural, error) {
	out := map[schema.GroupVersionKind]*structuralschema.Structural{}
	err := fs.WalkDir(embeddedCRDs, "crds", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".yaml" {
			return err
		}
		data, err := embeddedCRDs.ReadFile(p)
		if err != nil {
			return err
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := sigsyaml.UnmarshalStrict(data, &crd); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		for _, v := range crd.Spec.Versions {
			if !v.Served || v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				continue
			}
			var internal apiextensions.JSONSchemaProps
			if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, &internal, nil); err != nil {
				return fmt.Errorf("%s %s: %w", p, v.Name, err)
			}
			s, err := structuralschema.NewStructural(&internal)
			if err != nil {
				return fmt.Errorf("%s %s: %w", p, v.Name, err)
			}
			out[schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}] = s
		}
		return nil
	})
	return out, err
})

// pruneCustomResource removes the fields the CRD's schema does not declare
// from content, as the API server stores the object, and reports each to
// onUnknown with its line and field path.
func pruneCustomResource(it item, apiVersion, kind string, content map[string]any, onUnknown func(*diag.InputError)) error {
	schemas, err := crdSchemas()
	if err != nil {
		return fmt.Errorf("embedded CRD schemas: %w", err)
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil
	}
	s := schemas[gv.WithKind(kind)]
	if s == nil {
		return nil
	}
	// isResourceRoot: apiVersion, kind and metadata are the API server's,
	// checked with the typed ObjectMeta.
	unknown := pruning.PruneWithOptions(content, s, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: onUnknown != nil})
	for _, p := range unknown {
		field := join(it.prefix, p)
		name := p[strings.LastIndexAny(p, ".]")+1:]
		onUnknown(diag.Errorf(it.doc.File, yamlsrc.LineOf(it.node, p), field, "unknown field %q", name))
	}
	return nil
}
