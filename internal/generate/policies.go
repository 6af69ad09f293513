package generate

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/budnet/budnet/internal/diag"
	"github.com/budnet/budnet/internal/platform"
)

// Files of the network-policy concern.
const (
	FileNetworkPolicies = "20-networkpolicies.yaml"
	FileEgress          = "21-egress.yaml"
)

// namespaceNameLabel is set by the API server on every namespace
// (https://kubernetes.io/docs/reference/labels-annotations-taints/#kubernetes-io-metadata-name);
// the guide's `name: bud-infra` selector matches only a hand-added label.
const namespaceNameLabel = "kubernetes.io/metadata.name"

const (
	apiNetworking = "networking.k8s.io/v1"
	kindNetPol    = "NetworkPolicy"
)

// NetworkPolicies implements guide sections 3.2 and 4: per zone a default
// deny of ingress and egress and egress to the cluster DNS; per intended flow
// an ingress policy in the destination's namespace and an egress policy in
// the source's (a connection needs both sides to allow it,
// https://kubernetes.io/docs/concepts/services-networking/network-policies/#behavior-of-to-and-from-selectors);
// and egress to external hosts (egress.go). Ports are the destination's
// container ports resolved to numbers: the injected daprd ports are named by
// the injector, not by the manifests, and NetworkPolicy matches container
// ports, never Service ports.
func NetworkPolicies(p *platform.Platform, o Options) ([]File, error) {
	flows, err := p.Flows()
	if err != nil {
		return nil, &diag.InputError{File: p.Source.File, Msg: "resolving flows", Err: err}
	}
	set := newPolicySet()
	for i := range p.Spec.Zones {
		zonePolicies(set, p, i)
	}
	var ingress, internal, egress int
	for i := range flows {
		f := &flows[i]
		switch f.Kind {
		case platform.FlowIngress:
			ingressFlowPolicies(set, p, f, ingress)
			ingress++
		case platform.FlowInternal:
			internalFlowPolicies(set, p, f, internal)
			internal++
		case platform.FlowEgress:
			if err := egressFlowPolicies(set, p, o, f, egress); err != nil {
				return nil, err
			}
			egress++
		}
	}
	files := []File{{Name: FileNetworkPolicies, Concern: "network policies: default deny, DNS and intended flows (guide 3.2, 4)",
		Objects: set.objects(FileNetworkPolicies)}}
	if objs := set.objects(FileEgress); len(objs) > 0 {
		files = append(files, File{Name: FileEgress, Concern: "egress to external hosts (guide 4.3, 8.2)", Objects: objs})
	}
	return files, nil
}

func policy(ns, name, row, guide string, spec map[string]any) *unstructured.Unstructured {
	return Object(apiNetworking, kindNetPol, ns, name, row, guide, map[string]any{"spec": spec})
}

// zonePolicies adds the zone's default deny and its DNS egress.
func zonePolicies(set *policySet, p *platform.Platform, i int) {
	z := &p.Spec.Zones[i]
	row := ModelRow(fmt.Sprintf("spec.zones[%d]", i), z.Name)
	set.add(FileNetworkPolicies, policy(z.Name, "default-deny", row, "3.2 default deny of ingress and egress per namespace",
		map[string]any{
			"podSelector": map[string]any{},
			"policyTypes": []any{"Ingress", "Egress"},
		}), "")
	dns := p.Spec.Cluster.DNS
	set.add(FileNetworkPolicies, policy(z.Name, "allow-dns-egress", ModelRow("spec.cluster.dns", z.Name),
		"not in the guide: default-deny egress blocks DNS; every zone resolves names through the cluster DNS",
		map[string]any{
			"podSelector": map[string]any{},
			"policyTypes": []any{"Egress"},
			"egress": []any{map[string]any{
				"to":    []any{peer(dns.Namespace, dns.PodLabels)},
				"ports": portList(dns.PortRanges()),
			}},
		}), "")
}

