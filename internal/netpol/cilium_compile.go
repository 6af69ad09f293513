package netpol

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Cilium's label keys for an endpoint's namespace and its namespace's
// labels (github.com/cilium/cilium pkg/k8s/apis/cilium.io const.go:
// PodNamespaceLabel, PodNamespaceMetaLabelsPrefix).
const (
	ciliumNamespaceKey       = "io.kubernetes.pod.namespace"
	ciliumNamespaceLabelsKey = "io.cilium.k8s.namespace.labels."
)

// compiledCiliumPolicy is one rule (spec, or an entry of specs) of a
// Cilium policy, at the NetworkPolicy tier: it isolates the endpoints it
// selects in a direction where it has rules and default deny is on, its
// allows are unioned with every other policy's, and its denies win over
// every allow of the tier (Cilium's Documentation/security/policy/language.rst,
// Deny Policies).
type compiledCiliumPolicy struct {
	ref RuleRef // Section names spec or specs[i]
	// sel selects endpoints on their Cilium labels (ciliumLabels); ns
	// restricts a namespaced policy to its namespace.
	sel                          labels.Selector
	ns                           string
	inDefaultDeny, egDefaultDeny bool
	hasIn, hasEg                 bool
	inAllow, inDeny              []compiledCiliumRule
	egAllow, egDeny              []compiledCiliumRule
}

type compiledCiliumRule struct {
	ref      RuleRef
	allPeers bool
	peers    []int
	ports    compiledPorts
	// l7: the ports carry L7 rules (http, dns, kafka, l7proto): allowed at
	// L4, filtered at L7 by Cilium's proxy.
	l7 bool
	// fqdnNames and fqdnPatterns are the rule's toFQDNs matchName and
	// matchPattern entries (Engine.HostRules).
	fqdnNames, fqdnPatterns []string
}

func (p *compiledCiliumPolicy) rules(dir Direction, deny bool) []compiledCiliumRule {
	switch {
	case dir == Ingress && deny:
		return p.inDeny
	case dir == Ingress:
		return p.inAllow
	case deny:
		return p.egDeny
	}
	return p.egAllow
}

func (p *compiledCiliumPolicy) defaultDeny(dir Direction) bool {
	if dir == Ingress {
		return p.inDefaultDeny
	}
	return p.egDefaultDeny
}

// has reports whether the policy takes part in a direction at all.
func (p *compiledCiliumPolicy) has(dir Direction) bool {
	if dir == Ingress {
		return p.hasIn
	}
	return p.hasEg
}

// ciliumLabels is the label set Cilium selects a pod by: its labels, its
// namespace and its namespace's labels under Cilium's keys (the "k8s:"
// source prefix is dropped from selectors instead).
func (e *Engine) ciliumLabels(p *Pod) labels.Set {
	set := make(labels.Set, len(p.Labels)+8)
	for k, v := range p.Labels {
		set[k] = v
	}
	set[ciliumNamespaceKey] = p.Namespace
	for k, v := range e.nsLabels[p.Namespace] {
		set[ciliumNamespaceLabelsKey+k] = v
	}
	return set
}

func (e *Engine) ciliumSelects(p *compiledCiliumPolicy, pod *Pod) bool {
	return p.sel != nil && !pod.HostNetwork && (p.ns == "" || p.ns == pod.Namespace) && p.sel.Matches(e.ciliumLabels(pod))
}

// errCiliumUnjudged marks a selector the engine cannot evaluate (a source
// other than k8s/any, such as reserved:host).
var errCiliumUnjudged = errors.New("selects on labels of a source other than k8s (such as reserved:), which the engine does not model")

