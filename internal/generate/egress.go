package generate

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/budnet/budnet/internal/addrset"
	"github.com/budnet/budnet/internal/diag"
	"github.com/budnet/budnet/internal/platform"
)

// AnnotationHosts lists the host names an egress policy stands for. Plain
// NetworkPolicy cannot name hosts, so a policy that opens public addresses on
// a flow's ports says which names the egress gateway or the FQDN policy
// narrows it to.
const AnnotationHosts = "budnet.io/hosts"

const (
	apiCilium     = "cilium.io/v2"
	kindCiliumNP  = "CiliumNetworkPolicy"
	ciliumNSLabel = "k8s:io.kubernetes.pod.namespace"
)

// egressFlowPolicies adds the policies of an egress flow: ipBlock egress to
// its CIDRs and groups, and for its host names one of three forms:
//   - with the egress gateway enabled, the callers reach only the gateway's
//     proxy port and the gateway reaches public addresses (or, with Cilium,
//     the flow's host names) on the flow's ports;
//   - with Cilium, a CiliumNetworkPolicy with toFQDNs for exactly the hosts;
//   - otherwise an ipBlock to every public address on the flow's ports, the
//     most plain NetworkPolicy can say.
//
// `budnet reach --intended` reads host flows the same way (internal/reach
// intent.go addEgress), which keeps the round trip exact.
func egressFlowPolicies(set *policySet, p *platform.Platform, o Options, f *platform.ResolvedFlow, i int) error {
	mf := &p.Spec.Flows.Egress[i]
	row := ModelRow(fmt.Sprintf("spec.flows.egress[%d]", i), f.Name)
	guide := guideAnnotation(f.Guide, f.Purpose)
	if len(f.CIDRs) > 0 {
		to := make([]any, 0, len(f.CIDRs))
		for _, pfx := range uniquePrefixes(f.CIDRs) {
			to = append(to, ipBlock(pfx, nil))
		}
		dst := "cidrs"
		if len(mf.Groups) > 0 {
			dst = objectName(mf.Groups...)
		}
		for _, s := range f.From {
			name := objectName("allow", s.Name, "to", dst, portsName(f.Ports), "egress")
			set.add(FileNetworkPolicies, policy(s.Zone, name, row, guide, map[string]any{
				"podSelector": matchLabels(s.PodLabels),
				"policyTypes": []any{"Egress"},
				"egress":      []any{map[string]any{"to": to, "ports": portList(f.Ports)}},
			}), f.Name)
		}
	}
	if len(f.Hosts) == 0 {
		return nil
	}
	callers := f.From
	gw, err := gateway(p)
	if err != nil {
		return err
	}
	if gw != nil {
		gatewayRouting(set, gw, mf, f, row, guide)
		callers = []*platform.Workload{gw}
	}
	for _, c := range callers {
		target := hostFlowName(f.Name, c.Name)
		if o.CNI == CNICilium {
			minor, err := ciliumMinor(o.CiliumVersion)
			if err != nil {
				return err
			}
			name := objectName("allow", c.Name, "to", target, portsName(f.Ports), "fqdn")
			u, err := fqdnPolicy(p, c, f, minor, name, row, guide)
			if err != nil {
				return err
			}
			set.add(FileEgress, u, f.Name)
			continue
		}
		name := objectName("allow", c.Name, "to", target, portsName(f.Ports), "egress")
		u := policy(c.Zone, name, row, guide, map[string]any{
			"podSelector": matchLabels(c.PodLabels),
			"policyTypes": []any{"Egress"},
			"egress":      []any{map[string]any{"to": publicPeers(p), "ports": portList(f.Ports)}},
		})
		setAnnotation(u, AnnotationHosts, strings.Join(f.Hosts, ","))
		set.add(FileEgress, u, f.Name)
	}
	return nil
}

// gatewayRouting sends the callers of a host flow to the gateway's proxy
// port: an egress policy per caller and an ingress policy at the gateway.
func gatewayRouting(set *policySet, gw *platform.Workload, mf *platform.EgressFlow, f *platform.ResolvedFlow, row, guide string) {
	proxy := gw.ProxyPorts()
	var callers []*platform.Workload
	for _, s := range f.From {
		if s.Name != gw.Name {
			callers = append(callers, s)
		}
	}
	if len(callers) == 0 {
		return
	}
	for _, s := range callers {
		name := objectName("allow", s.Name, "to", gw.Name, portsName(proxy), "egress")
		set.add(FileEgress, policy(s.Zone, name, row, guide, map[string]any{
			"podSelector": matchLabels(s.PodLabels),
			"policyTypes": []any{"Egress"},
			"egress":      []any{map[string]any{"to": workloadPeers([]*platform.Workload{gw}), "ports": portList(proxy)}},
		}), f.Name)
	}
	name := objectName("allow", selectorName(mf.From), "to", gw.Name, portsName(proxy))
	set.add(FileEgress, policy(gw.Zone, name, row, guide, map[string]any{
		"podSelector": matchLabels(gw.PodLabels),
		"policyTypes": []any{"Ingress"},
		"ingress":     []any{map[string]any{"from": workloadPeers(callers), "ports": portList(proxy)}},
	}), f.Name)
}

// gateway returns the egress gateway workload when the model enables it
// (platform.Platform.EgressGateway), and an error naming the field when the
// model enables one it does not hold or gives it no ports.
func gateway(p *platform.Platform) (*platform.Workload, error) {
	eg := p.Spec.EgressGateway
	gw, ok := p.EgressGateway()
	if !ok && !eg.Enabled {
		return nil, nil
	}
	if !ok {
		return nil, &diag.InputError{File: p.Source.File, Field: "spec.egressGateway.workload",
			Msg: fmt.Sprintf("workload %q does not exist", eg.Workload)}
	}
	if len(gw.Ports) == 0 {
		idx := slices.IndexFunc(p.Spec.Workloads, func(w platform.Workload) bool { return w.Name == gw.Name })
		return nil, &diag.InputError{File: gw.Source.File, Line: gw.Source.Line, Field: fmt.Sprintf("spec.workloads[%d].ports", idx),
			Msg: "the egress gateway has no ports: expected its proxy port (named proxy) for the callers' policies"}
	}
	return gw, nil
}

