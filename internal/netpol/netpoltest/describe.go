package netpoltest

import (
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/budnet/budnet/internal/netpol"
)

// Describe renders a cluster as YAML (namespaces, pods, policies) so that a
// failing generated case can be read and turned into a fixed test.
func Describe(c netpol.Cluster) string {
	var b strings.Builder
	b.WriteString("namespaces:\n")
	for _, ns := range c.Namespaces {
		y, _ := yaml.Marshal(ns)
		b.Write(y)
	}
	b.WriteString("pods:\n")
	for _, p := range c.Pods {
		y, _ := yaml.Marshal(p)
		b.Write(y)
		b.WriteString("--\n")
	}
	b.WriteString("policies:\n")
	for _, np := range c.Policies {
		y, _ := yaml.Marshal(np)
		b.Write(y)
		b.WriteString("---\n")
	}
	return b.String()
}
