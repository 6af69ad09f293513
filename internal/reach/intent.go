package reach

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"budnet/internal/egress/guard"
	"budnet/internal/netpol"
	"budnet/internal/platform"
)

// intent is one intended connection between manifest workloads or between a
// manifest workload and external addresses, derived from one model flow.
type intent struct {
	src, dst string         // manifest workload names; empty for the external side
	prefixes []netip.Prefix // the external side's addresses
	public   bool           // the external side is every public address (host allowlist)
	hosts    []string
	ports    netpol.PortSet
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
	m       *netpol.Matrix
	model   *platform.Platform
	byModel map[string][]string // model workload -> manifest workloads
	inModel map[string]bool     // manifest workloads matched to the model
	zones   map[string]bool
	denied  []netip.Prefix // addresses that are not "the public internet"

	internal map[[2]string][]*intent
	ingress  []*intent // external -> workload
	egress   []*intent // workload -> external
	notes    []string
}

// Compare compares the matrix m, computed by eng from in, with the intended
// firewall matrix of model. Manifest workloads match a model workload when
// they are in its zone and carry all its pod labels; a model workload with no
// match in its zone is matched by labels in any namespace, with a note, so a
// flat single-namespace install can still be judged flow by flow.
func Compare(in *Input, eng *netpol.Engine, m *netpol.Matrix, model *platform.Platform) (*Diff, error) {
	flows, err := model.Flows()
	if err != nil {
		return nil, fmt.Errorf("resolving the model's flows: %w", err)
	}
	c := &comparison{in: in, eng: eng, m: m, model: model,
		byModel: map[string][]string{}, inModel: map[string]bool{}, zones: map[string]bool{},
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
	for _, r := range guard.DefaultDenied() {
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
	var unmatched []string
	for i := range c.model.Spec.Workloads {
		mw := &c.model.Spec.Workloads[i]
		found, how := c.matching(mw)
		if len(found) == 0 {
			unmatched = append(unmatched, mw.Zone+"/"+mw.Name)
			continue
		}
		if how != "" {
			c.notes = append(c.notes, fmt.Sprintf("model workload %s (zone %s) matched %s: %s",
				mw.Name, mw.Zone, how, strings.Join(found, ", ")))
		}
		c.byModel[mw.Name] = found
		for _, n := range found {
			c.inModel[n] = true
		}
	}
	return unmatched
}

// matching finds the manifest workloads of a model workload, trying in order:
// its pod labels in its zone; the label the Dapr injector sets from the app id
// (dapr.io/app-id), which charts cannot rename, in its zone; then both outside
// its zone. how describes any match but the first kind, for a note.
func (c *comparison) matching(mw *platform.Workload) (found []string, how string) {
	type attempt struct {
		labels map[string]string
		inZone bool
		how    string
	}
	attempts := []attempt{{mw.PodLabels, true, ""}}
	var appID map[string]string
	if mw.Dapr != nil {
		appID = map[string]string{"dapr.io/app-id": mw.Dapr.AppID}
		attempts = append(attempts, attempt{appID, true, "by its Dapr app id"})
	}
	attempts = append(attempts, attempt{mw.PodLabels, false, "by labels outside its zone"})
	if appID != nil {
		attempts = append(attempts, attempt{appID, false, "by its Dapr app id outside its zone"})
	}
	for _, a := range attempts {
		for _, w := range c.in.Workloads {
			if (!a.inZone || w.Namespace == mw.Zone) && hasLabels(w.Labels, a.labels) {
				found = append(found, w.Name)
			}
		}
		if len(found) > 0 {
			return found, a.how
		}
	}
	return nil, ""
}

func hasLabels(have, want map[string]string) bool {
	if len(want) == 0 {
		return false
	}
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

func portSet(ranges []platform.PortRange) netpol.PortSet {
	rs := make([]netpol.PortRange, len(ranges))
	for i, r := range ranges {
		rs[i] = netpol.PortRange{Protocol: corev1.Protocol(r.Protocol), Start: r.Port, End: r.EndPort}
	}
	return netpol.NewPortSet(rs...)
}

func (c *comparison) addInternal(srcModel, dstModel string, ports netpol.PortSet, flow, guide string) {
	for _, s := range c.byModel[srcModel] {
		for _, t := range c.byModel[dstModel] {
			if s == t {
				continue
			}
			key := [2]string{s, t}
			c.internal[key] = append(c.internal[key], &intent{src: s, dst: t, ports: ports, flow: flow, guide: guide})
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
					c.addInternal(src.Name, dst.Workload.Name, portSet(dst.Ports), f.Name, guide)
				}
			}
		case platform.FlowIngress:
			for _, dst := range f.To {
				for _, t := range c.byModel[dst.Workload.Name] {
					c.ingress = append(c.ingress, &intent{dst: t, prefixes: f.Sources, ports: portSet(dst.Ports), flow: f.Name, guide: guide})
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
	eg := c.model.Spec.EgressGateway
	if !eg.Enabled || eg.Workload == "" {
		return nil
	}
	w, ok := c.model.Workload(eg.Workload)
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
		proxy := proxyPorts(gw)
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

// proxyPorts are the gateway's port named "proxy", or all its ports.
func proxyPorts(gw *platform.Workload) netpol.PortSet {
	var rs []netpol.PortRange
	for _, p := range gw.Ports {
		proto := corev1.Protocol(p.Protocol)
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		r := netpol.PortRange{Protocol: proto, Start: p.Port, End: p.Port}
		if p.Name == "proxy" {
			return netpol.NewPortSet(r)
		}
		rs = append(rs, r)
	}
	return netpol.NewPortSet(rs...)
}

// addDNS adds the flow the guide forgets: every workload of the model resolves
// names through the cluster DNS.
func (c *comparison) addDNS() {
	dns := c.model.Spec.Cluster.DNS
	var servers []string
	for _, w := range c.in.Workloads {
		if w.Namespace == dns.Namespace && hasLabels(w.Labels, dns.PodLabels) {
			servers = append(servers, w.Name)
		}
	}
	var rs []platform.PortRange
	for _, p := range dns.Ports {
		end := p.EndPort
		if end == 0 {
			end = p.Port
		}
		rs = append(rs, platform.PortRange{Protocol: p.Protocol, Port: p.Port, EndPort: end})
	}
	ports := portSet(rs)
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