// ciliumSelector converts a Cilium endpoint selector: keys lose their "k8s:"
// or "any:" source prefix (pod labels are of source k8s); other sources are
// not judged. Cilium's keys without a prefix are of source "any"
// (pkg/policy/api selector.go NewESFromK8sLabelSelector).
func ciliumSelector(s *metav1.LabelSelector) (labels.Selector, *metav1.LabelSelector, error) {
	out := &metav1.LabelSelector{}
	strip := func(k string) (string, error) {
		src, key, ok := strings.Cut(k, ":")
		if !ok {
			return k, nil
		}
		if src != "k8s" && src != "any" {
			return "", errCiliumUnjudged
		}
		return key, nil
	}
	for k, v := range s.MatchLabels {
		key, err := strip(k)
		if err != nil {
			return nil, nil, err
		}
		if out.MatchLabels == nil {
			out.MatchLabels = map[string]string{}
		}
		if prev, dup := out.MatchLabels[key]; dup && prev != v {
			// "k8s:x: a" and "x: b" (or "any:x: b") name the one label of
			// a pod: both must hold, which no pod does. Kept as a second
			// requirement, so the result does not hang on map order.
			out.MatchExpressions = append(out.MatchExpressions, metav1.LabelSelectorRequirement{Key: key, Operator: metav1.LabelSelectorOpIn, Values: []string{v}})
			continue
		}
		out.MatchLabels[key] = v
	}
	for _, r := range s.MatchExpressions {
		key, err := strip(r.Key)
		if err != nil {
			return nil, nil, err
		}
		r.Key = key
		out.MatchExpressions = append(out.MatchExpressions, r)
	}
	sel, err := metav1.LabelSelectorAsSelector(out)
	return sel, out, err
}

// subjectSelector is a namespaced policy's endpointSelector as Cilium
// applies it: ParseToCiliumRule (pkg/k8s/apis/cilium.io/utils/utils.go)
// sets the matchLabels key "k8s:io.kubernetes.pod.namespace" to the
// policy's namespace (EndpointSelector.AddMatch), replacing a value naming
// another namespace with a warning ("illegal namespace match in
// EndpointSelector ... removing"), so such a policy still selects pods of
// its own namespace. Only that exact key is replaced: the key without a
// source prefix, "any:" or a matchExpression on it stays beside the added
// match. The policy's namespace itself is enforced by ciliumSelects.
func subjectSelector(ns string, s *metav1.LabelSelector) *metav1.LabelSelector {
	const key = "k8s:" + ciliumNamespaceKey
	if v, ok := s.MatchLabels[key]; ns == "" || !ok || v == ns {
		return s
	}
	out := *s
	out.MatchLabels = maps.Clone(s.MatchLabels)
	out.MatchLabels[key] = ns
	return &out
}

func hasKey(s *metav1.LabelSelector, key string) bool {
	if _, ok := s.MatchLabels[key]; ok {
		return true
	}
	for _, r := range s.MatchExpressions {
		if r.Key == key {
			return true
		}
	}
	return false
}

func hasKeyPrefix(s *metav1.LabelSelector, prefix string) bool {
	for k := range s.MatchLabels {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	for _, r := range s.MatchExpressions {
		if strings.HasPrefix(r.Key, prefix) {
			return true
		}
	}
	return false
}

// compileCilium compiles the cluster's Cilium policies.
func (b *builder) compileCilium(c *Cluster) []error {
	var errs []error
	for _, p := range c.CiliumNetworkPolicies {
		if p == nil {
			continue
		}
		ref := PolicyRef{Name: p.Name, Kind: KindCiliumNetworkPolicy}
		ns := ""
		if p.Clusterwide() {
			ref.Kind = KindCiliumClusterwideNetworkPolicy
		} else {
			ns = p.Namespace
			if ns == "" {
				ns = metav1.NamespaceDefault
			}
			ref.Namespace = ns
		}
		type spec struct {
			section string
			r       *CiliumRule
		}
		var specs []spec
		if p.Spec != nil {
			specs = append(specs, spec{"spec", p.Spec})
		}
		for i := range p.Specs {
			specs = append(specs, spec{fmt.Sprintf("specs[%d]", i), &p.Specs[i]})
		}
		if len(specs) == 0 {
			errs = append(errs, fmt.Errorf("%s: neither spec nor specs is set", ref))
			continue
		}
		for _, s := range specs {
			cp, err := b.ciliumRule(ref, ns, s.section, s.r)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %s.%w", ref, s.section, err))
				continue
			}
			b.e.cilium = append(b.e.cilium, cp)
		}
	}
	return errs
}

