package netpol_test

import (
	"fmt"
	"testing"

	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/netpol/netpoltest"
)

// BenchmarkMatrix measures New plus the full matrix computation and iteration of
// every allowed connection (no output), on generated clusters.
func BenchmarkMatrix(b *testing.B) {
	cases := []struct {
		name    string
		cluster func() netpol.Cluster
	}{
		{"deployments/pods=1000", func() netpol.Cluster { return netpoltest.GenerateCluster(1, 1000) }},
		{"deployments/pods=5000", func() netpol.Cluster { return netpoltest.GenerateCluster(1, 5000) }},
		{"deployments/pods=20000", func() netpol.Cluster { return netpoltest.GenerateCluster(1, 20000) }},
		{"barepods/pods=5000", func() netpol.Cluster { return netpoltest.GenerateBarePods(1, 5000) }},
	}
	for _, tc := range cases {
		c := tc.cluster()
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			var conns int
			var st netpol.MatrixStats
			for b.Loop() {
				e, err := netpol.New(c, netpol.Options{})
				if err != nil {
					b.Fatal(err)
				}
				m := e.Matrix()
				st = m.Stats()
				conns = 0
				for range m.Each {
					conns++
				}
			}
			b.ReportMetric(float64(conns), "conns")
			b.ReportMetric(float64(st.Classes), "classes")
			b.ReportMetric(float64(st.SrcKeys*st.DstKeys), "keypairs")
			_ = fmt.Sprint()
		})
	}
}