// hostFlowName names a host flow's destination in a policy name, dropping a
// leading caller name the flow's own name repeats ("budgateway-llm-apis"
// from budgateway is "llm-apis").
func hostFlowName(flow, caller string) string {
	if rest, ok := strings.CutPrefix(flow, caller+"-"); ok && rest != "" {
		return rest
	}
	return flow
}

// publicPeers are every public address: 0.0.0.0/0 and ::/0 except the
// ranges the egress gateway's address guard refuses (private, loopback,
// link-local and metadata, documentation, multicast, ...) and the cluster's
// pod and service CIDRs. internal/reach calls "public" exactly the same set.
func publicPeers(p *platform.Platform) []any {
	var v4, v6 []netip.Prefix
	for _, r := range publicExclusions(p) {
		if r.Addr().Is4() {
			v4 = append(v4, r)
		} else {
			v6 = append(v6, r)
		}
	}
	return []any{
		ipBlock(netip.MustParsePrefix("0.0.0.0/0"), reduce(v4)),
		ipBlock(netip.MustParsePrefix("::/0"), reduce(v6)),
	}
}

// publicExclusions are the ranges "public" excludes: the guard's denied
// ranges and the cluster's pod and service CIDRs. The guard's IPv4-mapped
// range (::ffff:0:0/96) is left out, as reach leaves it out: the API server
// refuses IPv4-mapped CIDRs in ipBlock (k8s.io/apimachinery
// pkg/util/validation IsValidCIDRForLegacyField with StrictIPCIDRValidation,
// on by default since 1.36), and such addresses never appear in packets,
// whose IPv4 destinations meet the IPv4 except list.
func publicExclusions(p *platform.Platform) []netip.Prefix {
	var out []netip.Prefix
	for _, r := range addrset.SpecialPurpose() {
		if r.Prefix.Addr().Is4In6() {
			continue
		}
		out = append(out, r.Prefix.Masked())
	}
	for _, s := range slices.Concat(p.Spec.Cluster.PodCIDRs, p.Spec.Cluster.ServiceCIDRs) {
		if pfx, err := netip.ParsePrefix(s); err == nil {
			out = append(out, pfx.Masked())
		}
	}
	return out
}

// reduce sorts prefixes and drops those inside another, so an except list
// names each excluded range once.
func reduce(ps []netip.Prefix) []netip.Prefix {
	ps = uniquePrefixes(ps)
	var out []netip.Prefix
	for _, p := range ps {
		inside := slices.ContainsFunc(ps, func(q netip.Prefix) bool {
			return q != p && q.Bits() <= p.Bits() && q.Contains(p.Addr())
		})
		if !inside {
			out = append(out, p)
		}
	}
	return out
}

// fqdnPolicy is a CiliumNetworkPolicy letting caller c reach exactly the
// flow's host names on its ports, plus the DNS rule Cilium's DNS proxy needs
// to learn the addresses those names resolve to: toFQDNs only allows IPs
// seen in DNS answers the proxy intercepted
// (https://docs.cilium.io/en/stable/security/policy/language/#dns-based).
// The selectors depend on the target Cilium version (fqdnSelectors).
func fqdnPolicy(p *platform.Platform, c *platform.Workload, f *platform.ResolvedFlow, minor int, name, row, guide string) (*unstructured.Unstructured, error) {
	hosts := slices.Compact(slices.Sorted(slices.Values(f.Hosts)))
	fqdns, err := fqdnSelectors(hosts, minor)
	if err != nil {
		return nil, fmt.Errorf("flow %s: %w", f.Name, err)
	}
	dns := p.Spec.Cluster.DNS
	dnsLabels := map[string]any{ciliumNSLabel: dns.Namespace}
	for k, v := range dns.PodLabels {
		dnsLabels["k8s:"+k] = v
	}
	spec := map[string]any{
		"endpointSelector": matchLabels(c.PodLabels),
		"egress": []any{
			map[string]any{"toFQDNs": fqdns, "toPorts": []any{map[string]any{"ports": ciliumPorts(f.Ports)}}},
			map[string]any{
				"toEndpoints": []any{map[string]any{"matchLabels": dnsLabels}},
				"toPorts": []any{map[string]any{
					"ports": ciliumPorts(dns.PortRanges()),
					"rules": map[string]any{"dns": []any{map[string]any{"matchPattern": "*"}}},
				}},
			},
		},
	}
	u := Object(apiCilium, kindCiliumNP, c.Zone, name, row, guide, map[string]any{"spec": spec})
	setAnnotation(u, AnnotationHosts, strings.Join(f.Hosts, ","))
	return u, nil
}

// ciliumPorts renders port ranges as Cilium PortProtocols: the port is a
// string in Cilium's schema.
func ciliumPorts(ranges []platform.PortRange) []any {
	out := make([]any, 0, len(ranges))
	for _, r := range sortedRanges(ranges) {
		pt := map[string]any{"port": strconv.Itoa(int(r.Port)), "protocol": r.Protocol}
		if r.EndPort != r.Port {
			pt["endPort"] = int64(r.EndPort)
		}
		out = append(out, pt)
	}
	return out
}

func setAnnotation(u *unstructured.Unstructured, k, v string) {
	ann := u.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[k] = v
	u.SetAnnotations(ann)
}
