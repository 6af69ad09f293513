package report

import (
	"fmt"
	"io"
	"testing"
)

// countingWriter measures the page without keeping it.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*countingWriter)(nil)

// BenchmarkWriteHTML renders the embedded example's audit and reach reports,
// and synthetic all-to-all matrices up to 2,000 workloads (4 million pairs)
// to show the caps keep the page bounded while the stream is aggregated.
func BenchmarkWriteHTML(b *testing.B) {
	cases := []htmlCase{auditCase(b, "audit example", ""), reachCase(b, "reach example intended", "", true)}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var w countingWriter
			for b.Loop() {
				w.n = 0
				if err := c.write(&w, htmlTestOptions()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(w.n), "page-bytes")
		})
	}
	for _, n := range []int{200, 2000} {
		b.Run(fmt.Sprintf("reach all-to-all %d workloads", n), func(b *testing.B) {
			conns, names := syntheticConnections(10, n/10)
			opts := htmlTestOptions()
			opts.Workloads = names
			b.ReportAllocs()
			var w countingWriter
			for b.Loop() {
				w.n = 0
				if err := WriteReachHTML(&w, ReachResult{Connections: conns}, opts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(w.n), "page-bytes")
		})
	}
}
