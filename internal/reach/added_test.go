package reach_test

import (
	"testing"

	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/reach"
)

func ports(t *testing.T, ps ...int32) netpol.PortSet {
	t.Helper()
	var s netpol.PortSet
	for _, p := range ps {
		s = s.Union(netpol.NewPortSet(netpol.PortRange{Protocol: "TCP", Start: p, End: p}))
	}
	return s
}

func TestAddedDiscrepancies(t *testing.T) {
	d := func(src, dst string, ps netpol.PortSet) reach.Discrepancy {
		return reach.Discrepancy{Src: src, Dst: dst, Ports: ps, Flow: "f"}
	}
	for _, tc := range []struct {
		name          string
		before, after []reach.Discrepancy
		want          []string
	}{
		{name: "nothing before", after: []reach.Discrepancy{d("a", "b", ports(t, 1))}, want: []string{"a b TCP/1"}},
		{name: "same as before", before: []reach.Discrepancy{d("a", "b", ports(t, 1))}, after: []reach.Discrepancy{d("a", "b", ports(t, 1))}},
		{name: "one more port", before: []reach.Discrepancy{d("a", "b", ports(t, 1))}, after: []reach.Discrepancy{d("a", "b", ports(t, 1, 2))}, want: []string{"a b TCP/2"}},
		{name: "fewer", before: []reach.Discrepancy{d("a", "b", ports(t, 1, 2))}, after: []reach.Discrepancy{d("a", "b", ports(t, 1))}},
		{name: "another pair", before: []reach.Discrepancy{d("a", "b", ports(t, 1))}, after: []reach.Discrepancy{d("a", "c", ports(t, 1))}, want: []string{"a c TCP/1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := reach.Added(tc.before, tc.after)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i, g := range got {
				if s := g.Src + " " + g.Dst + " " + g.Ports.String(); s != tc.want[i] {
					t.Errorf("got %q, want %q", s, tc.want[i])
				}
			}
		})
	}
}
