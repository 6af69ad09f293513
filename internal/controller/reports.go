package controller

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
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
	// MaxResultsBytes bounds the JSON of one report's results; 0 means
	// DefaultMaxResultsBytes. A report over it keeps its most severe
	// results and says it was cut.
	MaxResultsBytes int

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

// result is one Policy Report result with what ranks it.
type result struct {
	status   audit.Status
	severity audit.Severity
	obj      map[string]any
}

// reportResults groups the report's findings by namespace ("" cluster).
func reportResults(r *audit.Report) map[string][]result {
	out := map[string][]result{}
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
		out[ns] = append(out[ns], result{status: f.Status, severity: f.Severity, obj: res})
	}
	return out
}

func summary(results []result) map[string]any {
	s := map[string]int64{"pass": 0, "fail": 0, "warn": 0, "error": 0, "skip": 0}
	for _, r := range results {
		s[r.obj["result"].(string)]++
	}
	out := make(map[string]any, len(s))
	for k, v := range s {
		out[k] = v
	}
	return out
}

// DefaultMaxResultsBytes bounds the JSON of one report's results. The API
// server keeps a custom resource as JSON in etcd, which refuses a request
// over --max-request-bytes, 1.5 MiB by default (DefaultMaxRequestBytes,
// go.etcd.io/etcd/server/v3/embed/config.go; the figure
// k8s.io/apiserver/pkg/server/config.go sizes its 3 MiB MaxRequestBodyBytes
// by), with "etcdserver: request is too large"; past 2 MiB the API
// server's own etcd client refuses to send it (defaultMaxCallSendMsgSize,
// go.etcd.io/etcd/client/v3/options.go). TestReportCutThroughAPIServer
// meets both. Either way the namespace would have no report at all.
// 1 MiB leaves room for the metadata, managedFields, the summary and the
// cut's own result.
const DefaultMaxResultsBytes = 1 << 20

// CutPolicy is the policy of the result that says a report was cut.
const CutPolicy = "budnet-report-cut"

// Annotations on a cut report.
const (
	AnnotationResultsTotal   = "budnet.io/results-total"
	AnnotationResultsOmitted = "budnet.io/results-omitted"
)

// rank orders results most severe first: failing, then partly passing,
// then passing and not applicable; by severity inside each.
func rank(a, b result) int {
	order := func(s audit.Status) int {
		switch s {
		case audit.StatusFail:
			return 0
		case audit.StatusPartial:
			return 1
		case audit.StatusPass:
			return 2
		}
		return 3
	}
	if c := cmp.Compare(order(a.status), order(b.status)); c != 0 {
		return c
	}
	return cmp.Compare(b.severity, a.severity)
}

// capResults returns the results to write: all of them, in the audit's
// order, when their JSON fits in budget bytes; else the most severe that
// fit, most severe first, and how many were left out.
func capResults(all []result, budget int) ([]any, int, error) {
	size := 2 // []
	sizes := make([]int, len(all))
	for i, r := range all {
		b, err := json.Marshal(r.obj)
		if err != nil {
			return nil, 0, fmt.Errorf("encoding a report result: %w", err)
		}
		sizes[i] = len(b) + 1 // and a comma
		size += sizes[i]
	}
	if size <= budget {
		out := make([]any, len(all))
		for i, r := range all {
			out[i] = r.obj
		}
		return out, 0, nil
	}
	idx := make([]int, len(all))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return rank(all[a], all[b]) })
	out := []any{}
	size = 2
	for _, i := range idx {
		if size+sizes[i] > budget {
			break
		}
		size += sizes[i]
		out = append(out, all[i].obj)
	}
	return out, len(all) - len(out), nil
}

// cutResult says a report was cut, in the report itself (policy-reporter
// and kubectl show results; the summary keeps counting every finding).
func cutResult(total, omitted, budget int) map[string]any {
	return map[string]any{
		"policy":   CutPolicy,
		"rule":     "results",
		"result":   "warn",
		"severity": "info",
		"source":   reportSource,
		"category": "budnet",
		"message": fmt.Sprintf("%d of %d results left out: their JSON would pass %d bytes, and the API server stores "+
			"no object over etcd's 1.5 MiB request limit. The %d kept are the most severe (failing first, by severity); "+
			"the summary counts all %d; budnet audit --cluster lists every finding.", omitted, total, budget, total-omitted, total),
		"properties": map[string]any{
			"total":        strconv.Itoa(total),
			"omitted":      strconv.Itoa(omitted),
			"budget-bytes": strconv.Itoa(budget),
		},
	}
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
	budget := w.MaxResultsBytes
	if budget <= 0 {
		budget = DefaultMaxResultsBytes
	}
	var errs []error
	for _, ns := range namespaces {
		all := byNS[ns]
		results, omitted, err := capResults(all, budget)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		obj := &unstructured.Unstructured{Object: map[string]any{
			"metadata": map[string]any{
				"name":   ReportName,
				"labels": map[string]any{"app.kubernetes.io/managed-by": "budnet"}, // managedBy
			},
			"results": results,
			"summary": summary(all),
		}}
		if omitted > 0 {
			obj.Object["results"] = append(results, cutResult(len(all), omitted, budget))
			obj.SetAnnotations(map[string]string{
				AnnotationResultsTotal:   strconv.Itoa(len(all)),
				AnnotationResultsOmitted: strconv.Itoa(omitted),
			})
		}
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
