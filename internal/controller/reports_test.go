package controller

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/budnet/budnet/internal/audit"
	"github.com/budnet/budnet/internal/kubetest"
	"github.com/budnet/budnet/internal/platform"
)

// hugeNamespace is a batch namespace as generators leave them: n
// Deployments of privileged runners (failing the zone's Pod Security
// Standard), each with a NetworkPolicy whose selector has drifted from the
// runner's labels (selecting nothing): two findings per runner.
func hugeNamespace(t testing.TB, ns string, n int) []*unstructured.Unstructured {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Namespace\nmetadata: {name: %s, labels: {kubernetes.io/metadata.name: %s}}\n", ns, ns)
	for i := range n {
		fmt.Fprintf(&b, `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: job-runner-%04[2]d, namespace: %[1]s}
spec:
  selector: {matchLabels: {app: job-runner-%04[2]d}}
  template:
    metadata: {labels: {app: job-runner-%04[2]d}}
    spec:
      containers: [{name: runner, image: "registry.example.com/batch/runner:1.%[2]d", securityContext: {privileged: true}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-runner-%04[2]d, namespace: %[1]s}
spec:
  podSelector: {matchLabels: {app: runner-%04[2]d}}
  policyTypes: [Ingress]
`, ns, i)
	}
	objs, err := kubetest.ParseObjects([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// evaluateObjects is one controller evaluation of objs (as the informers
// would hold them) against the embedded model.
func evaluateObjects(t testing.TB, objs []*unstructured.Unstructured) *State {
	t.Helper()
	model, err := platform.Default()
	if err != nil {
		t.Fatal(err)
	}
	st, err := FullRecompute{}.Apply(t.Context(), Delta{Objects: objs, Platform: model, Detail: "generated"})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestReportCutThroughAPIServer: a namespace with thousands of findings
// makes a report the real API server refuses whole (etcd's request limit);
// the writer cuts it to the most severe results, the API server accepts
// it, and it says it was cut (a result, annotations, a summary counting
// every finding). When the namespace shrinks, the cut marks go.
func TestReportCutThroughAPIServer(t *testing.T) {
	env := harness.Env(t)
	ctx := t.Context()
	const ns = "batch-huge"
	if _, err := env.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	st := evaluateObjects(t, hugeNamespace(t, ns, 2500))
	total := len(reportResults(st.Report)[ns])
	if total < 4000 {
		t.Fatalf("the huge namespace has %d findings, want thousands", total)
	}

	// Uncut, the API server refuses it: the cap is needed, not cosmetic.
	// Whole, the report passes the API server's etcd client's 2 MiB send
	// limit; cut to 1.6 MiB, etcd's own 1.5 MiB request limit.
	for _, tc := range []struct {
		budget int
		want   string
	}{
		{budget: 1 << 30, want: "trying to send message larger than max"},
		{budget: 1600 << 10, want: "etcdserver: request is too large"},
	} {
		err := (&ReportWriter{Client: env.Dynamic, MaxResultsBytes: tc.budget}).Write(ctx, st)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("a report of %d results cut at %d bytes: %v, want the API server to refuse it: %s", total, tc.budget, err, tc.want)
		}
	}

	w := &ReportWriter{Client: env.Dynamic}
	if err := w.Write(ctx, st); err != nil {
		t.Fatalf("the cut report was refused: %v", err)
	}
	rep, err := env.Dynamic.Resource(policyReportGVR).Namespace(ns).Get(ctx, ReportName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	results, _, _ := unstructured.NestedSlice(rep.Object, "results")
	omitted, _ := strconv.Atoi(rep.GetAnnotations()[AnnotationResultsOmitted])
	if omitted <= 0 || rep.GetAnnotations()[AnnotationResultsTotal] != strconv.Itoa(total) || len(results)-1+omitted != total {
		t.Fatalf("annotations %v, %d results: the report does not say it was cut from %d", rep.GetAnnotations(), len(results), total)
	}
	last := results[len(results)-1].(map[string]any)
	if last["policy"] != CutPolicy || last["properties"].(map[string]any)["omitted"] != strconv.Itoa(omitted) {
		t.Errorf("the last result %v does not say %d were left out", last, omitted)
	}
	summaryTotal := int64(0)
	for _, k := range []string{"pass", "fail", "warn", "error", "skip"} {
		v, _, _ := unstructured.NestedInt64(rep.Object, "summary", k)
		summaryTotal += v
	}
	if summaryTotal != int64(total) {
		t.Errorf("the summary counts %d results, want every one of the %d findings", summaryTotal, total)
	}
	// The kept results are the most severe: none left out ranks above the
	// least severe kept.
	all := reportResults(st.Report)[ns]
	kept := map[string]bool{}
	for _, r := range results[:len(results)-1] {
		m := r.(map[string]any)
		kept[fmt.Sprint(m["policy"], m["rule"])] = true
	}
	worstKept := result{status: audit.StatusFail, severity: audit.SeverityCritical}
	for _, r := range all {
		if kept[fmt.Sprint(r.obj["policy"], r.obj["rule"])] && rank(r, worstKept) > 0 {
			worstKept = r
		}
	}
	for _, r := range all {
		if !kept[fmt.Sprint(r.obj["policy"], r.obj["rule"])] && rank(r, worstKept) < 0 {
			t.Fatalf("%s %s (%s, %s) was left out but ranks above a kept %s result", r.obj["policy"], r.obj["rule"], r.status, r.severity, worstKept.severity)
		}
	}
	t.Logf("cut report: %d of %d results kept", len(results)-1, total)

	// The namespace shrinks: a whole report again, the cut marks gone.
	if err := w.Write(ctx, evaluateObjects(t, hugeNamespace(t, ns, 3))); err != nil {
		t.Fatal(err)
	}
	rep, err = env.Dynamic.Resource(policyReportGVR).Namespace(ns).Get(ctx, ReportName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	results, _, _ = unstructured.NestedSlice(rep.Object, "results")
	if a := rep.GetAnnotations(); a[AnnotationResultsOmitted] != "" || len(results) != 6 {
		t.Errorf("after the namespace shrank: annotations %v, %d results, want none and 6", a, len(results))
	}
}

// TestCapResults: the cut keeps the most severe results that fit, most
// severe first; a report that fits is written whole in the audit's order.
func TestCapResults(t *testing.T) {
	mk := func(id string, st audit.Status, sev audit.Severity) result {
		return result{status: st, severity: sev, obj: map[string]any{"policy": id, "result": policyResult(st)}}
	}
	all := []result{
		mk("a", audit.StatusPass, audit.SeverityCritical),
		mk("b", audit.StatusFail, audit.SeverityLow),
		mk("c", audit.StatusNotApplicable, audit.SeverityHigh),
		mk("d", audit.StatusFail, audit.SeverityCritical),
		mk("e", audit.StatusPartial, audit.SeverityHigh),
	}
	for _, tc := range []struct {
		name    string
		budget  int
		want    string
		omitted int
	}{
		{name: "fits", budget: 1 << 20, want: "a b c d e"},
		{name: "room for two", budget: 70, want: "d b", omitted: 3},
		{name: "room for three: partial before pass", budget: 100, want: "d b e", omitted: 2},
		{name: "room for none", budget: 10, want: "", omitted: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, omitted, err := capResults(all, tc.budget)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range got {
				ids = append(ids, r.(map[string]any)["policy"].(string))
			}
			if strings.Join(ids, " ") != tc.want || omitted != tc.omitted {
				t.Errorf("kept %q, %d left out; want %q, %d", ids, omitted, tc.want, tc.omitted)
			}
		})
	}
}