// internalFlowPolicies adds, for an internal flow, an ingress policy per
// destination workload and an egress policy per source workload.
func internalFlowPolicies(set *policySet, p *platform.Platform, f *platform.ResolvedFlow, i int) {
	mf := &p.Spec.Flows.Internal[i]
	row := ModelRow(fmt.Sprintf("spec.flows.internal[%d]", i), f.Name)
	guide := guideAnnotation(f.Guide, f.Purpose)
	from := workloadPeers(f.From)
	for _, d := range f.To {
		name := objectName("allow", selectorName(mf.From), "to", d.Workload.Name, portsName(d.Ports))
		set.add(FileNetworkPolicies, policy(d.Workload.Zone, name, row, guide, map[string]any{
			"podSelector": matchLabels(d.Workload.PodLabels),
			"policyTypes": []any{"Ingress"},
			"ingress":     []any{map[string]any{"from": from, "ports": portList(d.Ports)}},
		}), f.Name)
	}
	rules, ports := egressRules(f.To)
	for _, s := range f.From {
		name := objectName("allow", s.Name, "to", selectorName(mf.To), portsName(ports), "egress")
		set.add(FileNetworkPolicies, policy(s.Zone, name, row, guide, map[string]any{
			"podSelector": matchLabels(s.PodLabels),
			"policyTypes": []any{"Egress"},
			"egress":      rules,
		}), f.Name)
	}
}

// egressRules groups destinations with the same resolved ports into one
// rule each, in model order, and returns the union of the ports.
func egressRules(dsts []platform.Destination) ([]any, []platform.PortRange) {
	var rules []any
	var all []platform.PortRange
	index := map[string]int{}
	var peers [][]*platform.Workload
	var ports [][]platform.PortRange
	for _, d := range dsts {
		k := portsName(d.Ports)
		i, ok := index[k]
		if !ok {
			i = len(peers)
			index[k] = i
			peers = append(peers, nil)
			ports = append(ports, d.Ports)
			all = append(all, d.Ports...)
		}
		peers[i] = append(peers[i], d.Workload)
	}
	for i := range peers {
		rules = append(rules, map[string]any{"to": workloadPeers(peers[i]), "ports": portList(ports[i])})
	}
	return rules, all
}

// ingressFlowPolicies adds, for a flow from source groups, an ingress policy
// per destination with ipBlock peers. ipBlock is meant for addresses outside
// the cluster (API reference, IPBlock), which these groups are.
func ingressFlowPolicies(set *policySet, p *platform.Platform, f *platform.ResolvedFlow, i int) {
	mf := &p.Spec.Flows.Ingress[i]
	row := ModelRow(fmt.Sprintf("spec.flows.ingress[%d]", i), f.Name)
	guide := guideAnnotation(f.Guide, f.Purpose)
	from := make([]any, 0, len(f.Sources))
	for _, pfx := range uniquePrefixes(f.Sources) {
		from = append(from, ipBlock(pfx, nil))
	}
	src := "cidrs"
	if len(mf.Groups) > 0 {
		src = objectName(mf.Groups...)
	}
	for _, d := range f.To {
		name := objectName("allow", src, "to", d.Workload.Name, portsName(d.Ports))
		set.add(FileNetworkPolicies, policy(d.Workload.Zone, name, row, guide, map[string]any{
			"podSelector": matchLabels(d.Workload.PodLabels),
			"policyTypes": []any{"Ingress"},
			"ingress":     []any{map[string]any{"from": from, "ports": portList(d.Ports)}},
		}), f.Name)
	}
}

// peer selects pods with labels in namespace ns.
func peer(ns string, labels map[string]string) map[string]any {
	return map[string]any{
		"namespaceSelector": matchLabels(map[string]string{namespaceNameLabel: ns}),
		"podSelector":       matchLabels(labels),
	}
}

func workloadPeers(ws []*platform.Workload) []any {
	out := make([]any, 0, len(ws))
	for _, w := range ws {
		out = append(out, peer(w.Zone, w.PodLabels))
	}
	return out
}

func matchLabels(labels map[string]string) map[string]any {
	m := make(map[string]any, len(labels))
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		m[k] = labels[k]
	}
	return map[string]any{"matchLabels": m}
}

// portList renders port ranges as NetworkPolicyPorts; numbers are int64, as
// unstructured objects require.
func portList(ranges []platform.PortRange) []any {
	out := make([]any, 0, len(ranges))
	for _, r := range sortedRanges(ranges) {
		pt := map[string]any{"protocol": r.Protocol, "port": int64(r.Port)}
		if r.EndPort != r.Port {
			pt["endPort"] = int64(r.EndPort)
		}
		out = append(out, pt)
	}
	return out
}

func ipBlock(cidr netip.Prefix, except []netip.Prefix) map[string]any {
	b := map[string]any{"cidr": cidr.String()}
	if len(except) > 0 {
		ex := make([]any, len(except))
		for i, e := range except {
			ex[i] = e.String()
		}
		b["except"] = ex
	}
	return map[string]any{"ipBlock": b}
}

// uniquePrefixes returns the masked prefixes sorted, without duplicates.
func uniquePrefixes(ps []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.Masked())
	}
	slices.SortFunc(out, comparePrefix)
	return slices.Compact(out)
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}
