package allowlist

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/budnet/budnet/internal/egress/verdict"
	"github.com/budnet/budnet/internal/platform"
)

// PortRange is an inclusive range of TCP ports; From == To for a single port.
type PortRange struct {
	From, To uint16
}

func (p PortRange) contains(port uint16) bool { return port >= p.From && port <= p.To }

// defaultPorts is what a rule without ports allows: the model's default
// egress port (platform.DefaultEgressPort, HTTPS), so the gateway and the
// model's own egress verdicts cannot disagree about a flow without ports.
var defaultPorts = []PortRange{{From: platform.DefaultEgressPort, To: platform.DefaultEgressPort}}

// Rule lets one source workload reach some destinations.
type Rule struct {
	Name   string         // shown in audit lines and metrics; defaults to source/index
	Source string         // workload name, as identity reports it
	Hosts  []string       // exact names or "*.example.com" (subdomains only)
	CIDRs  []netip.Prefix // IP-literal destinations (the address guard still applies)
	Ports  []PortRange    // empty means platform.DefaultEgressPort (443)
}

// Match is the result of checking one destination.
type Match struct {
	Rule    *Rule  // the rule that allowed it; nil when denied
	Pattern string // the host pattern or CIDR that matched; bounded, so fit for metric labels
	Reason  verdict.Reason
}

// Allowed reports whether a rule matched.
func (m Match) Allowed() bool { return m.Rule != nil }

// Policy is a compiled, immutable allowlist. Build it with Compile.
type Policy struct {
	sources map[string]*sourceRules
}

type sourceRules struct {
	exact    map[string][]*Rule // normalised host -> rules naming it
	wildcard map[string][]*Rule // normalised parent domain of "*.parent" -> rules
	cidr     []*Rule
}

// Compile validates rules and builds the lookup structures. Every host pattern is
// normalised with the same code as request hosts, so "API.OpenAI.com." in the
// model matches "api.openai.com" on the wire.
func Compile(rules []Rule) (*Policy, error) {
	p := &Policy{sources: map[string]*sourceRules{}}
	var errs []error
	for i := range rules {
		r := rules[i]
		if r.Source == "" {
			errs = append(errs, fmt.Errorf("rule %d (%s): empty source", i, r.Name))
			continue
		}
		if r.Name == "" {
			r.Name = fmt.Sprintf("%s/%d", r.Source, i)
		}
		if len(r.Ports) == 0 {
			r.Ports = defaultPorts
		}
		for _, pr := range r.Ports {
			if pr.From == 0 || pr.To < pr.From {
				errs = append(errs, fmt.Errorf("rule %s: bad port range %d-%d", r.Name, pr.From, pr.To))
			}
		}
		sr := p.sources[r.Source]
		if sr == nil {
			sr = &sourceRules{exact: map[string][]*Rule{}, wildcard: map[string][]*Rule{}}
			p.sources[r.Source] = sr
		}
		r.CIDRs = append([]netip.Prefix(nil), r.CIDRs...)
		rp := &r
		for _, h := range r.Hosts {
			if err := sr.addHost(h, rp); err != nil {
				errs = append(errs, fmt.Errorf("rule %s: %w", r.Name, err))
			}
		}
		for j, c := range r.CIDRs {
			if !c.IsValid() {
				errs = append(errs, fmt.Errorf("rule %s: invalid CIDR #%d", r.Name, j))
			}
			rp.CIDRs[j] = c.Masked()
		}
		if len(r.CIDRs) > 0 {
			sr.cidr = append(sr.cidr, rp)
		}
		if len(r.Hosts) == 0 && len(r.CIDRs) == 0 {
			errs = append(errs, fmt.Errorf("rule %s: no hosts and no CIDRs", r.Name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("compile egress allowlist: %w", err)
	}
	return p, nil
}

// addHost files pattern under the exact names or the wildcards: what it
// means, and which patterns are refused, is the model's host pattern's
// (platform.ParseHostPattern), so the gateway allows exactly the names the
// model's pattern matches (TestAgreesWithPlatform).
func (sr *sourceRules) addHost(pattern string, r *Rule) error {
	h, err := platform.ParseHostPattern(pattern)
	if err != nil {
		return err
	}
	if h.Wildcard() {
		sr.wildcard[h.Domain()] = append(sr.wildcard[h.Domain()], r)
	} else {
		sr.exact[h.Domain()] = append(sr.exact[h.Domain()], r)
	}
	return nil
}

// Sources lists the workloads that have rules.
func (p *Policy) Sources() []string {
	out := make([]string, 0, len(p.sources))
	for s := range p.sources {
		out = append(out, s)
	}
	return out
}

// Check decides whether source may reach host:port. Names match exact entries
// and wildcards (a wildcard never matches its own apex); IP literals match only
// CIDR entries. A host that matches with the wrong port reports
// ReasonPortNotAllowed so the audit line points at the port, not the host.
func (p *Policy) Check(source string, host Host, port uint16) Match {
	sr := p.sources[source]
	if sr == nil {
		if host.IsIP() {
			return Match{Reason: verdict.ReasonIPNotAllowed}
		}
		return Match{Reason: verdict.ReasonHostNotAllowed}
	}
	if host.IsIP() {
		hostMatched := false
		for _, r := range sr.cidr {
			for _, c := range r.CIDRs {
				if c.Contains(host.Addr) {
					hostMatched = true
					if portAllowed(r, port) {
						return Match{Rule: r, Pattern: c.String()}
					}
				}
			}
		}
		if hostMatched {
			return Match{Reason: verdict.ReasonPortNotAllowed}
		}
		return Match{Reason: verdict.ReasonIPNotAllowed}
	}
	hostMatched := false
	if m, ok := firstPort(sr.exact[host.Name], port, &hostMatched); ok {
		m.Pattern = host.Name
		return m
	}
	for name := host.Name; ; {
		i := strings.IndexByte(name, '.')
		if i < 0 {
			break
		}
		name = name[i+1:]
		if m, ok := firstPort(sr.wildcard[name], port, &hostMatched); ok {
			m.Pattern = "*." + name
			return m
		}
	}
	if hostMatched {
		return Match{Reason: verdict.ReasonPortNotAllowed}
	}
	return Match{Reason: verdict.ReasonHostNotAllowed}
}

func firstPort(rules []*Rule, port uint16, hostMatched *bool) (Match, bool) {
	for _, r := range rules {
		*hostMatched = true
		if portAllowed(r, port) {
			return Match{Rule: r}, true
		}
	}
	return Match{}, false
}

func portAllowed(r *Rule, port uint16) bool {
	for _, pr := range r.Ports {
		if pr.contains(port) {
			return true
		}
	}
	return false
}
