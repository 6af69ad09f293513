package reach

import (
	"slices"

	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/platform"
)

// Policies cannot name hosts at L3, so a flow to external host names
// carried only by a Cilium toFQDNs rule (or a network-policy-api
// domainNames rule) looks blocked in the matrix. The engine applies those
// rules to each pod as it applies every rule (Engine.HostRules: the
// subjects Cilium selects, minus ports denied to every external address);
// Compare reports a flow they open as opened by them (Diff.OpenedByFQDN),
// not as broken.

// fqdnOpens returns the policies whose host rules (Cilium toFQDNs,
// network-policy-api domainNames, as the engine applies them to each pod of
// the source: Engine.HostRules) open the intent's missing ports to every one
// of its hosts for every pod of its source; nil when some host stays closed
// on some port for some pod.
func (c *comparison) fqdnOpens(it *intent, missing netpol.PortSet) []string {
	w, ok := c.in.Workload(it.src)
	if !ok || c.eng == nil {
		return nil
	}
	var policies []string
	for _, pod := range w.Pods {
		rules := c.eng.HostRules(pod)
		if len(rules) == 0 {
			return nil
		}
		sets := make([]platform.FQDNSelectors, len(rules))
		for i, r := range rules {
			for _, n := range r.MatchNames {
				sets[i] = append(sets[i], platform.FQDNSelector{MatchName: n})
			}
			for _, p := range r.MatchPatterns {
				sets[i] = append(sets[i], platform.FQDNSelector{MatchPattern: p})
			}
		}
		for _, host := range it.hosts {
			hp, err := platform.ReadHostPattern(host)
			if err != nil {
				return nil
			}
			left := missing
			for i, r := range rules {
				if sets[i].Admits(hp) && !left.Intersect(r.Ports).IsEmpty() {
					left = left.Minus(r.Ports)
					if ref := r.Rule.Policy.String(); !slices.Contains(policies, ref) {
						policies = append(policies, ref)
					}
				}
			}
			if !left.IsEmpty() {
				return nil
			}
		}
	}
	return policies
}

// ReadFQDNs reads a toFQDNs list as decoded from YAML into Cilium's
// selectors, which the model's host pattern reads (platform.FQDNSelectors).
func ReadFQDNs(fqdns []any) platform.FQDNSelectors {
	out := make(platform.FQDNSelectors, 0, len(fqdns))
	for _, f := range fqdns {
		fm := asMapOf(f)
		out = append(out, platform.FQDNSelector{MatchName: stringAt(fm, "matchName"), MatchPattern: stringAt(fm, "matchPattern")})
	}
	return out
}

// ciliumGroup is the API group of Cilium's policies.
const ciliumGroup = "cilium.io"

func stringAt(m map[string]any, key string) string {
	v, _ := m[key].(string)
	return v
}

func asMapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}
