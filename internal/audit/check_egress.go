package audit

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/platform"
	"github.com/budnet/budnet/internal/reach"
)

// Guide sections 4.3 and 8.2: egress. The guide's own "provider whitelist"
// allows 0.0.0.0/0 on 443, which includes every private range and the cloud
// metadata address; an allowlist names hosts, which only an FQDN-aware
// policy or an egress gateway can do.

// Sample addresses judged against the matrix's address entities (the
// entities cut the address space where policies' ipBlocks do, so an entity
// holding a sample is allowed or denied as a whole).
var (
	metadataAddrs = []netip.Addr{netip.MustParseAddr("169.254.169.254"), netip.MustParseAddr("fd00:ec2::254")}
	privateAddrs  = []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("172.16.0.1"), netip.MustParseAddr("192.168.0.1"), netip.MustParseAddr("fd00::1")}
	publicAddrs   = []netip.Addr{netip.MustParseAddr("1.1.1.1"), netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("2606:4700:4700::1111")}
)

func checkEgressOpen() Check {
	return Check{
		ID: "BUD-4.3-01", Title: "No workload may reach any address on the internet and inside the network", Section: "4.3", Severity: SeverityHigh,
		Remediation: "Isolate egress by default and send external calls through the egress allowlist: `budnet generate` emits egress policies that reach only the model's flows (external hosts through the budnet egress gateway or Cilium toFQDNs), never 0.0.0.0/0.",
		Doc:         docOf("BUD-4.3-01"),
		Run:         runEgressOpen,
	}
}

func entityHolds(name string, addrs []netip.Addr) bool {
	for _, s := range strings.Split(name, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if p.Contains(a) {
				return true
			}
		}
	}
	return false
}

func runEgressOpen(c *Context) []Result {
	rv := c.Reach()
	if rv.Matrix == nil {
		return nil
	}
	m := rv.Matrix
	var entities []string
	for _, n := range m.Names() {
		if m.IsExternal(n) {
			entities = append(entities, n)
		}
	}
	var out []Result
	for _, w := range rv.Input.Workloads {
		if systemNamespace(c, w.Namespace) {
			continue
		}
		var public, inner netpol.PortSet
		var wide []string
		for _, e := range entities {
			ps, _ := m.Lookup(w.Name, e)
			if ps.IsEmpty() {
				continue
			}
			if entityHolds(e, publicAddrs) {
				public = public.Union(ps)
				wide = appendUnique(wide, e)
			}
			if entityHolds(e, metadataAddrs) || entityHolds(e, privateAddrs) {
				inner = inner.Union(ps)
				wide = appendUnique(wide, e)
			}
		}
		if public.IsEmpty() {
			continue
		}
		out = append(out, egressResult(c, w.Name, w.Pod, public, inner, wide))
	}
	return out
}

func egressResult(c *Context, name string, pod int, public, inner netpol.PortSet, entities []string) Result {
	both := public.Intersect(inner)
	proto, port := firstPort(public)
	if !both.IsEmpty() {
		proto, port = firstPort(both)
	}
	v := c.Reach().Engine.Evaluate(netpol.PodPeer(pod), netpol.AddressPeer(publicAddrs[0]), proto, port)
	ev := Evidence{Connection: name + " => " + listing(entities, 3) + " : " + public.Union(inner).String(), Policies: ruleStrings(v.Egress.Allowing)}
	if !v.Egress.Isolated {
		ev.Detail = "egress not isolated: " + v.Egress.NotIsolatedReason
	} else {
		ev.Detail = "allowed by " + strings.Join(ev.Policies, ", ")
	}
	switch {
	case !both.IsEmpty():
		return res(StatusFail, name, fmt.Sprintf("%s may reach every public address and the private ranges and cloud metadata address (169.254.169.254) on %s: that is not an allowlist", name, both), ev)
	case public.All():
		return res(StatusPartial, name, fmt.Sprintf("%s may reach every public address on every port", name), ev)
	}
	return res(StatusPass, name, fmt.Sprintf("%s reaches public addresses only, on %s (the host allowlist is BUD-8.2-01's concern)", name, public), ev)
}

