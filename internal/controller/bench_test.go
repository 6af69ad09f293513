package controller

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/budnet/budnet/internal/example"
	"github.com/budnet/budnet/internal/kubetest"
	"github.com/budnet/budnet/internal/platform"
)

// unhardenedExample is the unhardened Bud example's objects and the Bud
// model: the fixture of the evaluator tests and benchmarks.
func unhardenedExample(tb testing.TB) ([]*unstructured.Unstructured, *platform.Platform) {
	tb.Helper()
	_, data := example.Unhardened()
	objs, err := kubetest.ParseObjects(data)
	if err != nil {
		tb.Fatal(err)
	}
	model, err := platform.Default()
	if err != nil {
		tb.Fatal(err)
	}
	return objs, model
}

// BenchmarkFullRecompute is one evaluation (inventory from live objects,
// matrix, comparison with the Bud model, every check) of the unhardened
// Bud example: what each debounced change costs today.
func BenchmarkFullRecompute(b *testing.B) {
	objs, model := unhardenedExample(b)
	d := Delta{Objects: objs, Detail: "example", Platform: model}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := (FullRecompute{}).Apply(b.Context(), d); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(objs)), "objects")
}

// BenchmarkIncrementalDelta is one evaluation by the Incremental evaluator
// after a one-object change (a Deployment's pod template relabelled, then
// back), on the fixture of BenchmarkFullRecompute: the per-delta cost the
// controller pays with --evaluator=incremental. The engine is built before
// the timer starts, as the controller builds it on its first evaluation.
func BenchmarkIncrementalDelta(b *testing.B) {
	objs, model := unhardenedExample(b)
	at := -1
	for i, o := range objs {
		if o.GetKind() == "Deployment" {
			at = i
			break
		}
	}
	if at < 0 {
		b.Fatal("the fixture has no Deployment")
	}
	relabelled := slices.Clone(objs)
	o := objs[at].DeepCopy()
	l, _, _ := unstructured.NestedStringMap(o.Object, "spec", "template", "metadata", "labels")
	l["tier"] = "bench"
	if err := unstructured.SetNestedStringMap(o.Object, l, "spec", "template", "metadata", "labels"); err != nil {
		b.Fatal(err)
	}
	relabelled[at] = o
	inc := &Incremental{}
	if _, err := inc.Apply(b.Context(), Delta{Objects: objs, Detail: "example", Platform: model}); err != nil {
		b.Fatal(err)
	}
	states := [][]*unstructured.Unstructured{relabelled, objs}
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		st, err := inc.Apply(b.Context(), Delta{Objects: states[n%2], Detail: "example", Platform: model})
		if err != nil {
			b.Fatal(err)
		}
		if st.EnginePath != PathIncremental {
			b.Fatalf("engine path %s, want %s", st.EnginePath, PathIncremental)
		}
		n++
	}
	b.ReportMetric(float64(len(objs)), "objects")
}
