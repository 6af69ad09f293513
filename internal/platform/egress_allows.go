package platform

import (
	"fmt"
	"strings"
)

// EgressVerdict is what the model's egress flows say about one workload
// reaching one host on one TCP port.
type EgressVerdict int

// Egress verdicts. The refusals name what the egress gateway names in its
// audit line (verdict.Reason: host_not_allowed, port_not_allowed,
// invalid_host).
const (
	EgressAllowed        EgressVerdict = iota
	EgressHostNotAllowed               // no flow of the workload names the host
	EgressPortNotAllowed               // a flow names the host, none on this port
	EgressInvalidHost                  // the host is no DNS name (a wildcard, an address)
)

func (v EgressVerdict) String() string {
	switch v {
	case EgressAllowed:
		return "allowed"
	case EgressHostNotAllowed:
		return "host_not_allowed"
	case EgressPortNotAllowed:
		return "port_not_allowed"
	case EgressInvalidHost:
		return "invalid_host"
	}
	return fmt.Sprintf("EgressVerdict(%d)", int(v))
}

// defaultEgressPort is the port an egress rule without ports allows in the
// egress gateway (HTTPS, the guide's egress port, sections 4.3 and 8.2);
// validation requires ports on every flow, so only an unvalidated model
// meets it.
const defaultEgressPort = 443

// AllowsEgress says whether the model's egress flows let workload source
// reach the DNS name host on TCP port: a flow from source one of whose
// host patterns matches host (HostPattern.Matches) and one of whose TCP
// port ranges holds port. It is the decision the egress gateway makes from
// the model before any lookup (egress.SpecFromPlatform compiles these flows
// into its allowlist, whose matcher agrees with HostPattern:
// allowlist.TestAgreesWithPlatform), without importing the gateway;
// generate's TestAllowsEgressAgreesWithGateway holds the two equal. It
// fails only when the flows do not resolve (an unvalidated model).
func (p *Platform) AllowsEgress(source, host string, port int) (EgressVerdict, error) {
	h, err := ReadHostPattern(host)
	if err != nil || h.wildcard {
		return EgressInvalidHost, nil
	}
	flows, err := p.Flows()
	if err != nil {
		return EgressInvalidHost, fmt.Errorf("egress flows: %w", err)
	}
	v := EgressHostNotAllowed
	for _, f := range flows {
		if f.Kind != FlowEgress || !fromWorkload(f.From, source) || !matchesAny(f.Hosts, h.domain) {
			continue
		}
		tcp, held := 0, len(f.Ports) == 0 && port == defaultEgressPort
		for _, r := range f.Ports {
			if r.Protocol != "" && !strings.EqualFold(r.Protocol, "TCP") {
				continue
			}
			tcp++
			held = held || r.Port <= int32(port) && int32(port) <= r.EndPort
		}
		if tcp == 0 && len(f.Ports) > 0 {
			continue // a UDP-only flow is not the gateway's business
		}
		if held {
			return EgressAllowed, nil
		}
		v = EgressPortNotAllowed
	}
	return v, nil
}

func fromWorkload(ws []*Workload, name string) bool {
	for _, w := range ws {
		if w.Name == name {
			return true
		}
	}
	return false
}

// matchesAny reports whether one of the patterns matches the normalised
// name; a pattern that does not parse matches nothing.
func matchesAny(patterns []string, name string) bool {
	for _, s := range patterns {
		if h, err := ParseHostPattern(s); err == nil && h.matches(name) {
			return true
		}
	}
	return false
}