func (b *builder) unjudged(ref PolicyRef, field, why string) {
	b.e.unjudged = append(b.e.unjudged, UnjudgedPart{Policy: ref, Field: field, Why: why})
}

func (b *builder) ciliumRule(ref PolicyRef, ns, section string, r *CiliumRule) (compiledCiliumPolicy, error) {
	cp := compiledCiliumPolicy{ref: RuleRef{Policy: ref, Section: section}, ns: ns}
	// pkg/policy/api rule_validation.go Sanitize: exactly one selector.
	switch {
	case r.EndpointSelector != nil && r.NodeSelector != nil:
		return cp, errors.New("endpointSelector and nodeSelector are mutually exclusive")
	case r.EndpointSelector == nil && r.NodeSelector == nil:
		return cp, errors.New("one of endpointSelector and nodeSelector is required")
	case r.NodeSelector != nil:
		if ns != "" {
			return cp, errors.New("nodeSelector: only a CiliumClusterwideNetworkPolicy may select nodes")
		}
		// Host policies apply to nodes, which the engine does not model as
		// subjects: the whole rule is listed, none of it is judged.
		b.unjudged(ref, section+".nodeSelector", "a host policy (nodeSelector): the engine has no node endpoints to apply it to")
		return cp, nil
	}
	sel, _, err := ciliumSelector(subjectSelector(ns, r.EndpointSelector))
	if errors.Is(err, errCiliumUnjudged) {
		b.unjudged(ref, section+".endpointSelector", err.Error()+"; the rule is not applied")
		return cp, nil
	}
	if err != nil {
		return cp, fmt.Errorf("endpointSelector: %w", err)
	}
	cp.sel = sel
	cp.hasIn = len(r.Ingress) > 0 || len(r.IngressDeny) > 0
	cp.hasEg = len(r.Egress) > 0 || len(r.EgressDeny) > 0
	cp.inDefaultDeny, cp.egDefaultDeny = cp.hasIn, cp.hasEg
	if dd := r.EnableDefaultDeny; dd != nil {
		if dd.Ingress != nil {
			cp.inDefaultDeny = cp.hasIn && *dd.Ingress
		}
		if dd.Egress != nil {
			cp.egDefaultDeny = cp.hasEg && *dd.Egress
		}
	}
	for _, l := range []struct {
		name string
		deny bool
		dst  *[]compiledCiliumRule
	}{{"ingress", false, &cp.inAllow}, {"ingressDeny", true, &cp.inDeny}} {
		rules := r.Ingress
		if l.deny {
			rules = r.IngressDeny
		}
		for i := range rules {
			ir := &rules[i]
			at := fmt.Sprintf("%s.%s[%d]", section, l.name, i)
			cr, err := b.ciliumPeers(ref, ns, at, Ingress, l.deny, ciliumL3{
				endpoints: ir.FromEndpoints, requires: ir.FromRequires, cidr: ir.FromCIDR, cidrSet: ir.FromCIDRSet,
				entities: ir.FromEntities, groups: ir.FromGroups, nodes: ir.FromNodes, prefix: "from",
			}, ir.ToPorts, ir.ICMPs)
			if err != nil {
				return cp, fmt.Errorf("%s[%d]: %w", l.name, i, err)
			}
			cr.ref = RuleRef{Policy: ref, Direction: Ingress, Rule: i, Section: strings.TrimPrefix(section+"."+l.name, "spec.")}
			*l.dst = append(*l.dst, cr)
		}
	}
	for _, l := range []struct {
		name string
		deny bool
		dst  *[]compiledCiliumRule
	}{{"egress", false, &cp.egAllow}, {"egressDeny", true, &cp.egDeny}} {
		rules := r.Egress
		if l.deny {
			rules = r.EgressDeny
		}
		for i := range rules {
			er := &rules[i]
			at := fmt.Sprintf("%s.%s[%d]", section, l.name, i)
			if l.deny && len(er.ToFQDNs) > 0 {
				return cp, fmt.Errorf("%s[%d].toFQDNs: not allowed in deny rules", l.name, i)
			}
			cr, err := b.ciliumPeers(ref, ns, at, Egress, l.deny, ciliumL3{
				endpoints: er.ToEndpoints, requires: er.ToRequires, cidr: er.ToCIDR, cidrSet: er.ToCIDRSet,
				entities: er.ToEntities, groups: er.ToGroups, nodes: er.ToNodes, services: er.ToServices, fqdns: er.ToFQDNs, prefix: "to",
			}, er.ToPorts, er.ICMPs)
			if err != nil {
				return cp, fmt.Errorf("%s[%d]: %w", l.name, i, err)
			}
			cr.ref = RuleRef{Policy: ref, Direction: Egress, Rule: i, Section: strings.TrimPrefix(section+"."+l.name, "spec.")}
			*l.dst = append(*l.dst, cr)
		}
	}
	return cp, nil
}

