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

// DefaultEgressPort is the port an egress flow without ports allows, in
// the egress gateway and in EgressVerdictOf alike (HTTPS, the guide's
// egress port, sections 4.3 and 8.2); validation requires ports on every
// flow, so only an unvalidated model meets it.
const DefaultEgressPort = 443

// EgressPorts are the port ranges of protocol proto (empty meaning TCP)
// egress flow f opens: its ranges of that protocol that are port ranges
// (1 to 65535, the end not before the start; validation refuses others),
// or TCP DefaultEgressPort when f names no ports. ok is false when f names
// ports but none it opens for proto: such a flow has nothing to say about
// proto, as the egress gateway (TCP only) skips a UDP-only flow. It is the
// one reading of a flow's ports that EgressVerdictOf and the gateway's
// allowlist (egress.SpecFromPlatform) share.
func (f *ResolvedFlow) EgressPorts(proto string) (ports []PortRange, ok bool) {
	if proto == "" {
		proto = DefaultProtocol
	}
	if len(f.Ports) == 0 {
		if strings.EqualFold(proto, DefaultProtocol) {
			return []PortRange{{Protocol: DefaultProtocol, Port: DefaultEgressPort, EndPort: DefaultEgressPort}}, true
		}
		return nil, true
	}
	for _, r := range f.Ports {
		rp := r.Protocol
		if rp == "" {
			rp = DefaultProtocol
		}
		if !strings.EqualFold(rp, proto) || r.Port < 1 || r.EndPort > 65535 || r.EndPort < r.Port {
			continue
		}
		ports = append(ports, r)
	}
	return ports, len(ports) > 0
}

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
// covers host (HostPattern.Covers) and one of whose ports for that
// protocol (ResolvedFlow.EgressPorts, as the gateway reads them) holds
// want. A flow with nothing to say about the protocol is skipped, as the
// egress gateway (TCP only) skips a UDP-only flow.
func EgressVerdictOf(flows []ResolvedFlow, source string, host HostPattern, want PortRange) EgressVerdict {
	v := EgressHostNotAllowed
	for i := range flows {
		f := &flows[i]
		if f.Kind != FlowEgress || !fromWorkload(f.From, source) || !coversAny(f.Hosts, host) {
			continue
		}
		ports, ok := f.EgressPorts(want.Protocol)
		if !ok {
			continue
		}
		for _, r := range ports {
			if r.Port <= want.Port && max(want.EndPort, want.Port) <= r.EndPort {
				return EgressAllowed
			}
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
