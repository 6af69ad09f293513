package reach

import "github.com/budnet/budnet/internal/netpol"

// Added returns the discrepancies of after whose ports are not all in
// before's for the same pair and flow, each with only its new ports: what
// one comparison with the model adds to another. One home for "new": the
// admission guard judges a change by it, the controller's Events report it,
// and diff names the flows a change breaks and repairs with it.
func Added(before, after []Discrepancy) []Discrepancy {
	type key struct{ src, dst, flow string }
	had := map[key]netpol.PortSet{}
	for _, d := range before {
		k := key{d.Src, d.Dst, d.Flow}
		had[k] = had[k].Union(d.Ports)
	}
	var out []Discrepancy
	for _, d := range after {
		extra := d.Ports.Minus(had[key{d.Src, d.Dst, d.Flow}])
		if extra.IsEmpty() {
			continue
		}
		d.Ports = extra
		out = append(out, d)
	}
	return out
}
