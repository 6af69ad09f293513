package platform

import (
	"fmt"
	"net/netip"
	"strings"
)

// Zone returns the zone named name.
func (p *Platform) Zone(name string) (*Zone, bool) {
	for i := range p.Spec.Zones {
		if p.Spec.Zones[i].Name == name {
			return &p.Spec.Zones[i], true
		}
	}
	return nil, false
}

// Workload returns the workload named name.
func (p *Platform) Workload(name string) (*Workload, bool) {
	for i := range p.Spec.Workloads {
		if p.Spec.Workloads[i].Name == name {
			return &p.Spec.Workloads[i], true
		}
	}
	return nil, false
}

// Group returns the source group named name.
func (p *Platform) Group(name string) (*CIDRGroup, bool) {
	for i := range p.Spec.SourceGroups {
		if p.Spec.SourceGroups[i].Name == name {
			return &p.Spec.SourceGroups[i], true
		}
	}
	return nil, false
}

// Select returns the workloads s selects, in model order: those matching
// every field s sets. An empty selector selects nothing (Validate rejects it)
// so that a forgotten field never widens a flow to the whole platform.
func (p *Platform) Select(s Selector) []*Workload {
	if s.empty() {
		return nil
	}
	var out []*Workload
	for i := range p.Spec.Workloads {
		if w := &p.Spec.Workloads[i]; s.Matches(w) {
			out = append(out, w)
		}
	}
	return out
}

// Matches reports whether w has every property s sets. The empty selector
// matches nothing.
func (s Selector) Matches(w *Workload) bool {
	if s.empty() {
		return false
	}
	return (s.Zone == "" || w.Zone == s.Zone) &&
		(s.Workload == "" || w.Name == s.Workload) &&
		(s.Role == "" || w.Role == s.Role) &&
		(!s.Dapr || w.Dapr != nil)
}

func (s Selector) empty() bool {
	return s.Zone == "" && s.Workload == "" && s.Role == "" && !s.Dapr
}

// String renders s as zone=a,workload=b,role=c,dapr for messages.
func (s Selector) String() string {
	var parts []string
	if s.Zone != "" {
		parts = append(parts, "zone="+s.Zone)
	}
	if s.Workload != "" {
		parts = append(parts, "workload="+s.Workload)
	}
	if s.Role != "" {
		parts = append(parts, "role="+string(s.Role))
	}
	if s.Dapr {
		parts = append(parts, "dapr")
	}
	if len(parts) == 0 {
		return "empty"
	}
	return strings.Join(parts, ",")
}

// Port returns the workload's port named name.
func (w *Workload) Port(name string) (*NamedPort, bool) {
	for i := range w.Ports {
		if w.Ports[i].Name == name {
			return &w.Ports[i], true
		}
	}
	return nil, false
}

// FlowKind is the table of guide section 4 a flow belongs to.
type FlowKind string

// The three flow tables.
const (
	FlowIngress  FlowKind = "ingress"
	FlowInternal FlowKind = "internal"
	FlowEgress   FlowKind = "egress"
)

// PortRange is a resolved port or port range: EndPort equals Port for a
// single port.
type PortRange struct {
	Protocol string
	Port     int32
	EndPort  int32
}

func (r PortRange) String() string {
	if r.EndPort != r.Port {
		return fmt.Sprintf("%s/%d-%d", r.Protocol, r.Port, r.EndPort)
	}
	return fmt.Sprintf("%s/%d", r.Protocol, r.Port)
}

// Destination is one destination workload of a flow with the flow's ports
// resolved against that workload's named ports.
type Destination struct {
	Workload *Workload
	Ports    []PortRange
}

// ResolvedFlow is a flow of any table with its selectors and named ports
// resolved. For ingress flows From is empty and Sources holds the CIDRs of
// the flow's groups and its own CIDRs; for egress flows To is empty and
// Hosts, CIDRs and Ports describe the external destination.
type ResolvedFlow struct {
	Kind    FlowKind
	Name    string
	Guide   Guide
	Purpose string
	Source  Source
	From    []*Workload
	Sources []netip.Prefix
	To      []Destination
	Hosts   []string
	CIDRs   []netip.Prefix
	Ports   []PortRange // egress only: there are no named ports outside
	Invoke  []DaprOperation
}

