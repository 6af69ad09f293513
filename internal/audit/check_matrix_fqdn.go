package audit

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"budnet/internal/egress/allowlist"
	"budnet/internal/manifest"
	"budnet/internal/netpol"
	"budnet/internal/reach"
)

// The matrix is computed from NetworkPolicies, which cannot name hosts, so a
// flow to an external host name carried only by a CiliumNetworkPolicy
// toFQDNs rule looks blocked to it. Cilium enforces the union of the allow
// rules of every policy that selects an endpoint, NetworkPolicies and
// CiliumNetworkPolicies alike
// (https://docs.cilium.io/en/stable/security/policy/intro/), so such a flow
// is open. fqdnCarrier finds the policy that opens it.

// fqdnCarrier returns a CiliumNetworkPolicy or
// CiliumClusterwideNetworkPolicy that opens the discrepancy's flow to
// external hosts: for every host of the flow, egress rules whose toFQDNs
// admit it and whose toPorts cover every port, of policies whose endpoint
// selector selects the source workload. The rules may be spread over several
// policies; the first is returned. nil when some host is not covered, or the
// discrepancy is not a flow to host names.
func fqdnCarrier(c *Context, d reach.Discrepancy) *manifest.Object {
	if len(d.Hosts) == 0 {
		return nil
	}
	var src *manifest.Workload
	for _, w := range c.Inventory.Workloads {
		if w.Ref() == d.Src {
			src = w
			break
		}
	}
	if src == nil {
		return nil
	}
	type rule struct {
		obj   *manifest.Object
		fqdns fqdnSet
		ports netpol.PortSet
	}
	var rules []rule
	for _, o := range objectsOf(c.Inventory, groupsCilium, "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy") {
		if o.Kind == "CiliumNetworkPolicy" && o.Namespace != src.Namespace {
			continue
		}
		for _, spec := range ciliumSpecs(o) {
			if !ciliumSelects(asMap(spec["endpointSelector"]), src) {
				continue
			}
			for _, r := range sliceIn(spec, "egress") {
				rm := asMap(r)
				if fqdns := sliceIn(rm, "toFQDNs"); len(fqdns) > 0 {
					rules = append(rules, rule{obj: o, fqdns: readFQDNs(fqdns), ports: ciliumPorts(sliceIn(rm, "toPorts"))})
				}
			}
		}
	}
	var carrier *manifest.Object
	for _, host := range d.Hosts {
		left := d.Ports
		for _, r := range rules {
			if r.fqdns.admits(host) {
				left = left.Minus(r.ports)
				if carrier == nil {
					carrier = r.obj
				}
			}
		}
		if !left.IsEmpty() {
			return nil
		}
	}
	return carrier
}

// ciliumSelects matches an endpointSelector's matchLabels against the pod
// labels; Cilium's "k8s:" source prefix is dropped and its namespace label
// compared with the workload's namespace. A selector with matchExpressions
// is not judged (nil result is the safe side: the flow stays broken).
func ciliumSelects(sel map[string]any, w *manifest.Workload) bool {
	if sel == nil || len(sliceIn(sel, "matchExpressions")) > 0 {
		return false
	}
	for k, v := range asMap(sel["matchLabels"]) {
		want, _ := v.(string)
		k = strings.TrimPrefix(k, "k8s:")
		if k == "io.kubernetes.pod.namespace" {
			if want != w.Namespace {
				return false
			}
			continue
		}
		if w.Labels[k] != want {
			return false
		}
	}
	return true
}

// fqdnSet is a toFQDNs list read for the question "does it admit this
// model host?". Model hosts are the egress allowlist's patterns (an exact
// name, or "*.example.com" for subdomains at any depth), so the selectors are
// read into the allowlist's own matcher (internal/egress/allowlist) where
// they mean the same: matchName is an exact name and a matchPattern "**."
// prefix (Cilium 1.19 and later: one or more whole labels, never the apex) is
// the allowlist's "*.". Only patterns the allowlist cannot express (a "*"
// within a label) keep Cilium's own reading, which can admit exact names
// only (https://docs.cilium.io/en/stable/security/policy/language/#dns-based).
type fqdnSet struct {
	all bool // a match-all pattern ("*", "**.")
	// names holds exact names and "**." patterns; subdomains only the latter.
	names, subdomains *allowlist.Policy
	withinLabel       []*regexp.Regexp
}

// fqdnSource is the one source of the allowlist policies fqdnSet compiles.
const fqdnSource = "toFQDNs"

func readFQDNs(fqdns []any) fqdnSet {
	var s fqdnSet
	var names, subdomains []string
	for _, f := range fqdns {
		fm := asMap(f)
		if n := stringIn(fm, "matchName"); n != "" {
			if validPattern(n) {
				names = append(names, n)
			}
			continue
		}
		p := strings.ToLower(strings.TrimSpace(stringIn(fm, "matchPattern")))
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

// admits reports whether the set admits every name the model host stands for.
func (s fqdnSet) admits(host string) bool {
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
		for _, p := range sliceIn(asMap(tp), "ports") {
			pm := asMap(p)
			// Cilium's protocol defaults to ANY: TCP, UDP and SCTP alike.
			protos := []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}
			if pr := strings.ToUpper(stringIn(pm, "protocol")); pr != "" && pr != "ANY" {
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