// ciliumL3 is a rule's peer fields, ingress or egress.
type ciliumL3 struct {
	endpoints, requires, nodes []metav1.LabelSelector
	cidr                       []string
	cidrSet                    []CiliumCIDRRule
	entities                   []string
	groups, services           []byte
	fqdns                      []CiliumFQDNSelector
	prefix                     string // "from" or "to"
}

// ciliumPeers compiles one rule's peers and ports, as pkg/policy/rule.go
// mergeIngress/mergeEgress read them: a rule whose peer lists are all
// absent selects every peer on its ports (L4-only) and nothing without
// ports; an explicitly empty list selects nothing (pkg/policy/api
// ingress.go SetAggregatedSelectors); a rule without toPorts allows every
// port of its peers.
func (b *builder) ciliumPeers(ref PolicyRef, ns, at string, dir Direction, deny bool, l3 ciliumL3, toPorts []CiliumPortRule, icmps []byte) (compiledCiliumRule, error) {
	var cr compiledCiliumRule
	ruleNo := b.nRules
	b.nRules++
	add := func(pi int) {
		if !slices.Contains(cr.peers, pi) {
			cr.peers = append(cr.peers, pi)
			b.e.peerRules[pi] = append(b.e.peerRules[pi], ruleNo)
		}
	}
	p := l3.prefix
	emptyList := (l3.endpoints != nil && len(l3.endpoints) == 0) || (l3.cidr != nil && len(l3.cidr) == 0) ||
		(l3.cidrSet != nil && len(l3.cidrSet) == 0) || (l3.entities != nil && len(l3.entities) == 0) ||
		(l3.nodes != nil && len(l3.nodes) == 0)
	anyL3 := len(l3.endpoints)+len(l3.cidr)+len(l3.cidrSet)+len(l3.entities)+len(l3.nodes)+len(l3.fqdns) > 0 ||
		len(l3.groups) > 0 || len(l3.services) > 0
	addCIDR := func(field, s string, except []string) error {
		pfx, err := parseCIDROrAddr(s)
		if err != nil {
			return fmt.Errorf("%s: %q is not a CIDR", field, s)
		}
		m := peerMatcher{kind: peerIPBlock, cidr: pfx, podIPs: podIPsNever}
		key := "cc|" + pfx.String()
		for _, x := range except {
			ex, err := parseCIDROrAddr(x)
			if err != nil || ex.Addr().Is4() != pfx.Addr().Is4() || ex.Bits() < pfx.Bits() || !pfx.Contains(ex.Addr()) {
				return fmt.Errorf("%s.except: %q is not a CIDR within %s", field, x, pfx)
			}
			m.except = append(m.except, ex)
		}
		slices.SortFunc(m.except, comparePrefix)
		m.except = slices.Compact(m.except)
		for _, x := range m.except {
			key += "|" + x.String()
		}
		add(b.internPeer(key, m))
		return nil
	}
	for i := range l3.endpoints {
		s := &l3.endpoints[i]
		if ent, ok := reservedEntity(s); ok {
			// A selector of one reserved label is the entity of that name
			// (pkg/policy/api entity.go builds each entity as exactly such a
			// selector).
			if err := b.ciliumEntity(ref, fmt.Sprintf("%s.%sEndpoints[%d]", at, p, i), ent, add, addCIDR); err != nil {
				return cr, fmt.Errorf("%sEndpoints[%d]: %w", p, i, err)
			}
			continue
		}
		sel, conv, err := ciliumSelector(s)
		if errors.Is(err, errCiliumUnjudged) {
			b.unjudged(ref, fmt.Sprintf("%s.%sEndpoints[%d]", at, p, i), err.Error()+"; it matches nothing here")
			continue
		}
		if err != nil {
			return cr, fmt.Errorf("%sEndpoints[%d]: %w", p, i, err)
		}
		// pkg/k8s/apis/cilium.io/utils/utils.go getEndpointSelector: without
		// a namespace key, a namespaced policy's selector is limited to its
		// namespace (unless it selects on namespace labels), a clusterwide
		// one's to endpoints that have a namespace (pods, not reserved
		// identities).
		m := peerMatcher{kind: peerCilium, podSel: sel}
		key := "c|" + sel.String()
		if !hasKey(conv, ciliumNamespaceKey) {
			switch {
			case ns != "" && !hasKeyPrefix(conv, ciliumNamespaceLabelsKey):
				m.policyNS, key = ns, key+"|ns="+ns
			}
		}
		if hasKey(conv, "io.cilium.k8s.policy.serviceaccount") || hasKey(conv, "io.cilium.k8s.policy.cluster") {
			b.unjudged(ref, fmt.Sprintf("%s.%sEndpoints[%d]", at, p, i), "selects on a service account or cluster name, which the engine's pods do not carry; it matches nothing here")
			continue
		}
		add(b.internPeer(key, m))
	}
	if len(l3.requires) > 0 {
		b.unjudged(ref, fmt.Sprintf("%s.%sRequires", at, p), "requirements (deprecated) constrain every rule of the endpoint; not evaluated")
	}
	if len(l3.nodes) > 0 && b.hasNodes() {
		// Node selectors select node identities (host, remote-node) by
		// their labels: with no host-network pods the engine has no node
		// among its peers and they match nothing, as they do here.
		b.unjudged(ref, fmt.Sprintf("%s.%sNodes", at, p), "node selectors: the engine has no Node labels for its host-network pods; they match nothing here")
	}
	if len(l3.groups) > 0 {
		b.unjudged(ref, fmt.Sprintf("%s.%sGroups", at, p), "cloud-provider groups are not evaluated; they match nothing here")
	}
	if len(l3.services) > 0 {
		b.unjudged(ref, at+".toServices", "service selectors are not evaluated; they match nothing here")
	}
	for i, s := range l3.cidr {
		if err := addCIDR(fmt.Sprintf("%sCIDR[%d]", p, i), s, nil); err != nil {
			return cr, err
		}
	}
	for i, s := range l3.cidrSet {
		field := fmt.Sprintf("%sCIDRSet[%d]", p, i)
		if s.CIDR == "" {
			b.unjudged(ref, at+"."+field, "CIDR groups are not evaluated; it matches nothing here")
			continue
		}
		if err := addCIDR(field, s.CIDR, s.Except); err != nil {
			return cr, err
		}
	}
	for i, ent := range l3.entities {
		field := fmt.Sprintf("%s.%sEntities[%d]", at, p, i)
		if err := b.ciliumEntity(ref, field, ent, add, addCIDR); err != nil {
			return cr, fmt.Errorf("%sEntities[%d]: %w", p, i, err)
		}
	}
	for _, f := range l3.fqdns {
		switch {
		case f.MatchName != "":
			cr.fqdnNames = append(cr.fqdnNames, f.MatchName)
		case f.MatchPattern != "":
			cr.fqdnPatterns = append(cr.fqdnPatterns, f.MatchPattern)
		}
	}
	if len(l3.fqdns) > 0 {
		b.unjudged(ref, at+".toFQDNs", "names are not judgeable on addresses: reported as host (FQDN) egress")
	}
	var err error
	cr.ports, cr.l7, err = b.ciliumPorts(toPorts)
	if err != nil {
		return cr, err
	}
	if deny && cr.l7 {
		return cr, errors.New("toPorts.rules: deny rules cannot carry L7 rules")
	}
	hasPorts := len(toPorts) > 0
	switch {
	case emptyList:
		cr.peers, cr.ports = nil, compiledPorts{} // selects nothing
	case !anyL3 && hasPorts:
		cr.allPeers = true
	case !anyL3:
		cr.ports = compiledPorts{} // an empty rule allows nothing
	case !hasPorts && len(icmps) > 0:
		cr.ports = compiledPorts{} // ICMP only: no TCP, UDP or SCTP port
	}
	return cr, nil
}

