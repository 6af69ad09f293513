// Package crds holds the CustomResourceDefinitions of the projects budnet
// generates and reads objects for, copied unchanged from their Go modules by
// hack/update-crds.sh (VERSIONS.md says which module, version and path). One
// home for them: the API-server harness installs them, and the manifest loader
// reads custom resources against their schemas, as the API server would.
package crds

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// The CRDs are embedded so packages anywhere in the module can read them
// without knowing where this directory is relative to their working directory.
//
//go:embed */*.yaml */*.yml
var crdFiles embed.FS

// Projects lists the project directories, one per upstream project, sorted.
func Projects() []string {
	entries, err := crdFiles.ReadDir(".")
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

// Decode decodes the pinned CRDs of the given projects (all when none are
// given). Every document must be an apiextensions.k8s.io/v1
// CustomResourceDefinition.
func Decode(projects ...string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
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
	dir := project
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

// groupLine finds a CRD's API group without decoding it: every pinned CRD
// spells spec.group two spaces in (TestProjectOf holds this for each one).
var groupLine = regexp.MustCompile(`(?m)^  group: ["']?([a-z0-9.-]+)`)

// groupProjects maps each API group to the project that defines it, from a
// scan of the embedded files (a few milliseconds, where decoding every CRD
// takes hundreds).
var groupProjects = sync.OnceValue(func() map[string]string {
	out := map[string]string{}
	for _, p := range Projects() {
		entries, _ := fs.ReadDir(crdFiles, p)
		for _, e := range entries {
			data, err := crdFiles.ReadFile(path.Join(p, e.Name()))
			if err != nil {
				continue
			}
			for _, m := range groupLine.FindAllSubmatch(data, -1) {
				out[string(m[1])] = p
			}
		}
	}
	return out
})

// ProjectOf names the project whose pinned CRDs define group, or "" when none
// does, so a reader decodes only the CRDs it needs.
func ProjectOf(group string) string { return groupProjects()[group] }