// Flows resolves every flow of the model, ingress first, then internal, then
// egress, each in file order. It fails on what Validate rejects (an unknown
// group, a named port missing on a destination); a validated model always
// resolves.
func (p *Platform) Flows() ([]ResolvedFlow, error) {
	var out []ResolvedFlow
	for _, f := range p.Spec.Flows.Ingress {
		srcs, err := p.prefixes(f.Groups, f.CIDRs)
		if err != nil {
			return nil, fmt.Errorf("flow %s: %w", f.Name, err)
		}
		to, err := resolveDestinations(p.Select(f.To), f.Ports)
		if err != nil {
			return nil, fmt.Errorf("flow %s: %w", f.Name, err)
		}
		out = append(out, ResolvedFlow{Kind: FlowIngress, Name: f.Name, Guide: f.Guide, Purpose: f.Purpose,
			Source: f.Source, Sources: srcs, To: to})
	}
	for _, f := range p.Spec.Flows.Internal {
		to, err := resolveDestinations(p.Select(f.To), f.Ports)
		if err != nil {
			return nil, fmt.Errorf("flow %s: %w", f.Name, err)
		}
		out = append(out, ResolvedFlow{Kind: FlowInternal, Name: f.Name, Guide: f.Guide, Purpose: f.Purpose,
			Source: f.Source, From: p.Select(f.From), To: to, Invoke: f.Invoke})
	}
	for _, f := range p.Spec.Flows.Egress {
		cidrs, err := p.prefixes(f.Groups, f.CIDRs)
		if err != nil {
			return nil, fmt.Errorf("flow %s: %w", f.Name, err)
		}
		ports, err := numericRanges(f.Ports)
		if err != nil {
			return nil, fmt.Errorf("flow %s: %w", f.Name, err)
		}
		out = append(out, ResolvedFlow{Kind: FlowEgress, Name: f.Name, Guide: f.Guide, Purpose: f.Purpose,
			Source: f.Source, From: p.Select(f.From), Hosts: f.Hosts, CIDRs: cidrs, Ports: ports})
	}
	return out, nil
}

// prefixes collects the CIDRs of the named groups and the listed CIDRs.
func (p *Platform) prefixes(groups, cidrs []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, name := range groups {
		g, ok := p.Group(name)
		if !ok {
			return nil, fmt.Errorf("source group %q does not exist", name)
		}
		for _, c := range g.CIDRs {
			pfx, err := netip.ParsePrefix(c)
			if err != nil {
				return nil, fmt.Errorf("source group %s: %w", name, err)
			}
			out = append(out, pfx)
		}
	}
	for _, c := range cidrs {
		pfx, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, err
		}
		out = append(out, pfx)
	}
	return out, nil
}

// resolveDestinations resolves ports for each destination workload: a named
// port may mean different numbers on different workloads, as in NetworkPolicy.
func resolveDestinations(dst []*Workload, ports []Port) ([]Destination, error) {
	out := make([]Destination, 0, len(dst))
	for _, w := range dst {
		d := Destination{Workload: w}
		for _, pt := range ports {
			r, err := resolvePort(w, pt)
			if err != nil {
				return nil, err
			}
			d.Ports = append(d.Ports, r)
		}
		out = append(out, d)
	}
	return out, nil
}

func resolvePort(w *Workload, pt Port) (PortRange, error) {
	proto := pt.Protocol
	if proto == "" {
		proto = DefaultProtocol
	}
	if pt.Name == "" {
		return numericRange(pt, proto), nil
	}
	np, ok := w.Port(pt.Name)
	if !ok {
		return PortRange{}, fmt.Errorf("workload %s has no port named %q", w.Name, pt.Name)
	}
	return PortRange{Protocol: proto, Port: np.Port, EndPort: np.Port}, nil
}

func numericRanges(ports []Port) ([]PortRange, error) {
	out := make([]PortRange, 0, len(ports))
	for _, pt := range ports {
		if pt.Name != "" {
			return nil, fmt.Errorf("named port %q cannot be resolved outside the cluster", pt.Name)
		}
		proto := pt.Protocol
		if proto == "" {
			proto = DefaultProtocol
		}
		out = append(out, numericRange(pt, proto))
	}
	return out, nil
}

func numericRange(pt Port, proto string) PortRange {
	end := pt.EndPort
	if end == 0 {
		end = pt.Port
	}
	return PortRange{Protocol: proto, Port: pt.Port, EndPort: end}
}

// HasLabels reports whether have carries every label of want, as an equality
// selector built from want would; an empty want selects nothing here, since a
// model workload or Service without labels must never match every pod. One
// home for reach, audit and infer, which match model workloads and Service
// selectors to manifest workloads with it.
func HasLabels(have, want map[string]string) bool {
	if len(want) == 0 {
		return false
	}
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}