// parseCIDROrAddr accepts a prefix or a bare address (Cilium's CIDR type
// allows both, pkg/policy/api cidr.go).
func parseCIDROrAddr(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || p.Addr().Is4In6() {
		return netip.Prefix{}, fmt.Errorf("not a CIDR")
	}
	return p.Masked(), nil
}

// ciliumPorts compiles toPorts: absent means every port; a port of "" or "0"
// every port of its protocol; protocol ANY (the default) TCP, UDP and SCTP;
// a non-numeric port is a named port; endPort makes a range
// (pkg/policy/api l4.go PortProtocol). ICMP protocols carry no TCP, UDP or
// SCTP port.
func (b *builder) ciliumPorts(rules []CiliumPortRule) (compiledPorts, bool, error) {
	if len(rules) == 0 {
		return compiledPorts{numeric: AllPorts()}, false, nil
	}
	var cp compiledPorts
	l7 := false
	for i, r := range rules {
		if len(r.Rules) > 0 && string(r.Rules) != "null" && string(r.Rules) != "{}" {
			l7 = true
		}
		if len(r.Ports) == 0 {
			// A port rule without ports covers every port (pkg/policy/api
			// PortRule: "If omitted or empty ... all ports").
			cp.numeric = cp.numeric.Union(AllPorts())
			continue
		}
		for j, pp := range r.Ports {
			var protos []int
			switch strings.ToUpper(pp.Protocol) {
			case "", "ANY":
				protos = []int{0, 1, 2}
			case "TCP", "UDP", "SCTP":
				pi, _ := protoIndex(corev1.Protocol(strings.ToUpper(pp.Protocol)))
				protos = []int{pi}
			case "ICMP", "ICMPV6", "VRRP", "IGMP":
				continue
			default:
				return cp, false, fmt.Errorf("toPorts[%d].ports[%d].protocol: unknown protocol %q", i, j, pp.Protocol)
			}
			n, numErr := strconv.Atoi(pp.Port)
			switch {
			case pp.Port == "" || pp.Port == "0":
				for _, pi := range protos {
					cp.numeric = cp.numeric.Union(allOf(pi))
				}
			case numErr != nil:
				if pp.EndPort != 0 {
					return cp, false, fmt.Errorf("toPorts[%d].ports[%d]: endPort needs a numeric port", i, j)
				}
				for _, pi := range protos {
					np := namedPort{proto: pi, name: pp.Port}
					idx, ok := b.namedIdx[np]
					if !ok {
						idx = len(b.e.named)
						b.namedIdx[np] = idx
						b.e.named = append(b.e.named, np)
					}
					if !slices.Contains(cp.named, idx) {
						cp.named = append(cp.named, idx)
					}
				}
			default:
				hi := int32(n)
				if pp.EndPort != 0 {
					hi = pp.EndPort
				}
				if n < int(minPort) || n > int(maxPort) || hi < int32(n) || hi > maxPort {
					return cp, false, fmt.Errorf("toPorts[%d].ports[%d]: invalid port range %s-%d", i, j, pp.Port, hi)
				}
				for _, pi := range protos {
					cp.numeric = cp.numeric.Union(singleRange(PortRange{Protocol: protocols[pi], Start: int32(n), End: hi}))
				}
			}
		}
	}
	return cp, l7, nil
}

