package controller

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/budnet/budnet/internal/audit"
)

// TestIncrementalMatchesFullRecompute is the differential: over a random
// sequence of controller deltas on the unhardened Bud example (pods and
// namespaces relabelled, workloads' templates relabelled, NetworkPolicies
// deleted, restored, added with another selector, objects removed and
// brought back, the model absent, a NetworkPolicy with an invalid selector
// for one step), the incremental evaluator's State equals FullRecompute's
// after every delta, and both refuse the invalid change. It also asserts
// that the incremental path was taken (a rebuild on every call would agree
// trivially) and that a refused change was recovered from by a rebuild.
func TestIncrementalMatchesFullRecompute(t *testing.T) {
	base, model := unhardenedExample(t)
	rng := rand.New(rand.NewPCG(17, 2))
	objs := base
	var removed []*unstructured.Unstructured
	inc := &Incremental{}
	steps := 120
	if testing.Short() {
		steps = 30
	}
	paths := map[string]int{}
	rejected := 0
	for step := range steps {
		what := "initial"
		if step > 0 {
			objs, removed, what = mutate(rng, objs, removed, step)
		}
		d := Delta{Objects: objs, Detail: "example", Platform: model}
		if step%40 == 39 {
			d.Platform = nil // a model reload that failed to parse leaves none
			what += " (no model)"
		}
		want, werr := FullRecompute{}.Apply(t.Context(), d)
		got, gerr := inc.Apply(t.Context(), d)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("step %d (%s): full err %v, incremental err %v", step, what, werr, gerr)
		}
		if strings.HasPrefix(what, "add invalid") {
			if werr == nil {
				t.Fatalf("step %d (%s): FullRecompute accepted it", step, what)
			}
			objs = objs[:len(objs)-1]
			rejected++
		}
		if werr != nil {
			continue
		}
		paths[got.EnginePath]++
		if diff := stateDiff(want, got); diff != "" {
			t.Fatalf("step %d (%s): incremental State differs from FullRecompute: %s", step, what, diff)
		}
	}
	if rejected == 0 || paths[PathRebuild] < 2 {
		t.Fatalf("engine paths %v after %d rejected changes: no recovery by rebuild was exercised", paths, rejected)
	}
	if paths[PathIncremental] < steps/2 {
		t.Fatalf("engine paths %v: the incremental path was not taken on most deltas", paths)
	}
	t.Logf("engine paths over %d deltas: %v (%d invalid changes refused by both)", steps, paths, rejected)
}

// stateDiff names the first field of State (Duration, EnginePath and
// EngineDeltas aside) where a and b differ.
func stateDiff(a, b *State) string {
	for _, f := range []struct {
		name string
		x, y any
	}{
		{"Connections", a.Connections, b.Connections},
		{"Workloads", a.Workloads, b.Workloads},
		{"Objects", a.Objects, b.Objects},
		{"Diff", a.Diff, b.Diff},
		{"Checklist", a.Checklist, b.Checklist},
		{"Report", comparableReport(a), comparableReport(b)},
	} {
		if !reflect.DeepEqual(f.x, f.y) {
			return f.name + ": " + firstDifference(a, b, f.name)
		}
	}
	return ""
}

// comparableReport is the report with its checks' Run funcs cleared
// (reflect.DeepEqual never equates two non-nil funcs).
func comparableReport(s *State) audit.Report {
	r := *s.Report
	r.Checks = slices.Clone(r.Checks)
	for i := range r.Checks {
		r.Checks[i].Run = nil
	}
	return r
}

// firstDifference narrows a differing field to its first differing element,
// so a failure prints one finding or discrepancy, not two reports.
func firstDifference(a, b *State, field string) string {
	if field == "Report" {
		fa, fb := a.Report.Findings, b.Report.Findings
		for i := range min(len(fa), len(fb)) {
			if !reflect.DeepEqual(fa[i], fb[i]) {
				return fmt.Sprintf("finding %d: full %+v\nincremental %+v", i, fa[i], fb[i])
			}
		}
		if len(fa) != len(fb) {
			return fmt.Sprintf("full %d findings, incremental %d", len(fa), len(fb))
		}
		ra, rb := comparableReport(a), comparableReport(b)
		ra.Findings, rb.Findings = nil, nil
		return fmt.Sprintf("besides the findings: full %+v\nincremental %+v", ra.Summary, rb.Summary)
	}
	s := fmt.Sprintf("full %+v\nincremental %+v", reflect.ValueOf(a).Elem().FieldByName(field), reflect.ValueOf(b).Elem().FieldByName(field))
	if len(s) > 4000 {
		s = s[:4000]
	}
	return s
}

