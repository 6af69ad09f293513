package netpol_test

import (
	"math/rand/v2"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/budnet/budnet/internal/netpol"
)

// bitmap is the obvious model of a port set, to check the range arithmetic.
type bitmap [3][65536]bool

func randomRanges(r *rand.Rand) []netpol.PortRange {
	protos := []corev1.Protocol{"TCP", "UDP", "SCTP"}
	var out []netpol.PortRange
	for range r.IntN(5) {
		lo := int32(1 + r.IntN(200))
		if r.IntN(5) == 0 {
			lo = int32(65400 + r.IntN(136))
		}
		hi := lo + int32(r.IntN(40))
		if r.IntN(10) == 0 {
			lo, hi = 1, 65535
		}
		out = append(out, netpol.PortRange{Protocol: protos[r.IntN(3)], Start: lo, End: hi})
	}
	return out
}

func toBitmap(rs []netpol.PortRange) *bitmap {
	var b bitmap
	for _, x := range rs {
		pi := map[corev1.Protocol]int{"TCP": 0, "UDP": 1, "SCTP": 2}[x.Protocol]
		for p := max(x.Start, 1); p <= min(x.End, 65535); p++ {
			b[pi][p] = true
		}
	}
	return &b
}

func TestPortSetAgainstBitmap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	protos := []corev1.Protocol{"TCP", "UDP", "SCTP"}
	for range 300 {
		ra, rb := randomRanges(r), randomRanges(r)
		a, b := netpol.NewPortSet(ra...), netpol.NewPortSet(rb...)
		ma, mb := toBitmap(ra), toBitmap(rb)
		u, in := a.Union(b), a.Intersect(b)
		mu, mi := toBitmap(u.Ranges()), toBitmap(in.Ranges())
		for pi, proto := range protos {
			// Generated ranges lie in 1-240, 65400-65535 or cover everything,
			// so these ports see every edge.
			for p := int32(1); p <= 65535; p++ {
				if p == 301 {
					p = 65300
				}
				wantU, wantI := ma[pi][p] || mb[pi][p], ma[pi][p] && mb[pi][p]
				if u.Contains(proto, p) != wantU || mu[pi][p] != wantU {
					t.Fatalf("union %s | %s at %s/%d: want %v", a, b, proto, p, wantU)
				}
				if in.Contains(proto, p) != wantI || mi[pi][p] != wantI {
					t.Fatalf("intersection %s & %s at %s/%d: want %v", a, b, proto, p, wantI)
				}
			}
		}
		// Canonical form: ranges sorted, disjoint and not adjacent.
		rs := u.Ranges()
		for i := 1; i < len(rs); i++ {
			if rs[i].Protocol == rs[i-1].Protocol && rs[i].Start <= rs[i-1].End+1 {
				t.Fatalf("not canonical: %v", rs)
			}
		}
		if !u.Equal(b.Union(a)) {
			t.Fatalf("union not commutative: %s vs %s", u, b.Union(a))
		}
	}
}

func TestPortSetString(t *testing.T) {
	tests := []struct {
		name string
		set  netpol.PortSet
		want string
		all  bool
	}{
		{name: "empty", set: netpol.PortSet{}, want: "none"},
		{name: "all", set: netpol.AllPorts(), want: "all", all: true},
		{name: "all TCP only is not all", set: netpol.NewPortSet(netpol.PortRange{Protocol: "TCP", Start: 1, End: 65535}), want: "TCP/1-65535"},
		{
			name: "adjacent ranges merge, protocols ordered",
			set: netpol.NewPortSet(netpol.PortRange{Protocol: "UDP", Start: 53, End: 53},
				netpol.PortRange{Protocol: "TCP", Start: 81, End: 90}, netpol.PortRange{Protocol: "TCP", Start: 80, End: 80}),
			want: "TCP/80-90,UDP/53",
		},
		{name: "out of range clamps", set: netpol.NewPortSet(netpol.PortRange{Protocol: "SCTP", Start: 0, End: 70000}), want: "SCTP/1-65535"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.set.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
			if tc.set.All() != tc.all {
				t.Errorf("All() = %v", tc.set.All())
			}
		})
	}
}
