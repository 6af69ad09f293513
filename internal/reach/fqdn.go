package reach

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/budnet/budnet/internal/egress/allowlist"
	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/netpol"
)

// NetworkPolicy cannot name hosts, so a flow to external host names carried
// only by a CiliumNetworkPolicy toFQDNs rule looks blocked in the matrix.
// Cilium enforces the union of the allow rules of every policy that selects
// an endpoint, NetworkPolicies and CiliumNetworkPolicies alike
// (https://docs.cilium.io/en/stable/security/policy/intro/), so such a flow
// is open. Compare reads those rules and reports the flow as opened by them
// (Diff.OpenedByFQDN), not as broken.

// fqdnRule is one egress rule with toFQDNs of a CiliumNetworkPolicy or
// CiliumClusterwideNetworkPolicy.
type fqdnRule struct {
	policy    string // "namespace/name[Kind]" or "name[Kind]"
	namespace string // the CiliumNetworkPolicy's; "" when clusterwide
	selector  map[string]any
	names     FQDNSet
	ports     netpol.PortSet
}

// ciliumGroup is the API group of Cilium's policies.
const ciliumGroup = "cilium.io"

// readFQDNRules reads the toFQDNs egress rules of the inventory's Cilium
// policies (spec and every entry of specs).
func readFQDNRules(inv *manifest.Inventory) []fqdnRule {
	var out []fqdnRule
	for _, o := range inv.Objects {
		if o.Unstructured == nil || (o.Kind != "CiliumNetworkPolicy" && o.Kind != "CiliumClusterwideNetworkPolicy") ||
			!strings.HasPrefix(o.APIVersion, ciliumGroup+"/") {
			continue
		}
		ns := ""
		if o.Kind == "CiliumNetworkPolicy" {
			ns = o.Namespace
		}
		for _, spec := range CiliumSpecs(o.Unstructured.Object) {
			sel, _ := spec["endpointSelector"].(map[string]any)
			for _, r := range sliceAt(spec, "egress") {
				rm, _ := r.(map[string]any)
				if fqdns := sliceAt(rm, "toFQDNs"); len(fqdns) > 0 {
					out = append(out, fqdnRule{policy: o.Ref(), namespace: ns, selector: sel,
						names: ReadFQDNs(fqdns), ports: ciliumPorts(sliceAt(rm, "toPorts"))})
				}
			}
		}
	}
	return out
}

