package manifest

import (
	"fmt"
	"log/slog"
	"maps"
	"sort"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// NamespaceNameLabel is the label the API server sets on every namespace
// (https://kubernetes.io/docs/reference/labels-annotations-taints/#kubernetes-io-metadata-name).
const NamespaceNameLabel = "kubernetes.io/metadata.name"

const namespaceLabelReason = "set by the API server on every namespace, overriding any value written (Kubernetes 1.22+)"

// build resolves duplicates and derives the typed views from objects;
// warnings are the loader's own (unknown fields under --validate=warn).
func build(objects []*Object, warnings []Warning, log *slog.Logger) *Inventory {
	inv := &Inventory{}
	for _, w := range warnings {
		inv.warn(log, w)
	}
	inv.Objects = dedupe(objects, inv, log)
	inv.Namespaces = namespaces(inv.Objects)
	for _, o := range inv.Objects {
		if w := workloadOf(o); w != nil {
			for _, fw := range inferDapr(w) {
				src := o.Source
				src.Line = o.LineOf(fw.path)
				inv.warn(log, Warning{Source: src, Msg: fw.msg})
			}
			inv.Workloads = append(inv.Workloads, w)
		}
		if s := serviceOf(o); s != nil {
			inv.Services = append(inv.Services, s)
		}
		if np, ok := o.typed.(*networkingv1.NetworkPolicy); ok {
			np.Namespace = o.Namespace
			inv.NetworkPolicies = append(inv.NetworkPolicies, &NetworkPolicy{Object: o, Policy: np})
		}
	}
	return inv
}

func (inv *Inventory) warn(log *slog.Logger, w Warning) {
	inv.Warnings = append(inv.Warnings, w)
	attrs := []any{"source", w.Source.String()}
	if w.Other != nil {
		attrs = append(attrs, "other", w.Other.String())
	}
	log.Warn(w.Msg, attrs...)
}

// dedupe keeps the last of objects sharing a key, at the position of the
// last, as applying the files in order would leave them.
func dedupe(objects []*Object, inv *Inventory, log *slog.Logger) []*Object {
	last := make(map[ObjectKey]int, len(objects))
	for i, o := range objects {
		k := o.Key()
		if j, dup := last[k]; dup {
			prev := objects[j].Source
			inv.warn(log, Warning{
				Source: o.Source,
				Other:  &prev,
				Msg:    fmt.Sprintf("duplicate %s: defined again here; the later definition wins, as kubectl apply would leave it", k),
			})
		}
		last[k] = i
	}
	if len(last) == len(objects) {
		return objects
	}
	out := make([]*Object, 0, len(last))
	for i, o := range objects {
		if last[o.Key()] == i {
			out = append(out, o)
		}
	}
	return out
}

// namespaces returns the declared namespaces and those objects live in
// without a declaration, each with the automatic name label.
func namespaces(objects []*Object) []*Namespace {
	byName := map[string]*Namespace{}
	for _, o := range objects {
		t, ok := o.typed.(*corev1.Namespace)
		if !ok {
			continue
		}
		byName[o.Name] = &Namespace{
			Name: o.Name, Object: o,
			Labels:      maps.Clone(t.Labels),
			Annotations: maps.Clone(t.Annotations),
		}
	}
	for _, o := range objects {
		if o.Namespace != "" && byName[o.Namespace] == nil {
			byName[o.Namespace] = &Namespace{Name: o.Namespace, Implicit: true}
		}
	}
	out := make([]*Namespace, 0, len(byName))
	for _, ns := range byName {
		if ns.Labels == nil {
			ns.Labels = map[string]string{}
		}
		ns.Labels[NamespaceNameLabel] = ns.Name
		ns.Inferred = append(ns.Inferred, Inference{
			Field: "metadata.labels[" + NamespaceNameLabel + "]", Value: ns.Name, Reason: namespaceLabelReason,
		})
		out = append(out, ns)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
