package netpoltest

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"

	"github.com/budnet/budnet/internal/netpol"
)

// DeltaOptions shape RandomDelta.
type DeltaOptions struct {
	RandomOptions
	// Tiers and Cilium allow deltas of the network-policy-api tiers and of
	// Cilium's policies.
	Tiers, Cilium bool
}

// RandomDelta draws one change of the cluster c (a RandomCluster, as it is
// now) in the style of RandomCluster: pods added (some twins of existing
// pods, some joining a workload), removed or relabelled; namespaces added,
// relabelled or deleted; NetworkPolicies (and with the options tier and
// Cilium policies) added, replaced or removed. Names are drawn from small
// pools so that upserts often replace and deletes often hit.
func RandomDelta(r *rand.Rand, c netpol.Cluster, opts DeltaOptions) netpol.Delta {
	g := &rgen{r: r, opts: opts.RandomOptions}
	nsNames := append([]string(nil), nsPool...)
	nsNames = append(nsNames, "e")
	kinds := []string{"pod+", "pod+", "pod-", "podlabel", "podlabel", "ns", "ns-", "np", "np", "np-"}
	if opts.Tiers {
		kinds = append(kinds, "tier", "tier-")
	}
	if opts.Cilium {
		kinds = append(kinds, "cilium", "cilium-")
	}
	switch kinds[r.IntN(len(kinds))] {
	case "pod+":
		p := netpol.Pod{
			Namespace: g.pick(nsNames), Name: fmt.Sprintf("p%d", r.IntN(14)),
			Labels: g.labels(), Ports: g.ports(), IPs: g.podIPs(),
		}
		if len(c.Pods) > 0 && r.IntN(3) == 0 {
			twin := c.Pods[r.IntN(len(c.Pods))]
			p.Namespace, p.Labels, p.Workload = twin.Namespace, maps.Clone(twin.Labels), twin.Workload
			if r.IntN(2) == 0 {
				p.Ports = twin.Ports
			}
		}
		if r.IntN(4) == 0 {
			p.Workload = fmt.Sprintf("w%d", r.IntN(4))
		}
		p.HostNetwork = opts.HostNetwork && r.IntN(8) == 0
		return netpol.Delta{Op: netpol.Upsert, Object: &p}
	case "pod-":
		if len(c.Pods) == 0 {
			return RandomDelta(r, c, opts)
		}
		p := c.Pods[r.IntN(len(c.Pods))]
		return netpol.Delta{Op: netpol.Delete, Object: &p}
	case "podlabel":
		if len(c.Pods) == 0 {
			return RandomDelta(r, c, opts)
		}
		p := c.Pods[r.IntN(len(c.Pods))]
		p.Labels = g.labels()
		if r.IntN(4) == 0 {
			p.Ports = g.ports()
		}
		return netpol.Delta{Op: netpol.Upsert, Object: &p}
	case "ns":
		name := g.pick(nsNames)
		l := g.labels()
		l["kubernetes.io/metadata.name"] = name
		return netpol.Delta{Op: netpol.Upsert, Object: &netpol.Namespace{Name: name, Labels: l}}
	case "ns-":
		return netpol.Delta{Op: netpol.Delete, Object: &netpol.Namespace{Name: g.pick(nsNames)}}
	case "np":
		return netpol.Delta{Op: netpol.Upsert, Object: g.policy(g.pick(nsNames), fmt.Sprintf("np%d", r.IntN(6)))}
	case "np-":
		if len(c.Policies) == 0 {
			return RandomDelta(r, c, opts)
		}
		return netpol.Delta{Op: netpol.Delete, Object: c.Policies[r.IntN(len(c.Policies))]}
	case "tier", "tier-":
		op := netpol.Upsert
		if r.IntN(3) == 0 {
			op = netpol.Delete
		}
		var t netpol.Cluster
		for len(t.AdminNetworkPolicies)+len(t.BaselineAdminNetworkPolicies)+len(t.ClusterNetworkPolicies) == 0 {
			AddRandomTiers(r, &t)
		}
		var objs []any
		for _, p := range t.AdminNetworkPolicies {
			objs = append(objs, p)
		}
		for _, p := range t.BaselineAdminNetworkPolicies {
			objs = append(objs, p)
		}
		for _, p := range t.ClusterNetworkPolicies {
			objs = append(objs, p)
		}
		return netpol.Delta{Op: op, Object: objs[r.IntN(len(objs))]}
	default: // cilium, cilium-
		t := netpol.Cluster{Namespaces: []netpol.Namespace{{Name: g.pick(nsNames)}}}
		AddRandomCilium(r, &t)
		op := netpol.Upsert
		if r.IntN(3) == 0 {
			op = netpol.Delete
		}
		return netpol.Delta{Op: op, Object: t.CiliumNetworkPolicies[r.IntN(len(t.CiliumNetworkPolicies))]}
	}
}

// podIPs is one address as RandomCluster gives, sometimes none (a pod
// whose address is not known yet).
func (g *rgen) podIPs() []netip.Addr {
	if g.r.IntN(6) == 0 {
		return nil
	}
	return []netip.Addr{g.podIP(g.r.IntN(14))}
}
