package infer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"
)

// UnresolvedAnnotation carries the unresolved items in the model itself, one
// per line, so they travel with the file in YAML and JSON alike.
const UnresolvedAnnotation = "budnet.io/unresolved"

// annotated returns a copy of the model with the unresolved items as an annotation.
// The empty settings blocks (cloud, edge, mesh...) are pruned: the file
// says only what was inferred, and defaults fill the rest.
func (r *Result) annotated() (map[string]any, error) {
	p := *r.Platform
	if len(r.Unresolved) > 0 {
		lines := make([]string, len(r.Unresolved))
		for i, u := range r.Unresolved {
			lines[i] = u.String()
		}
		p.Metadata.Annotations = map[string]string{UnresolvedAnnotation: strings.Join(lines, "\n")}
	}
	raw, err := json.Marshal(&p)
	if err != nil {
		return nil, fmt.Errorf("encoding the inferred platform: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("encoding the inferred platform: %w", err)
	}
	prune(m)
	return m, nil
}

// prune removes empty maps, recursively.
func prune(m map[string]any) bool {
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok && prune(sub) {
			delete(m, k)
		}
	}
	return len(m) == 0
}

// YAML renders the model as a platform file, headed by comments that
// summarise the inference and list what was not resolved.
func (r *Result) YAML() ([]byte, error) {
	m, err := r.annotated()
	if err != nil {
		return nil, err
	}
	body, err := yaml.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encoding the inferred platform: %w", err)
	}
	var b bytes.Buffer
	s := r.Platform.Spec
	fmt.Fprintf(&b, "# Inferred by budnet platform infer: %d zones, %d workloads, %d ingress, %d internal and %d egress flows, %d unresolved.\n",
		len(s.Zones), len(s.Workloads), len(s.Flows.Ingress), len(s.Flows.Internal), len(s.Flows.Egress), len(r.Unresolved))
	b.WriteString("# Every note gives the evidence as file:line: field. Review before generating policies.\n")
	for _, c := range r.Changes {
		b.WriteString("# change: " + oneLine(c) + "\n")
	}
	for _, n := range r.Notes {
		b.WriteString("# note: " + oneLine(n) + "\n")
	}
	for _, u := range r.Unresolved {
		b.WriteString("# unresolved: " + oneLine(u.String()) + "\n")
	}
	b.Write(body)
	return b.Bytes(), nil
}

// JSON renders the model as an indented JSON platform file.
func (r *Result) JSON() ([]byte, error) {
	m, err := r.annotated()
	if err != nil {
		return nil, err
	}
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding the inferred platform: %w", err)
	}
	return append(out, '\n'), nil
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
