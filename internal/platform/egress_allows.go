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
// reach the DNS name host on TCP port (EgressVerdictOf over the model's
// resolved flows). It is the decision the egress gateway makes from the
// model before any lookup (egress.SpecFromPlatform compiles these flows
// into its allowlist, whose matcher agrees with HostPattern:
// allowlist.TestAgreesWithPlatform), without importing the gateway;
// generate's TestAllowsEgressAgreesWithGateway holds the two equal. A host
// that is no DNS name (a wildcard, an address) is EgressInvalidHost, as the
// gateway refuses it. It fails only when the flows do not resolve (an
// unvalidated model).
func (p *Platform) AllowsEgress(source, host string, port int) (EgressVerdict, error) {
	h, err := ReadHostPattern(host)
	if err != nil || h.wildcard {
		return EgressInvalidHost, nil
	}
	flows, err := p.Flows()
	if err != nil {
		return EgressInvalidHost, fmt.Errorf("egress flows: %w", err)
	}
	return EgressVerdictOf(flows, source, h, PortRange{Protocol: DefaultProtocol, Port: int32(port), EndPort: int32(port)}), nil
}

// EgressVerdictOf says whether resolved flows let workload source reach
// every name host stands for on every port of want (its Protocol empty
// meaning TCP): an egress flow from source one of whose host patterns
// covers host (HostPattern.Covers) and one of whose port ranges of that
// protocol holds want. A flow with ports but none of that protocol is
// skipped, as the egress gateway (TCP only) skips a UDP-only flow.
func EgressVerdictOf(flows []ResolvedFlow, source string, host HostPattern, want PortRange) EgressVerdict {
	proto := want.Protocol
	if proto == "" {
		proto = DefaultProtocol
	}
	v := EgressHostNotAllowed
	for _, f := range flows {
		if f.Kind != FlowEgress || !fromWorkload(f.From, source) || !coversAny(f.Hosts, host) {
			continue
		}
		same, held := 0, len(f.Ports) == 0 && strings.EqualFold(proto, DefaultProtocol) && want.Port == defaultEgressPort && want.EndPort <= want.Port
		for _, r := range f.Ports {
			rp := r.Protocol
			if rp == "" {
				rp = DefaultProtocol
			}
			if !strings.EqualFold(rp, proto) {
				continue
			}
			same++
			held = held || r.Port <= want.Port && max(want.EndPort, want.Port) <= r.EndPort
		}
		if same == 0 && len(f.Ports) > 0 {
			continue
		}
		if held {
			return EgressAllowed
		}
		v = EgressPortNotAllowed
	}
	return v
}

func fromWorkload(ws []*Workload, name string) bool {
	for _, w := range ws {
		if w.Name == name {
			return true
		}
	}
	return false
}

// coversAny reports whether one of the patterns covers host; a pattern
// that does not parse covers nothing.
func coversAny(patterns []string, host HostPattern) bool {
	for _, s := range patterns {
		if p, err := ParseHostPattern(s); err == nil && p.Covers(host) {
			return true
		}
	}
	return false
}
