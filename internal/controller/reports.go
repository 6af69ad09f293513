package controller

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/budnet/budnet/internal/audit"
)

// Policy Report API (kubernetes-sigs/wg-policy-prototypes,
// policy-report/crd/v1alpha2; pinned in internal/crds/wg-policy), the
// version policy-reporter and Kyverno users read.
var (
	policyReportGVR        = schema.GroupVersionResource{Group: "wgpolicyk8s.io", Version: "v1alpha2", Resource: "policyreports"}
	clusterPolicyReportGVR = schema.GroupVersionResource{Group: "wgpolicyk8s.io", Version: "v1alpha2", Resource: "clusterpolicyreports"}
)

const (
	// ReportName is the name of every report budnet writes, one per
	// namespace and one cluster-scoped.
	ReportName = "budnet"
	// FieldManager owns the reports' fields under server-side apply.
	FieldManager = "budnet"
	reportSource = "budnet"
	managedBy    = "app.kubernetes.io/managed-by=budnet"
)

// ReportWriter writes PolicyReports (a finding about an object of a
// namespace) and a ClusterPolicyReport (findings about cluster-scoped
// objects, the platform or connections across namespaces) with server-side
// apply. Namespaces that had a report and have no finding any more get an
// empty one, so a fixed problem disappears from the report.
type ReportWriter struct {
	Client dynamic.Interface

	mu      sync.Mutex
	written map[string]bool
}

// policyResult maps an audit status to the Policy Report result enum
// (pass, fail, warn, error, skip).
func policyResult(s audit.Status) string {
	switch s {
	case audit.StatusPass:
		return "pass"
	case audit.StatusFail:
		return "fail"
	case audit.StatusPartial:
		return "warn"
	}
	return "skip"
}

// findingNamespace is the namespace of the finding's first object; "" for
// cluster findings.
func findingNamespace(f audit.Finding) string {
	for _, e := range f.Evidence {
		if e.Object == "" {
			continue
		}
		if ns, _, _, ok := audit.ParseRef(e.Object); ok {
			return ns
		}
	}
	return ""
}

// reportResults groups the report's findings by namespace ("" cluster).
func reportResults(r *audit.Report) map[string][]any {
	out := map[string][]any{}
	for _, f := range r.Findings {
		ns := findingNamespace(f)
		res := map[string]any{
			"policy":   f.CheckID,
			"rule":     f.Subject,
			"result":   policyResult(f.Status),
			"severity": f.Severity.String(),
			"source":   reportSource,
			"category": "guide section " + f.Section,
			"message":  f.Message,
		}
		if f.Suppressed {
			res["properties"] = map[string]any{"suppressed": "true"}
		}
		var refs []any
		for _, e := range f.Evidence {
			if e.Object == "" {
				continue
			}
			ens, name, kind, ok := audit.ParseRef(e.Object)
			if !ok {
				continue
			}
			ref := map[string]any{"kind": kind, "name": name}
			if ens != "" {
				ref["namespace"] = ens
			}
			refs = append(refs, ref)
		}
		if len(refs) > 0 {
			res["resources"] = refs
		}
		out[ns] = append(out[ns], res)
	}
	return out
}

func summary(results []any) map[string]any {
	s := map[string]int64{"pass": 0, "fail": 0, "warn": 0, "error": 0, "skip": 0}
	for _, r := range results {
		s[r.(map[string]any)["result"].(string)]++
	}
	out := make(map[string]any, len(s))
	for k, v := range s {
		out[k] = v
	}
	return out
}

// Write applies the reports of st.
func (w *ReportWriter) Write(ctx context.Context, st *State) error {
	byNS := reportResults(st.Report)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.written == nil {
		// A restarted controller learns the reports it wrote before, so
		// it can empty those whose findings went while it was down.
		prev, err := w.Client.Resource(policyReportGVR).List(ctx, metav1.ListOptions{LabelSelector: managedBy})
		if err != nil {
			return fmt.Errorf("listing budnet's PolicyReports: %w", err)
		}
		w.written = map[string]bool{}
		for _, r := range prev.Items {
			if r.GetName() == ReportName {
				w.written[r.GetNamespace()] = true
			}
		}
	}
	for ns := range w.written {
		if _, ok := byNS[ns]; !ok {
			byNS[ns] = nil
		}
	}
	namespaces := make([]string, 0, len(byNS))
	for ns := range byNS {
		namespaces = append(namespaces, ns)
	}
	slices.SortFunc(namespaces, cmp.Compare)
	var errs []error
	for _, ns := range namespaces {
		results := byNS[ns]
		if results == nil {
			results = []any{}
		}
		obj := &unstructured.Unstructured{Object: map[string]any{
			"metadata": map[string]any{
				"name":   ReportName,
				"labels": map[string]any{"app.kubernetes.io/managed-by": "budnet"}, // managedBy
			},
			"results": results,
			"summary": summary(results),
		}}
		obj.SetAPIVersion(policyReportGVR.GroupVersion().String())
		var ri dynamic.ResourceInterface
		if ns == "" {
			obj.SetKind("ClusterPolicyReport")
			ri = w.Client.Resource(clusterPolicyReportGVR)
		} else {
			obj.SetKind("PolicyReport")
			obj.SetNamespace(ns)
			ri = w.Client.Resource(policyReportGVR).Namespace(ns)
		}
		if _, err := ri.Apply(ctx, ReportName, obj, metav1.ApplyOptions{FieldManager: FieldManager, Force: true}); err != nil {
			if apierrors.IsNotFound(err) && ns != "" {
				// The namespace went (or is going): its report with it.
				delete(w.written, ns)
				continue
			}
			errs = append(errs, fmt.Errorf("applying %s %q in %q: %w", obj.GetKind(), ReportName, ns, err))
			continue
		}
		if len(byNS[ns]) > 0 {
			w.written[ns] = true
		} else {
			delete(w.written, ns)
		}
	}
	return errors.Join(errs...)
}
