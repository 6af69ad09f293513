package infer

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/budnet/budnet/internal/platform"
)

// merge starts from base and adds only what the inferred model has and base
// lacks: workloads no base workload matches (same zone, base pod labels
// carried by the pods, or the same Dapr app id), their zones, and
// connections no base flow allows. Added flows name ports by number, since
// base and inferred workloads may name the same port differently. It
// returns the merged model and one line per change.
func (e *engine) merge(base, inferred *platform.Platform) (*platform.Platform, []string, error) {
	out, err := clonePlatform(base)
	if err != nil {
		return nil, nil, err
	}
	rename, changes := e.mergeWorkloads(out, inferred)
	out.Default()
	have, err := out.Flows()
	if err != nil {
		return nil, nil, fmt.Errorf("base platform: %w", err)
	}
	inf, err := clonePlatform(inferred)
	if err != nil {
		return nil, nil, err
	}
	inf.Default()
	want, err := inf.Flows()
	if err != nil {
		return nil, nil, fmt.Errorf("inferred platform: %w", err)
	}
	m := &merger{out: out, inferred: inferred, rename: rename, cov: newCoverage(have), names: map[string]bool{}}
	for _, f := range have {
		m.names[f.Name] = true
	}
	for i := range want {
		m.flow(&want[i])
	}
	changes = append(changes, m.changes...)
	if len(changes) == 0 {
		changes = append(changes, "no change: the base model already has every inferred workload and flow")
	}
	return out, changes, nil
}

// mergeWorkloads adds to out the inferred workloads (and their zones) no
// workload of out stands for, and maps every inferred name to its name in out.
func (e *engine) mergeWorkloads(out, inferred *platform.Platform) (map[string]string, []string) {
	var changes []string
	rename := map[string]string{}
	names := map[string]bool{}
	for _, w := range out.Spec.Workloads {
		names[w.Name] = true
	}
	for _, m := range e.models {
		if bw := baseMatch(out, m); bw != "" {
			rename[m.model.Name] = bw
			continue
		}
		w := m.model
		for i := 2; names[w.Name]; i++ {
			w.Name = label(fmt.Sprintf("%s-%d", m.model.Name, i))
		}
		names[w.Name] = true
		rename[m.model.Name] = w.Name
		if _, ok := out.Zone(w.Zone); !ok {
			for _, z := range inferred.Spec.Zones {
				if z.Name == w.Zone {
					out.Spec.Zones = append(out.Spec.Zones, z)
					changes = append(changes, "added zone "+z.Name)
				}
			}
		}
		out.Spec.Workloads = append(out.Spec.Workloads, w)
		changes = append(changes, fmt.Sprintf("added workload %s (zone %s, role %s)", w.Name, w.Zone, w.Role))
	}
	return rename, changes
}

// merger adds the inferred connections the base model does not allow.
type merger struct {
	out, inferred *platform.Platform
	rename        map[string]string
	cov           *coverage
	names         map[string]bool
	changes       []string
}

func (m *merger) unique(n string) string {
	base := n
	for i := 2; m.names[n]; i++ {
		n = fmt.Sprintf("%s-%d", base, i)
	}
	m.names[n] = true
	return n
}

func (m *merger) flow(f *platform.ResolvedFlow) {
	note := flowNote(m.inferred, f.Name)
	fl := &m.out.Spec.Flows
	switch f.Kind {
	case platform.FlowInternal:
		for _, src := range f.From {
			for _, d := range f.To {
				from, to := m.rename[src.Name], m.rename[d.Workload.Name]
				missing := m.cov.missingInternal(from, to, d.Ports)
				if len(missing) == 0 {
					continue
				}
				name := m.unique(from + "-to-" + to)
				fl.Internal = append(fl.Internal, platform.InternalFlow{Name: name,
					From: platform.Selector{Workload: from}, To: platform.Selector{Workload: to}, Ports: numeric(missing), Note: note})
				m.changes = append(m.changes, fmt.Sprintf("added flow %s: %s -> %s %s", name, from, to, rangesText(missing)))
			}
		}
	case platform.FlowIngress:
		for _, d := range f.To {
			to := m.rename[d.Workload.Name]
			missing := m.cov.missingIngress(to, d.Ports)
			if len(missing) == 0 {
				continue
			}
			var cidrs []string
			for _, p := range f.Sources {
				cidrs = append(cidrs, p.String())
			}
			name := m.unique("ingress-to-" + to)
			fl.Ingress = append(fl.Ingress, platform.IngressFlow{Name: name, CIDRs: cidrs,
				To: platform.Selector{Workload: to}, Ports: numeric(missing), Note: note})
			m.changes = append(m.changes, fmt.Sprintf("added flow %s: -> %s %s", name, to, rangesText(missing)))
		}
	case platform.FlowEgress:
		for _, src := range f.From {
			from := m.rename[src.Name]
			hosts := m.cov.missingEgress(from, f.Hosts, f.Ports)
			if len(hosts) == 0 {
				continue
			}
			name := m.unique(from + "-egress")
			fl.Egress = append(fl.Egress, platform.EgressFlow{Name: name,
				From: platform.Selector{Workload: from}, Hosts: hosts, Ports: numeric(f.Ports), Note: note})
			m.changes = append(m.changes, fmt.Sprintf("added flow %s: %s -> %v %s", name, from, hosts, rangesText(f.Ports)))
		}
	}
}