// mutate applies one random controller delta to a copy of objs.
func mutate(rng *rand.Rand, objs, removed []*unstructured.Unstructured, step int) ([]*unstructured.Unstructured, []*unstructured.Unstructured, string) {
	out := make([]*unstructured.Unstructured, len(objs))
	copy(out, objs)
	pick := func(kinds ...string) int {
		var idx []int
		for i, o := range out {
			for _, k := range kinds {
				if o.GetKind() == k {
					idx = append(idx, i)
				}
			}
		}
		if len(idx) == 0 {
			return -1
		}
		return idx[rng.IntN(len(idx))]
	}
	values := []string{"a", "b", "web", "db", "redis", "gateway"}
	switch rng.IntN(7) {
	case 0: // a namespace relabelled
		if i := pick("Namespace"); i >= 0 {
			o := out[i].DeepCopy()
			l := o.GetLabels()
			if l == nil {
				l = map[string]string{}
			}
			l["team"] = values[rng.IntN(len(values))]
			o.SetLabels(l)
			out[i] = o
			return out, removed, "relabel namespace " + o.GetName()
		}
	case 1: // a workload's pods relabelled (template), as a rollout does
		if i := pick("Deployment", "StatefulSet", "DaemonSet"); i >= 0 {
			o := out[i].DeepCopy()
			l, _, _ := unstructured.NestedStringMap(o.Object, "spec", "template", "metadata", "labels")
			if l == nil {
				l = map[string]string{}
			}
			if rng.IntN(2) == 0 {
				l["tier"] = values[rng.IntN(len(values))]
			} else {
				delete(l, "tier")
			}
			_ = unstructured.SetNestedStringMap(o.Object, l, "spec", "template", "metadata", "labels")
			out[i] = o
			return out, removed, "relabel " + o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
		}
	case 2: // a NetworkPolicy added: a copy of one, selecting another tier
		if i := pick("NetworkPolicy"); i >= 0 {
			o := out[i].DeepCopy()
			o.SetName(fmt.Sprintf("%s-copy-%d", o.GetName(), step))
			_ = unstructured.SetNestedStringMap(o.Object, map[string]string{"tier": values[rng.IntN(len(values))]}, "spec", "podSelector", "matchLabels")
			out = append(out, o)
			return out, removed, "add networkpolicy " + o.GetNamespace() + "/" + o.GetName()
		}
	case 3, 4: // an object deleted (NetworkPolicies most often)
		kinds := []string{"NetworkPolicy"}
		if rng.IntN(3) == 0 {
			kinds = append(kinds, "Deployment", "StatefulSet", "Namespace", "Service")
		}
		if i := pick(kinds...); i >= 0 {
			o := out[i]
			removed = append(removed, o)
			out = append(out[:i:i], out[i+1:]...)
			return out, removed, "delete " + o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
		}
	case 6: // a NetworkPolicy with a selector operator the API would refuse (read from a
		// cluster whose admission did not check it): both evaluators must refuse it alike,
		// and the incremental one recover by a rebuild once it is gone
		if i := pick("NetworkPolicy"); i >= 0 {
			o := out[i].DeepCopy()
			o.SetName(fmt.Sprintf("%s-bad-%d", o.GetName(), step))
			_ = unstructured.SetNestedSlice(o.Object, []any{map[string]any{"key": "app", "operator": "Bogus", "values": []any{"x"}}}, "spec", "podSelector", "matchExpressions")
			out = append(out, o) // the loop removes it after this step
			return out, removed, "add invalid networkpolicy " + o.GetNamespace() + "/" + o.GetName()
		}
	case 5: // a deleted object comes back
		if len(removed) > 0 {
			j := rng.IntN(len(removed))
			o := removed[j]
			removed = append(removed[:j:j], removed[j+1:]...)
			out = append(out, o)
			return out, removed, "restore " + o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
		}
	}
	return out, removed, "no change"
}