// CiliumSpecs returns a Cilium policy's spec and every entry of its specs.
func CiliumSpecs(obj map[string]any) []map[string]any {
	var out []map[string]any
	if m, ok := obj["spec"].(map[string]any); ok {
		out = append(out, m)
	}
	for _, s := range sliceAt(obj, "specs") {
		if m, ok := s.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func sliceAt(m map[string]any, path ...string) []any {
	v, ok, err := unstructured.NestedFieldNoCopy(m, path...)
	if !ok || err != nil {
		return nil
	}
	s, _ := v.([]any)
	return s
}

func stringAt(m map[string]any, key string) string {
	switch v := m[key].(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// selects matches the rule's endpointSelector against a workload: its
// matchLabels against the pod labels, Cilium's "k8s:" source prefix dropped
// and its namespace label compared with the workload's namespace; a
// CiliumNetworkPolicy selects only in its own namespace. A selector with
// matchExpressions is not judged (false is the safe side: the flow stays
// broken).
func (r *fqdnRule) selects(ns string, labels map[string]string) bool {
	if r.selector == nil || len(sliceAt(r.selector, "matchExpressions")) > 0 || (r.namespace != "" && r.namespace != ns) {
		return false
	}
	ml, _ := r.selector["matchLabels"].(map[string]any)
	for k, v := range ml {
		want, _ := v.(string)
		k = strings.TrimPrefix(k, "k8s:")
		if k == "io.kubernetes.pod.namespace" {
			if want != ns {
				return false
			}
			continue
		}
		if have, ok := labels[k]; !ok || have != want {
			return false
		}
	}
	return true
}

// fqdnOpens returns the policies whose toFQDNs rules open the intent's
// missing ports to every one of its hosts for its source; nil when some
// host stays closed on some port.
func (c *comparison) fqdnOpens(it *intent, missing netpol.PortSet) []string {
	w, ok := c.in.Workload(it.src)
	if !ok || len(c.in.fqdn) == 0 {
		return nil
	}
	var policies []string
	for _, host := range it.hosts {
		left := missing
		for i := range c.in.fqdn {
			r := &c.in.fqdn[i]
			if r.selects(w.Namespace, w.Labels) && r.names.Admits(host) && !left.Intersect(r.ports).IsEmpty() {
				left = left.Minus(r.ports)
				if !slices.Contains(policies, r.policy) {
					policies = append(policies, r.policy)
				}
			}
		}
		if !left.IsEmpty() {
			return nil
		}
	}
	return policies
}

// FQDNSet is a toFQDNs list (CiliumNetworkPolicy egress) read for the
// question "does it admit this model host?". Model hosts are the egress allowlist's patterns (an exact
// name, or "*.example.com" for subdomains at any depth), so the selectors are
// read into the allowlist's own matcher (internal/egress/allowlist) where
// they mean the same: matchName is an exact name and a matchPattern "**."
// prefix (Cilium 1.19 and later: one or more whole labels, never the apex) is
// the allowlist's "*.". Only patterns the allowlist cannot express (a "*"
// within a label) keep Cilium's own reading, which can admit exact names
// only (https://docs.cilium.io/en/stable/security/policy/language/#dns-based).
// "**." is read with the meaning Cilium gives it from 1.19 (the CRD version
// budnet pins); older Cilium reads it within one label.
type FQDNSet struct {
	all bool // a match-all pattern ("*", "**.")
	// names holds exact names and "**." patterns; subdomains only the latter.
	names, subdomains *allowlist.Policy
	withinLabel       []*regexp.Regexp
}

// fqdnSource is the one source of the allowlist policies FQDNSet compiles.
const fqdnSource = "toFQDNs"

// ReadFQDNs reads a toFQDNs list as decoded from YAML.
func ReadFQDNs(fqdns []any) FQDNSet {
	var s FQDNSet
	var names, subdomains []string
	for _, f := range fqdns {
		fm := asMapOf(f)
		if n := stringAt(fm, "matchName"); n != "" {
			if validPattern(n) {
				names = append(names, n)
			} else if re, err := regexp.Compile("^" + regexp.QuoteMeta(strings.ToLower(strings.TrimSuffix(n, "."))) + "$"); err == nil {
				// A name the allowlist refuses (an underscore label) is
				// still Cilium's exact match.
				s.withinLabel = append(s.withinLabel, re)
			}
			continue
		}
		p := strings.ToLower(strings.TrimSpace(stringAt(fm, "matchPattern")))
		switch {
		case p == "":
		case ciliumMatchAll.MatchString(p):
			s.all = true
		default:
			if rest, ok := strings.CutPrefix(strings.TrimLeft(p, "*"), "."); ok && strings.HasPrefix(p, "**") &&
				!strings.Contains(rest, "*") && validPattern("*."+rest) {
				names = append(names, "*."+rest)
				subdomains = append(subdomains, "*."+rest)
				continue
			}
			if re, err := regexp.Compile(ciliumPatternRegexp(p)); err == nil {
				s.withinLabel = append(s.withinLabel, re)
			}
		}
	}
	s.names = compileHosts(names)
	s.subdomains = compileHosts(subdomains)
	return s
}

// validPattern reports whether the allowlist accepts pattern as a host.
func validPattern(pattern string) bool {
	_, err := allowlist.Compile([]allowlist.Rule{{Source: fqdnSource, Hosts: []string{pattern}}})
	return err == nil
}

func compileHosts(hosts []string) *allowlist.Policy {
	if len(hosts) == 0 {
		return nil
	}
	p, err := allowlist.Compile([]allowlist.Rule{{Source: fqdnSource, Hosts: hosts, Ports: []allowlist.PortRange{{From: 1, To: 65535}}}})
	if err != nil {
		return nil // each host was validated alone; a union cannot fail
	}
	return p
}

// Admits reports whether the set admits every name the model host stands for.
func (s FQDNSet) Admits(host string) bool {
	if s.all {
		return true
	}
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		// Every subdomain of rest: a "**." pattern of rest or of a parent.
		// The allowlist matches a name's strict parents against its
		// wildcards, so any one label under rest asks exactly that.
		h, err := allowlist.NormalizeHost("a." + rest)
		return err == nil && s.subdomains != nil && s.subdomains.Check(fqdnSource, h, 443).Allowed()
	}
	h, err := allowlist.NormalizeHost(host)
	if err != nil || h.IsIP() {
		return false
	}
	if s.names != nil && s.names.Check(fqdnSource, h, 443).Allowed() {
		return true
	}
	for _, re := range s.withinLabel {
		if re.MatchString(h.Name) {
			return true
		}
	}
	return false
}

// ciliumMatchAll is Cilium's match-all pattern ("*", "**", "*.", ...):
// dnsWildcardRegex in pkg/fqdn/matchpattern/matchpattern.go, cilium v1.20.2.
var ciliumMatchAll = regexp.MustCompile(`^[*]+[.]?$`)

// ciliumPatternRegexp is Cilium's ToAnchoredRegexp for a pattern that is not
// match-all (pkg/fqdn/matchpattern, cilium v1.20.2), for a name without its
// trailing dot: "." is literal, a leading "**." is one or more whole labels,
// any other run of "*" is DNS characters within one label.
func ciliumPatternRegexp(p string) string {
	p = strings.TrimSuffix(p, ".")
	p = strings.ReplaceAll(p, ".", "[.]")
	p = ciliumSubdomains.ReplaceAllString(p, "([-a-zA-Z0-9_]+([.][-a-zA-Z0-9_]+){0,})[.]")
	p = ciliumWildcard.ReplaceAllString(p, "[-a-zA-Z0-9_]*")
	return "^" + p + "$"
}

var (
	ciliumSubdomains = regexp.MustCompile(`^[*]{2,}\[\.\]`)
	ciliumWildcard   = regexp.MustCompile(`[*]+`)
)

// ciliumPorts is the port set of a rule's toPorts; no toPorts means every
// port. Named ports cannot apply to an external host and are skipped.
func ciliumPorts(toPorts []any) netpol.PortSet {
	if len(toPorts) == 0 {
		return netpol.AllPorts()
	}
	var ranges []netpol.PortRange
	for _, tp := range toPorts {
		for _, p := range sliceAt(asMapOf(tp), "ports") {
			pm := asMapOf(p)
			// Cilium's protocol defaults to ANY: TCP, UDP and SCTP alike.
			protos := []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}
			if pr := strings.ToUpper(stringAt(pm, "protocol")); pr != "" && pr != "ANY" {
				protos = []corev1.Protocol{corev1.Protocol(pr)}
			}
			port, err := strconv.Atoi(fmt.Sprint(pm["port"]))
			if err != nil || port < 0 || port > 65535 {
				continue
			}
			start, end := int32(port), int32(port)
			if e, ok := pm["endPort"].(int64); ok && e >= int64(port) && e <= 65535 {
				end = int32(e)
			}
			if port == 0 {
				start, end = 1, 65535
			}
			for _, proto := range protos {
				ranges = append(ranges, netpol.PortRange{Protocol: proto, Start: start, End: end})
			}
		}
	}
	return netpol.NewPortSet(ranges...)
}

func asMapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}
