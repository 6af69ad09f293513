package infer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// UnresolvedAnnotation carries the unresolved items in the model itself, one
// per line, so they travel with the file in YAML and JSON alike.
const UnresolvedAnnotation = "budnet.io/unresolved"

// annotated encodes a copy of the model, with the unresolved items as an
// annotation, as JSON in the order of the Go types (name first, as in
// hand-written platform files). The empty settings blocks (cloud, edge,
// mesh...) are pruned: the file says only what was inferred, and defaults
// fill the rest.
func (r *Result) annotated() (*yaml.Node, error) {
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
	// YAML is a superset of JSON: the parsed node keeps the key order.
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("encoding the inferred platform: %w", err)
	}
	root := doc.Content[0]
	prune(root)
	return root, nil
}

// prune removes empty mappings, recursively, and drops the flow style and
// quoting the JSON text had, so the YAML is written in block style. It
// reports whether n is an empty mapping.
func prune(n *yaml.Node) bool {
	// The encoder quotes a string that would read back as another type
	// ("true", "5432") or that cannot be plain ("a: b").
	n.Style = 0
	switch n.Kind {
	case yaml.MappingNode:
		var kept []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if prune(v) {
				continue
			}
			k.Style = 0
			kept = append(kept, k, v)
		}
		n.Content = kept
		return len(kept) == 0
	case yaml.SequenceNode:
		for _, c := range n.Content {
			prune(c)
		}
	}
	return false
}

// YAML renders the model as a platform file, headed by comments that
// summarise the inference and list what was not resolved.
func (r *Result) YAML() ([]byte, error) {
	root, err := r.annotated()
	if err != nil {
		return nil, err
	}
	var body bytes.Buffer
	enc := yaml.NewEncoder(&body)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("encoding the inferred platform: %w", err)
	}
	if err := enc.Close(); err != nil {
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
	b.Write(body.Bytes())
	return b.Bytes(), nil
}

// JSON renders the model as an indented JSON platform file.
func (r *Result) JSON() ([]byte, error) {
	root, err := r.annotated()
	if err != nil {
		return nil, err
	}
	var v any
	if err := root.Decode(&v); err != nil {
		return nil, fmt.Errorf("encoding the inferred platform: %w", err)
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding the inferred platform: %w", err)
	}
	return append(out, '\n'), nil
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
