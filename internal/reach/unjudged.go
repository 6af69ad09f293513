package reach

import (
	"strings"

	"github.com/budnet/budnet/internal/manifest"
)

// Unjudged is a policy object that decides connectivity in a cluster that
// enforces its kind but that the engine does not evaluate (or evaluates only
// in part): listed in the output, never dropped silently, since the matrix
// may allow what it denies or deny what it allows.
type Unjudged struct {
	Kind   string `json:"kind"`
	Object string `json:"object"` // ns/name, or name when cluster-scoped
	Source string `json:"source"` // file:line (or the chart template)
	// Field is the part of the object not judged, when the rest is.
	Field string `json:"field,omitempty"`
	Why   string `json:"why"`
}

// unjudgedKinds are the policy kinds of CNIs and of the network-policy-api,
// by API group, with what the engine makes of them. The network-policy-api
// kinds and Cilium's are evaluated (tiers.go); what the engine cannot judge of them it
// reports per field (Engine.Unjudged).
var unjudgedKinds = map[string]map[string]string{
	"crd.projectcalico.org": {
		"NetworkPolicy":       "Calico policies are not evaluated",
		"GlobalNetworkPolicy": "Calico policies are not evaluated",
	},
	"projectcalico.org": {
		"NetworkPolicy":       "Calico policies are not evaluated",
		"GlobalNetworkPolicy": "Calico policies are not evaluated",
	},
}

// readUnjudged lists the inventory's policy objects the engine does not
// fully evaluate, in input order.
func readUnjudged(inv *manifest.Inventory) []Unjudged {
	var out []Unjudged
	for _, o := range inv.Objects {
		group, _, _ := strings.Cut(o.APIVersion, "/")
		why, ok := unjudgedKinds[group][o.Kind]
		if !ok {
			continue
		}
		name := o.Name
		if o.Namespace != "" {
			name = o.Namespace + "/" + o.Name
		}
		out = append(out, Unjudged{Kind: o.Kind, Object: name, Source: o.Source.String(), Why: why})
	}
	return out
}
