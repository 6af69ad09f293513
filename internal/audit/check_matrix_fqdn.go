package audit

import (
	"strings"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/reach"
)

// Flows to external host names that a Cilium toFQDNs rule opens look
// blocked in the NetworkPolicy matrix; reach.Compare reads the rules and
// lists such flows in Diff.OpenedByFQDN. BUD-4.2-02 shows each as passing,
// with the policy that opens it as evidence.

// openedByFQDN returns a passing result per host flow a toFQDNs rule opens.
func openedByFQDN(c *Context, d *reach.Diff) []Result {
	out := make([]Result, 0, len(d.OpenedByFQDN))
	for _, o := range d.OpenedByFQDN {
		conn := o.Src + " => " + o.Dst
		ev := Evidence{Connection: conn + " : " + o.Ports.String(), Policies: o.Policies, Detail: "toFQDNs " + strings.Join(o.Hosts, ", ")}
		if obj := objectByRef(c, o.Policies[0]); obj != nil {
			ev = ObjectEvidence(obj, "spec.egress", "toFQDNs "+strings.Join(o.Hosts, ", "))
		}
		out = append(out, res(StatusPass, conn, conn+" : "+o.Ports.String()+" is "+o.Reason, ev))
	}
	return out
}

// objectByRef finds an object of the inventory by its reference.
func objectByRef(c *Context, ref string) *manifest.Object {
	for _, o := range c.Inventory.Objects {
		if o.Ref() == ref {
			return o
		}
	}
	return nil
}
