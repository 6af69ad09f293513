package egress

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/budnet/budnet/internal/egress/allowlist"
	"github.com/budnet/budnet/internal/egress/guard"
	"github.com/budnet/budnet/internal/egress/identity"
	"github.com/budnet/budnet/internal/egress/verdict"
	"github.com/budnet/budnet/internal/platform"
)

// SpecFromPlatform derives the gateway's policy from a loaded platform model:
// one allowlist rule per egress flow and source workload (TCP ports only; the
// gateway proxies TCP), the guard's extra denied ranges (egressGateway
// deniedCIDRs and the cluster's pod and service CIDRs), its explicit
// allowances (egressGateway allowedCIDRs), the static source map, and the
// workloads with their service accounts for certificate and pod identity.
func SpecFromPlatform(p *platform.Platform) (PolicySpec, error) {
	var errs []error
	gw := p.Spec.EgressGateway
	mode, err := verdict.ParseMode(string(gw.Mode))
	errs = append(errs, err)
	spec := PolicySpec{Mode: mode, Identity: identity.Config{TrustDomain: p.Spec.Mesh.TrustDomain}}
	switch strings.ToLower(gw.DefaultAction) {
	case "", "deny":
	case "allow":
		spec.DefaultAllow = true
	default:
		errs = append(errs, fmt.Errorf("egressGateway.defaultAction %q: want deny or allow", gw.DefaultAction))
	}
	flows, err := p.Flows()
	if err != nil {
		return PolicySpec{}, fmt.Errorf("egress policy from platform: %w", err)
	}
	for _, f := range flows {
		if f.Kind != platform.FlowEgress {
			continue
		}
		// The flow's TCP ports as the model reads them (a flow without
		// ports is 443; a UDP-only flow is not the gateway's business):
		// platform.EgressVerdictOf reads them the same way, so the two
		// cannot drift (TestAllowsEgressAgreesWithGateway).
		ranges, ok := f.EgressPorts(platform.DefaultProtocol)
		if !ok {
			continue
		}
		ports := tcpPorts(ranges)
		for _, w := range f.From {
			spec.Rules = append(spec.Rules, allowlist.Rule{
				Name: f.Name, Source: w.Name, Hosts: f.Hosts, CIDRs: f.CIDRs, Ports: ports,
			})
		}
	}
	spec.Denied = guard.DefaultDenied()
	spec.Denied = appendRanges(spec.Denied, gw.DeniedCIDRs, "model-denied", &errs)
	var cluster []guard.Range
	cluster = appendRanges(cluster, p.Spec.Cluster.PodCIDRs, "pods", &errs)
	cluster = appendRanges(cluster, p.Spec.Cluster.ServiceCIDRs, "services", &errs)
	spec.Denied = append(spec.Denied, cluster...)
	for _, c := range gw.AllowedCIDRs {
		pfx, err := netip.ParsePrefix(c)
		if err != nil {
			errs = append(errs, fmt.Errorf("egressGateway.allowedCIDRs: %w", err))
			continue
		}
		spec.Allowed = append(spec.Allowed, pfx)
	}
	for _, m := range gw.Sources {
		pfx, err := netip.ParsePrefix(m.CIDR)
		if err != nil {
			errs = append(errs, fmt.Errorf("egressGateway.sources: %w", err))
			continue
		}
		spec.Identity.Sources = append(spec.Identity.Sources, identity.SourceCIDR{Prefix: pfx, Workload: m.Workload})
	}
	for _, w := range p.Spec.Workloads {
		spec.Identity.Workloads = append(spec.Identity.Workloads, identity.Workload{
			Name: w.Name, Namespace: w.Zone, ServiceAccount: w.ServiceAccount, PodLabels: w.PodLabels,
		})
	}
	if err := errors.Join(errs...); err != nil {
		return PolicySpec{}, fmt.Errorf("egress policy from platform: %w", err)
	}
	return spec, nil
}

// FromPlatform compiles the policy of a platform model.
func FromPlatform(p *platform.Platform) (*Policy, error) {
	spec, err := SpecFromPlatform(p)
	if err != nil {
		return nil, err
	}
	return NewPolicy(spec)
}

// tcpPorts converts the TCP port ranges ResolvedFlow.EgressPorts returns
// (each within 1 to 65535) into the allowlist's.
func tcpPorts(in []platform.PortRange) []allowlist.PortRange {
	out := make([]allowlist.PortRange, 0, len(in))
	for _, r := range in {
		out = append(out, allowlist.PortRange{From: uint16(r.Port), To: uint16(r.EndPort)})
	}
	return out
}

func appendRanges(dst []guard.Range, cidrs []string, name string, errs *[]error) []guard.Range {
	for _, c := range cidrs {
		pfx, err := netip.ParsePrefix(c)
		if err != nil {
			*errs = append(*errs, fmt.Errorf("%s range %q: %w", name, c, err))
			continue
		}
		dst = append(dst, guard.Range{Prefix: pfx, Name: name})
	}
	return dst
}
