package reach

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/budnet/budnet/internal/addrset"
	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/platform"
)

// intent is one intended connection between manifest workloads or between a
// manifest workload and external addresses, derived from one model flow.
type intent struct {
	src, dst string         // manifest workload names; empty for the external side
	prefixes []netip.Prefix // the external side's addresses
	public   bool           // the external side is every public address (host allowlist)
	hosts    []string
	ports    netpol.PortSet
	// unserved are ports of ports that the workloads implementing the
	// destination's model workload, dstModel, do not declare: blocked there,
	// they are model drift, reported once per model workload, not as broken.
	unserved netpol.PortSet
	dstModel string
	flow     string
	guide    string
}

// externalName names the external side of an intent in a discrepancy.
func (it *intent) externalName() string {
	if len(it.hosts) > 0 {
		return strings.Join(it.hosts, ",")
	}
	parts := make([]string, len(it.prefixes))
	for i, p := range it.prefixes {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}

// comparison holds what Compare works from.
type comparison struct {
	in      *Input
	eng     *netpol.Engine
	m       Connectivity
	model   *platform.Platform
	byModel map[string][]string // model workload -> manifest workloads
	inModel map[string]bool     // manifest workloads matched to the model
	served  map[string]*served  // model workload -> what its manifest workloads serve
	drift   map[string]*Drift   // model workload -> ports its flows intend that nothing serves
	opened  []Discrepancy       // host flows Cilium toFQDNs rules open
	zones   map[string]bool
	denied  []netip.Prefix // addresses that are not "the public internet"

	internal map[[2]string][]*intent
	ingress  []*intent // external -> workload
	egress   []*intent // workload -> external
	notes    []string
}

// Compare compares the matrix m, computed by eng from in, with the intended
// firewall matrix of model. Manifest workloads are matched to model workloads
// by MatchWorkload, taking the best tier: in the zone before outside it, with
// a note, so a flat single-namespace install can still be judged flow by
// flow. Intended ports that no matched workload serves are Drift, one entry
// per model workload, and are not reported as broken flows.
func Compare(in *Input, eng *netpol.Engine, m Connectivity, model *platform.Platform) (*Diff, error) {
	flows, err := model.Flows()
	if err != nil {
		return nil, fmt.Errorf("resolving the model's flows: %w", err)
	}
	c := &comparison{in: in, eng: eng, m: m, model: model,
		byModel: map[string][]string{}, inModel: map[string]bool{}, zones: map[string]bool{},
		served: map[string]*served{}, drift: map[string]*Drift{},
		internal: map[[2]string][]*intent{}}
	for _, z := range model.Spec.Zones {
		c.zones[z.Name] = true
	}
	c.denied = publicExclusions(model)
	d := &Diff{Unmatched: c.match()}
	c.addFlows(flows)
	c.addDNS()
	d.OverPermissive = c.overPermissive()
	d.Broken = c.broken()
	d.Drift = c.drifts()
	for _, dr := range d.Drift {
		c.notes = append(c.notes, dr.String())
	}
	d.OpenedByFQDN = c.opened
	for _, o := range d.OpenedByFQDN {
		c.notes = append(c.notes, fmt.Sprintf("%s => %s : %s (flow %s) is %s", o.Src, o.Dst, o.Ports, o.Flow, o.Reason))
	}
	d.Notes = c.notes
	return d, nil
}

// publicExclusions are the ranges the public internet excludes: the egress
// gateway's denied ranges plus the cluster's own. Generated ipBlock egress
// rules except the same ranges, so the two agree. The IPv4-mapped range
// ::ffff:0:0/96 is left out: such addresses never appear in packets (RFC 4291
// section 2.5.5.2; the IANA IPv6 special-purpose registry marks the range not
// forwardable), traffic to them is IPv4 and meets the IPv4 exclusions, and
// the API server refuses an ipBlock naming them (StrictIPCIDRValidation, on
// by default since Kubernetes 1.36), so no policy can except them.
func publicExclusions(model *platform.Platform) []netip.Prefix {
	var out []netip.Prefix
	for _, r := range addrset.SpecialPurpose() {
		if r.Prefix.Addr().Is4In6() {
			continue
		}
		out = append(out, r.Prefix)
	}
	for _, s := range slices.Concat(model.Spec.Cluster.PodCIDRs, model.Spec.Cluster.ServiceCIDRs) {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

func (c *comparison) match() []string {
	cands := make([]Candidate, len(c.in.Workloads))
	for i, w := range c.in.Workloads {
		cands[i] = candidate(w.Namespace, w.Labels, c.in.Cluster.Pods[w.Pod].Ports)
	}
	var unmatched []string
	for i := range c.model.Spec.Workloads {
		mw := &c.model.Spec.Workloads[i]
		best := BestTier(MatchWorkload(mw, cands))
		if len(best) == 0 {
			unmatched = append(unmatched, mw.Zone+"/"+mw.Name)
			continue
		}
		found := make([]string, len(best))
		sv := &served{known: true}
		for j, m := range best {
			found[j] = c.in.Workloads[m.Index].Name
			sv.ports = sv.ports.Union(cands[m.Index].Serves)
			sv.known = sv.known && cands[m.Index].Declared
		}
		if how := best[0].Tier.String(); how != "" {
			c.notes = append(c.notes, fmt.Sprintf("model workload %s (zone %s) matched %s: %s",
				mw.Name, mw.Zone, how, strings.Join(found, ", ")))
		}
		c.byModel[mw.Name] = found
		c.served[mw.Name] = sv
		for _, n := range found {
			c.inModel[n] = true
		}
	}
	return unmatched
}

// served is what the manifest workloads matched to a model workload serve.
type served struct {
	ports netpol.PortSet
	// known is false when one of them declares no port, so what it serves
	// is unknown and no port counts as unserved.
	known bool
}

// unserved returns the single ports of ranges that none of the manifest
// workloads of model workload dst declares. Port ranges are left to the
// matrix: a range says "any of these", and a workload serving part of it is
// not drift.
func (c *comparison) unserved(dst string, ranges []platform.PortRange) netpol.PortSet {
	sv := c.served[dst]
	if sv == nil || !sv.known {
		return netpol.PortSet{}
	}
	var out netpol.PortSet
	for _, r := range ranges {
		if r.EndPort != 0 && r.EndPort != r.Port {
			continue
		}
		proto := protocolOf(r.Protocol)
		if !sv.ports.Contains(proto, r.Port) {
			out = out.Union(netpol.NewPortSet(netpol.PortRange{Protocol: proto, Start: r.Port, End: r.Port}))
		}
	}
	return out
}

// addDrift records that the intent's connection src => dst is blocked on
// ports the destination does not declare: model drift of the model workload
// the intent's destination implements.
func (c *comparison) addDrift(it *intent, ports netpol.PortSet) {
	d := c.drift[it.dstModel]
	if d == nil {
		d = &Drift{Workloads: c.byModel[it.dstModel], Serves: c.served[it.dstModel].ports}
		if mw, ok := c.model.Workload(it.dstModel); ok {
			d.Model = mw.Zone + "/" + mw.Name
		}
		c.drift[it.dstModel] = d
	}
	d.Ports = d.Ports.Union(ports)
	d.Flows = appendUnique(d.Flows, it.flow)
	d.Connections++
}

func portSet(ranges []platform.PortRange) netpol.PortSet {
	rs := make([]netpol.PortRange, len(ranges))
	for i, r := range ranges {
		rs[i] = netpol.PortRange{Protocol: corev1.Protocol(r.Protocol), Start: r.Port, End: r.EndPort}
	}
	return netpol.NewPortSet(rs...)
}

func (c *comparison) addInternal(srcModel, dstModel string, ranges []platform.PortRange, flow, guide string) {
	ports := portSet(ranges)
	unserved := c.unserved(dstModel, ranges)
	for _, s := range c.byModel[srcModel] {
		for _, t := range c.byModel[dstModel] {
			if s == t {
				continue
			}
			key := [2]string{s, t}
			c.internal[key] = append(c.internal[key], &intent{src: s, dst: t, ports: ports, unserved: unserved, dstModel: dstModel, flow: flow, guide: guide})
		}
	}
}

func (c *comparison) addFlows(flows []platform.ResolvedFlow) {
	gw := c.egressGateway()
	for i := range flows {
		f := &flows[i]
		guide := string(f.Guide)
		switch f.Kind {
		case platform.FlowInternal:
			for _, src := range f.From {
				for _, dst := range f.To {
					c.addInternal(src.Name, dst.Workload.Name, dst.Ports, f.Name, guide)
				}
			}
		case platform.FlowIngress:
			for _, dst := range f.To {
				unserved := c.unserved(dst.Workload.Name, dst.Ports)
				for _, t := range c.byModel[dst.Workload.Name] {
					c.ingress = append(c.ingress, &intent{dst: t, prefixes: f.Sources, ports: portSet(dst.Ports), unserved: unserved, dstModel: dst.Workload.Name, flow: f.Name, guide: guide})
				}
			}
		case platform.FlowEgress:
			c.addEgress(f, gw, guide)
		}
	}
}

// egressGateway returns the gateway workload and its proxy ports when the
// model routes host-based egress through budnet's gateway.
func (c *comparison) egressGateway() *platform.Workload {
	w, ok := c.model.EgressGateway()
	if !ok {
		return nil
	}
	return w
}

// addEgress adds an egress flow. Host names cannot be expressed in
// NetworkPolicy: at the policy level a host flow is "to public addresses on
// these ports", or, with the egress gateway, "to the gateway's proxy port" plus
// "from the gateway to public addresses".
func (c *comparison) addEgress(f *platform.ResolvedFlow, gw *platform.Workload, guide string) {
	ports := portSet(f.Ports)
	if len(f.CIDRs) > 0 {
		for _, src := range f.From {
			for _, s := range c.byModel[src.Name] {
				c.egress = append(c.egress, &intent{src: s, prefixes: f.CIDRs, ports: ports, flow: f.Name, guide: guide})
			}
		}
	}
	if len(f.Hosts) == 0 {
		return
	}
	egressFrom := f.From
	if gw != nil {
		proxy := gw.ProxyPorts()
		for _, src := range f.From {
			if src.Name != gw.Name {
				c.addInternal(src.Name, gw.Name, proxy, f.Name+" (via egress gateway)", guide)
			}
		}
		egressFrom = []*platform.Workload{gw}
	}
	for _, src := range egressFrom {
		for _, s := range c.byModel[src.Name] {
			c.egress = append(c.egress, &intent{src: s, public: true, hosts: f.Hosts, ports: ports, flow: f.Name, guide: guide})
		}
	}
}

// addDNS adds the flow the guide forgets: every workload of the model resolves
// names through the cluster DNS.
func (c *comparison) addDNS() {
	dns := c.model.Spec.Cluster.DNS
	var servers []string
	for _, w := range c.in.Workloads {
		if w.Namespace == dns.Namespace && platform.HasLabels(w.Labels, dns.PodLabels) {
			servers = append(servers, w.Name)
		}
	}
	ports := portSet(dns.PortRanges())
	for s := range c.inModel {
		for _, t := range servers {
			if s != t {
				key := [2]string{s, t}
				c.internal[key] = append(c.internal[key], &intent{src: s, dst: t, ports: ports, flow: "dns", guide: "3.2 DNS under default deny"})
			}
		}
	}
}

// judged says whether a manifest workload's connections are compared: those
// the model knows and those in a model zone. Traffic among workloads the model
// says nothing about (kube-system among itself) is not its business.
func (c *comparison) judged(name string) bool {
	if c.inModel[name] {
		return true
	}
	if w, ok := c.in.Workload(name); ok {
		return c.zones[w.Namespace]
	}
	return false
}

// drifts lists the drift entries by model workload.
func (c *comparison) drifts() []Drift {
	out := make([]Drift, 0, len(c.drift))
	for _, d := range c.drift {
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b Drift) int { return strings.Compare(a.Model, b.Model) })
	return out
}
