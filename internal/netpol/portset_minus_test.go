package netpol

import (
	"math/rand/v2"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestPortSetMinus(t *testing.T) {
	tcp := func(lo, hi int32) PortRange { return PortRange{Protocol: corev1.ProtocolTCP, Start: lo, End: hi} }
	udp := func(lo, hi int32) PortRange { return PortRange{Protocol: corev1.ProtocolUDP, Start: lo, End: hi} }
	tests := []struct {
		name    string
		a, b    PortSet
		want    PortSet
		wantAll bool
	}{
		{name: "punch a hole", a: NewPortSet(tcp(1, 100)), b: NewPortSet(tcp(50, 60)), want: NewPortSet(tcp(1, 49), tcp(61, 100))},
		{name: "edges are inclusive", a: NewPortSet(tcp(80, 80), tcp(443, 443)), b: NewPortSet(tcp(80, 80)), want: NewPortSet(tcp(443, 443))},
		{name: "protocols are separate", a: NewPortSet(tcp(53, 53), udp(53, 53)), b: NewPortSet(udp(1, 65535)), want: NewPortSet(tcp(53, 53))},
		{name: "several holes across spans", a: NewPortSet(tcp(1, 10), tcp(20, 30)), b: NewPortSet(tcp(5, 22), tcp(25, 25), tcp(30, 40)), want: NewPortSet(tcp(1, 4), tcp(23, 24), tcp(26, 29))},
		{name: "all minus nothing is all", a: AllPorts(), b: PortSet{}, wantAll: true},
		{name: "all minus all is empty", a: AllPorts(), b: AllPorts(), want: PortSet{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.a.Minus(tt.b)
			if tt.wantAll {
				if !got.All() {
					t.Fatalf("got %s, want all", got)
				}
				return
			}
			if !got.Equal(tt.want) {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// TestPortSetMinusAgreesWithContains checks Minus pointwise on random sets:
// p is in a−b exactly when it is in a and not in b.
func TestPortSetMinusAgreesWithContains(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	randomSet := func() PortSet {
		var rs []PortRange
		for range r.IntN(5) {
			lo := int32(1 + r.IntN(200))
			rs = append(rs, PortRange{Protocol: corev1.ProtocolTCP, Start: lo, End: lo + int32(r.IntN(30))})
		}
		return NewPortSet(rs...)
	}
	for range 2000 {
		a, b := randomSet(), randomSet()
		d := a.Minus(b)
		for p := int32(1); p <= 240; p++ {
			want := a.Contains(corev1.ProtocolTCP, p) && !b.Contains(corev1.ProtocolTCP, p)
			if d.Contains(corev1.ProtocolTCP, p) != want {
				t.Fatalf("%s minus %s at %d: got %v", a, b, p, !want)
			}
		}
	}
}