func checkEgressAllowlist() Check {
	return Check{
		ID: "BUD-8.2-01", Title: "External providers are reached through a host allowlist", Section: "8.2", Severity: SeverityHigh,
		Remediation: "Deploy the budnet egress gateway `budnet generate` emits (with its allowlist from the model's egress flows), or with --cni cilium the CiliumNetworkPolicy toFQDNs rules and their DNS proxy rule.",
		Doc:         docOf("BUD-8.2-01"),
		Run:         runEgressAllowlist,
	}
}

func runEgressAllowlist(c *Context) []Result {
	if c.Platform == nil || len(c.Inventory.Objects) == 0 {
		return nil
	}
	var hosts []string
	for _, f := range c.Platform.Spec.Flows.Egress {
		hosts = append(hosts, f.Hosts...)
	}
	if len(hosts) == 0 {
		return nil
	}
	const subject = "egress allowlist"
	if gw := c.Platform.Spec.EgressGateway; gw.Workload != "" {
		if mw, ok := c.Platform.Workload(gw.Workload); ok {
			if ws := matching(c.Inventory, mw); len(ws) > 0 {
				return []Result{res(StatusPass, subject, "the egress gateway "+ws[0].Ref()+" is deployed", ObjectEvidence(ws[0].Object, "", "model workload "+mw.Name))}
			}
		}
	}
	var fqdn, dnsRule []*manifest.Object
	var selectors []any
	for _, o := range objectsOf(c.Inventory, groupsCilium, "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy") {
		for _, spec := range ciliumSpecs(o) {
			for _, r := range sliceIn(spec, "egress") {
				rm := asMap(r)
				for _, f := range sliceIn(rm, "toFQDNs") {
					fqdn = appendObj(fqdn, o)
					selectors = append(selectors, f)
				}
				for _, tp := range sliceIn(rm, "toPorts") {
					if len(sliceIn(asMap(tp), "rules", "dns")) > 0 {
						dnsRule = appendObj(dnsRule, o)
					}
				}
			}
		}
	}
	if len(fqdn) == 0 {
		return []Result{res(StatusFail, subject, "no egress gateway and no FQDN egress policy: the model's provider hosts ("+listing(hosts, 4)+") cannot be enforced, since NetworkPolicy cannot name hosts")}
	}
	ev := ObjectEvidence(fqdn[0], "spec.egress", "toFQDNs")
	if len(dnsRule) == 0 {
		return []Result{res(StatusPartial, subject, "toFQDNs policies exist but no rule sends DNS through Cilium's DNS proxy (toPorts rules.dns), so the names never resolve to allowed addresses", ev)}
	}
	// Model hosts are host patterns ("*.example.com": any depth), which
	// generate writes as Cilium's "**." (platform.FQDNSelectors reads both).
	names := reach.ReadFQDNs(selectors)
	var missing []string
	for _, h := range hosts {
		if hp, err := platform.ReadHostPattern(h); err != nil || !names.Admits(hp) {
			missing = append(missing, h)
		}
	}
	if len(missing) > 0 {
		return []Result{res(StatusPartial, subject, "toFQDNs policies miss model hosts: "+listing(missing, 5), ev)}
	}
	return []Result{res(StatusPass, subject, "every model provider host is allowlisted by toFQDNs", ev)}
}

// ciliumSpecs returns spec and every entry of specs.
func ciliumSpecs(o *manifest.Object) []map[string]any {
	var out []map[string]any
	if v, ok := nested(o, "spec"); ok {
		out = append(out, asMap(v))
	}
	for _, s := range nestedSlice(o, "specs") {
		out = append(out, asMap(s))
	}
	return out
}

func appendObj(xs []*manifest.Object, o *manifest.Object) []*manifest.Object {
	if slices.Contains(xs, o) {
		return xs
	}
	return append(xs, o)
}