// ciliumEntity adds the peers of one entity (pkg/policy/api entity.go
// EntitySelectorMapping) to a rule. The engine's peers are pods, nodes (as
// host-network pods) and addresses outside the cluster, so an entity is
// judged when what it selects among those is known:
//   - world, world-ipv4, world-ipv6: every address outside the cluster
//     (Cilium gives such an address a CIDR identity labelled
//     reserved:world-ipv4/-ipv6 in a dual-stack agent, reserved:world in a
//     single-stack one: pkg/labels cidr.go getWorldLabel);
//   - cluster, and cluster-mesh (the cluster entity of every cluster of a
//     mesh; the engine sees one cluster): every pod and node (InitEntities:
//     host, remote-node, the cluster's pods by their cluster label, ...);
//   - all: both;
//   - none: nothing (reserved:none, which no identity carries);
//   - host, remote-node: the endpoint's own node and every other node. They
//     select no pod-network pod and no address outside the cluster, so a
//     cluster without host-network pods is judged exactly; with some, the
//     engine cannot tell the subject's node from the others (pods carry no
//     node), matches every node and lists the entity;
//   - kube-apiserver: the addresses of the default/kubernetes endpoints
//     (pkg/ipcache/cell apiserver_watcher.go), which the engine is not
//     given: it matches no pod-network pod, nothing else here, and is listed;
//   - health, init, ingress, unmanaged: identities the engine has no
//     endpoint for (Cilium's health endpoints, endpoints before their
//     labels are known, the Envoy ingress, pods Cilium does not manage):
//     they match nothing here, and are listed.
func (b *builder) ciliumEntity(ref PolicyRef, field, ent string, add func(int), addCIDR func(field, s string, except []string) error) error {
	cluster := func() { add(b.internPeer("cluster", peerMatcher{kind: peerCluster})) }
	world := func(cidrs ...string) {
		for _, w := range cidrs {
			_ = addCIDR(field, w, nil) // constant, valid
		}
	}
	switch ent {
	case "all":
		cluster()
		world("0.0.0.0/0", "::/0")
	case "world":
		world("0.0.0.0/0", "::/0")
	case "world-ipv4":
		world("0.0.0.0/0")
	case "world-ipv6":
		world("::/0")
	case "cluster", "cluster-mesh":
		cluster()
	case "none":
	case "host", "remote-node":
		add(b.internPeer("nodes", peerMatcher{kind: peerNodes}))
		if b.hasNodes() {
			b.unjudged(ref, field, ent+": the engine does not tell the endpoint's own node from the others; it matches every node (host-network pod)")
		}
	case "kube-apiserver":
		b.unjudged(ref, field, ent+": the engine is not given the API server's addresses; it matches no pod and nothing else here")
	case "health", "init", "ingress", "unmanaged":
		b.unjudged(ref, field, ent+": an entity the engine has no endpoint for; it matches nothing here")
	default:
		return fmt.Errorf("unknown entity %q", ent)
	}
	return nil
}

// reservedEntity reports whether a peer selector is one reserved label,
// {matchLabels: {"reserved:<name>": ""}}, naming an entity of one selector
// (pkg/policy/api entity.go): such a selector is that entity, as the
// parser leaves a selector with a reserved key without namespace or cluster
// terms (pkg/k8s/apis/cilium.io/utils/utils.go getEndpointSelector). The world
// labels are left to ciliumSelector (not judged): which of reserved:world
// and reserved:world-ipv4/-ipv6 an address carries depends on the agent's
// address families.
func reservedEntity(s *metav1.LabelSelector) (string, bool) {
	if len(s.MatchLabels) != 1 || len(s.MatchExpressions) != 0 {
		return "", false
	}
	for k, v := range s.MatchLabels {
		name, ok := strings.CutPrefix(k, "reserved:")
		switch {
		case !ok || v != "":
		case name == "host", name == "remote-node", name == "kube-apiserver", name == "none",
			name == "health", name == "init", name == "ingress", name == "unmanaged":
			return name, true
		}
	}
	return "", false
}
