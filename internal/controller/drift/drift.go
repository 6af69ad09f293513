// Package drift says what one comparison with the model adds to another:
// the admission guard judges a change by it, the controller's Events report
// it. One home, so both call the same thing "new".
package drift

import (
	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/reach"
)

// Added returns the discrepancies of after whose ports are not all in
// before's for the same pair and flow, each with only its new ports.
func Added(before, after []reach.Discrepancy) []reach.Discrepancy {
	type key struct{ src, dst, flow string }
	had := map[key]netpol.PortSet{}
	for _, d := range before {
		k := key{d.Src, d.Dst, d.Flow}
		had[k] = had[k].Union(d.Ports)
	}
	var out []reach.Discrepancy
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
