package kubetest

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// The CRDs are embedded so packages anywhere in the module can start an Env
// without knowing where this directory is relative to their working directory.
//
//go:embed crds
var crdFiles embed.FS

// Projects lists the directories of crds/, one per upstream project, sorted.
func Projects() []string {
	entries, err := crdFiles.ReadDir("crds")
	if err != nil {
		// The directory is embedded at build time, so it always exists.
		return nil
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names
}

// CRDs decodes the pinned CRDs of the given projects (all when none are
// given). Every document must be an apiextensions.k8s.io/v1
// CustomResourceDefinition.
func CRDs(projects ...string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	known := Projects()
	if len(projects) == 0 {
		projects = known
	}
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, p := range projects {
		if !slices.Contains(known, p) {
			return nil, fmt.Errorf("unknown CRD project %q (have %s)", p, strings.Join(known, ", "))
		}
		crds, err := projectCRDs(p)
		if err != nil {
			return nil, err
		}
		out = append(out, crds...)
	}
	return out, nil
}

func projectCRDs(project string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	dir := path.Join("crds", project)
	entries, err := fs.ReadDir(crdFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("read CRD directory %s: %w", dir, err)
	}
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			continue
		}
		file := path.Join(dir, name)
		data, err := crdFiles.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", file, err)
		}
		crds, err := decodeCRDs(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		out = append(out, crds...)
	}
	return out, nil
}

// decodeCRDs reads a stream of YAML documents, skipping empty ones.
func decodeCRDs(data []byte) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*apiextensionsv1.CustomResourceDefinition
	for i := 1; ; i++ {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		err := dec.Decode(crd)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if crd.APIVersion == "" && crd.Kind == "" && crd.Name == "" {
			continue
		}
		if crd.APIVersion != apiextensionsv1.SchemeGroupVersion.String() || crd.Kind != "CustomResourceDefinition" {
			return nil, fmt.Errorf("document %d (%s): is %s %s, want an %s CustomResourceDefinition",
				i, crd.Name, crd.APIVersion, crd.Kind, apiextensionsv1.SchemeGroupVersion)
		}
		out = append(out, crd)
	}
}
