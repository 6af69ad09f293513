package manifest

import (
	"fmt"
	"strings"
	"sync"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/budnet/budnet/internal/crds"
	"github.com/budnet/budnet/internal/diag"
	"github.com/budnet/budnet/internal/yamlsrc"
)

// Custom resources of the kinds whose CRDs are embedded are checked for
// unknown fields the way the API server checks them: its structural pruning
// (k8s.io/apiextensions-apiserver pkg/apiserver/schema/pruning) over the
// CRD's own schema, so a Dapr Configuration with "mtls: {enable: false}" is
// not read as mTLS left at its default. Values are not validated against the
// schema (types, enums): that stays with the API server.

// crdSchemas maps each project of internal/crds to the structural schemas
// of its CRDs' served versions, decoded on first use (a project's CRDs cost
// tens of milliseconds; all of them together 0.4 s and 80 MB): an input with
// only Dapr resources never decodes the Gateway API's. Immutable facts once
// built, like encoding/json's type cache.
var crdSchemas = func() map[string]func() (map[schema.GroupVersionKind]*structuralschema.Structural, error) {
	out := map[string]func() (map[schema.GroupVersionKind]*structuralschema.Structural, error){}
	for _, p := range crds.Projects() {
		out[p] = sync.OnceValues(func() (map[schema.GroupVersionKind]*structuralschema.Structural, error) { return projectSchemas(p) })
	}
	return out
}()

// projectSchemas decodes one project's CRDs into structural schemas.
func projectSchemas(project string) (map[schema.GroupVersionKind]*structuralschema.Structural, error) {
	defs, err := crds.Decode(project)
	if err != nil {
		return nil, err
	}
	out := map[schema.GroupVersionKind]*structuralschema.Structural{}
	for _, crd := range defs {
		for _, v := range crd.Spec.Versions {
			if !v.Served || v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				continue
			}
			var internal apiextensions.JSONSchemaProps
			if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, &internal, nil); err != nil {
				return nil, fmt.Errorf("CRD %s %s: %w", crd.Name, v.Name, err)
			}
			s, err := structuralschema.NewStructural(&internal)
			if err != nil {
				return nil, fmt.Errorf("CRD %s %s: %w", crd.Name, v.Name, err)
			}
			out[schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}] = s
		}
	}
	return out, nil
}

// pruneCustomResource removes the fields the CRD's schema does not declare
// from content, as the API server stores the object, and reports each to
// onUnknown with its line and field path.
func pruneCustomResource(it item, apiVersion, kind string, content map[string]any, onUnknown func(*diag.InputError)) error {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil
	}
	load := crdSchemas[crds.ProjectOf(gv.Group)]
	if load == nil {
		return nil
	}
	schemas, err := load()
	if err != nil {
		return fmt.Errorf("embedded CRD schemas: %w", err)
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
