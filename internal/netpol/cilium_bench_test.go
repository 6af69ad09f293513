package netpol_test

import (
	"testing"

	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/netpol/netpoltest"
)

// BenchmarkCiliumMatrix measures New plus the full matrix on a cluster run
// by Cilium: two thirds of its policies CiliumNetworkPolicies, FQDN egress
// with L7 DNS rules per namespace, clusterwide deny and audit policies.
func BenchmarkCiliumMatrix(b *testing.B) {
	for _, pods := range []int{1000, 5000} {
		c := netpoltest.GenerateCiliumCluster(1, pods)
		b.Run("pods="+itoa(pods), func(b *testing.B) {
			b.ReportAllocs()
			var conns int
			for b.Loop() {
				e, err := netpol.New(c, netpol.Options{})
				if err != nil {
					b.Fatal(err)
				}
				conns = 0
				for range e.Matrix().Each {
					conns++
				}
			}
			b.ReportMetric(float64(conns), "conns")
			b.ReportMetric(float64(len(c.CiliumNetworkPolicies)), "cilium-policies")
		})
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
