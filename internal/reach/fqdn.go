package reach

import (
	"regexp"
	"slices"
	"strings"

	"github.com/budnet/budnet/internal/egress/allowlist"
	"github.com/budnet/budnet/internal/netpol"
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
		sets := make([]FQDNSet, len(rules))
		for i, r := range rules {
			var fqdns []any
			for _, n := range r.MatchNames {
				fqdns = append(fqdns, map[string]any{"matchName": n})
			}
			for _, p := range r.MatchPatterns {
				fqdns = append(fqdns, map[string]any{"matchPattern": p})
			}
			sets[i] = ReadFQDNs(fqdns)
		}
		for _, host := range it.hosts {
			left := missing
			for i, r := range rules {
				if sets[i].Admits(host) && !left.Intersect(r.Ports).IsEmpty() {
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