// baseMatch names the base workload that stands for m, or "".
func baseMatch(base *platform.Platform, m *modelWorkload) string {
	for _, bw := range base.Spec.Workloads {
		if bw.Zone != m.model.Zone {
			continue
		}
		if platform.HasLabels(m.mw.Labels, bw.PodLabels) ||
			(bw.Dapr != nil && m.mw.Dapr != nil && bw.Dapr.AppID == m.mw.Dapr.AppID) {
			return bw.Name
		}
	}
	return ""
}

func clonePlatform(p *platform.Platform) (*platform.Platform, error) {
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("copying platform %s: %w", p.Metadata.Name, err)
	}
	out := &platform.Platform{}
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, fmt.Errorf("copying platform %s: %w", p.Metadata.Name, err)
	}
	return out, nil
}

func numeric(rs []platform.PortRange) []platform.Port {
	out := make([]platform.Port, 0, len(rs))
	for _, r := range rs {
		p := platform.Port{Port: r.Port, Protocol: r.Protocol}
		if r.EndPort != r.Port {
			p.EndPort = r.EndPort
		}
		out = append(out, p)
	}
	return out
}

func rangesText(rs []platform.PortRange) string {
	s := ""
	for i, r := range rs {
		if i > 0 {
			s += ","
		}
		s += r.String()
	}
	return s
}

// coverage answers whether the base model's flows already allow a connection.
type coverage struct {
	flows []platform.ResolvedFlow
}

func newCoverage(flows []platform.ResolvedFlow) *coverage {
	return &coverage{flows: flows}
}

func covers(have []platform.PortRange, want platform.PortRange) bool {
	return slices.ContainsFunc(have, func(h platform.PortRange) bool {
		return h.Protocol == want.Protocol && h.Port <= want.Port && h.EndPort >= want.EndPort
	})
}

func (c *coverage) missingInternal(from, to string, ports []platform.PortRange) []platform.PortRange {
	var missing []platform.PortRange
	for _, p := range ports {
		ok := false
		for _, f := range c.flows {
			if f.Kind != platform.FlowInternal || !slices.ContainsFunc(f.From, func(w *platform.Workload) bool { return w.Name == from }) {
				continue
			}
			for _, d := range f.To {
				ok = ok || (d.Workload.Name == to && covers(d.Ports, p))
			}
		}
		if !ok {
			missing = append(missing, p)
		}
	}
	return missing
}

func (c *coverage) missingIngress(to string, ports []platform.PortRange) []platform.PortRange {
	var missing []platform.PortRange
	for _, p := range ports {
		ok := false
		for _, f := range c.flows {
			if f.Kind != platform.FlowIngress {
				continue
			}
			for _, d := range f.To {
				ok = ok || (d.Workload.Name == to && covers(d.Ports, p))
			}
		}
		if !ok {
			missing = append(missing, p)
		}
	}
	return missing
}

// missingEgress returns the hosts the base model's egress flows do not let
// from reach on every port, as the model decides it
// (platform.EgressVerdictOf, which the egress gateway agrees with).
func (c *coverage) missingEgress(from string, hosts []string, ports []platform.PortRange) []string {
	var missing []string
	for _, h := range hosts {
		host, err := platform.ReadHostPattern(h)
		if err != nil {
			missing = append(missing, h)
			continue
		}
		for _, p := range ports {
			if platform.EgressVerdictOf(c.flows, from, host, p) != platform.EgressAllowed {
				missing = append(missing, h)
				break
			}
		}
	}
	return missing
}

// flowNote is the evidence note of the inferred flow called name.
func flowNote(p *platform.Platform, name string) string {
	fl := p.Spec.Flows
	for _, f := range fl.Internal {
		if f.Name == name {
			return f.Note
		}
	}
	for _, f := range fl.Ingress {
		if f.Name == name {
			return f.Note
		}
	}
	for _, f := range fl.Egress {
		if f.Name == name {
			return f.Note
		}
	}
	return ""
}
