package controller

import (
	"testing"

	"github.com/budnet/budnet/internal/example"
	"github.com/budnet/budnet/internal/kubetest"
	"github.com/budnet/budnet/internal/platform"
)

// BenchmarkFullRecompute is one evaluation (inventory from live objects,
// matrix, comparison with the Bud model, every check) of the unhardened
// Bud example: what each debounced change costs today.
func BenchmarkFullRecompute(b *testing.B) {
	_, data := example.Unhardened()
	objs, err := kubetest.ParseObjects(data)
	if err != nil {
		b.Fatal(err)
	}
	model, err := platform.Default()
	if err != nil {
		b.Fatal(err)
	}
	d := Delta{Objects: objs, Detail: "example", Platform: model}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := (FullRecompute{}).Apply(b.Context(), d); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(objs)), "objects")
}
