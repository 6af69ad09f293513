package reach

import (
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/platform"
)

// This file is the one home of the rule that says which manifest workloads
// implement a model workload. Compare (the intended matrix) and the audit
// checks (zones, exposure, the Dapr control plane, the egress gateway) both
// call MatchWorkload, so the two can never disagree about what a workload is.

// Labels a chart puts on every pod of one installation, which tell its
// components apart (https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/;
// Bitnami's common.labels.standard and common.labels.matchLabels in
// bitnami/charts bitnami/common/templates/_labels.tpl).
const (
	labelName      = "app.kubernetes.io/name"
	labelInstance  = "app.kubernetes.io/instance"
	labelComponent = "app.kubernetes.io/component"
	labelDaprAppID = "dapr.io/app-id"
)

// Candidate is what matching reads of one manifest workload.
type Candidate struct {
	Namespace string
	Labels    map[string]string
	// Serves are the container ports the workload declares (the Dapr
	// sidecar's included); Declared is false when it declares none, so
	// what it serves is unknown.
	Serves   netpol.PortSet
	Declared bool
}

// CandidateOf reads a manifest workload for matching.
func CandidateOf(w *manifest.Workload) Candidate {
	return candidate(w.Namespace, w.Labels, portsOf(w.Ports()))
}

func candidate(ns string, labels map[string]string, ports []netpol.ContainerPort) Candidate {
	c := Candidate{Namespace: ns, Labels: labels, Declared: len(ports) > 0}
	rs := make([]netpol.PortRange, 0, len(ports))
	for _, p := range ports {
		proto := p.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		rs = append(rs, netpol.PortRange{Protocol: proto, Start: p.Port, End: p.Port})
	}
	c.Serves = netpol.NewPortSet(rs...)
	return c
}

func portsOf(ps []corev1.ContainerPort) []netpol.ContainerPort {
	out := make([]netpol.ContainerPort, len(ps))
	for i, p := range ps {
		out[i] = netpol.ContainerPort{Name: p.Name, Port: p.ContainerPort, Protocol: p.Protocol}
	}
	return out
}

// Tier says how a candidate matched, best first.
type Tier int

// Tiers of a match.
const (
	// ByLabels: the model's pod labels, in the model workload's zone.
	ByLabels Tier = iota
	// ByAppID: the label the Dapr injector sets from the app id, which charts
	// cannot rename, in the zone.
	ByAppID
	// ByLabelsOutsideZone and ByAppIDOutsideZone: the same in another namespace.
	ByLabelsOutsideZone
	ByAppIDOutsideZone
)

// String describes the tier for a note ("" for an exact match).
func (t Tier) String() string {
	switch t {
	case ByAppID:
		return "by its Dapr app id"
	case ByLabelsOutsideZone:
		return "by labels outside its zone"
	case ByAppIDOutsideZone:
		return "by its Dapr app id outside its zone"
	}
	return ""
}

// Match is one candidate implementing a model workload.
type Match struct {
	Index int // into the candidates
	Tier  Tier
}

// MatchWorkload returns the candidates that implement mw, best tier first
// (then in candidate order). A candidate implements mw when it carries all of
// mw's pod labels, or the Dapr app id label of mw's app id.
//
// Among candidates matched by labels, components of one chart installation
// are told apart: when candidates with the same namespace, instance and name
// labels carry different component labels (Bitnami's ClickHouse with its
// keeper, MinIO with its console, Keycloak with its config job), only the
// components that serve the most of mw's ports are kept, the one whose
// component label is mw's name (or the chart's name) winning a tie. The
// model's pod labels name the chart, not the component, so labels alone would
// expect the keeper to answer ClickHouse's queries.
//
// Callers that need one place for a model workload (Compare) take the best
// tier; callers that look for the workload anywhere (a zone check) take all.
func MatchWorkload(mw *platform.Workload, cands []Candidate) []Match {
	var byLabels, byAppID []int
	for i := range cands {
		switch {
		case platform.HasLabels(cands[i].Labels, mw.PodLabels):
			byLabels = append(byLabels, i)
		case mw.Dapr != nil && mw.Dapr.AppID != "" && cands[i].Labels[labelDaprAppID] == mw.Dapr.AppID:
			byAppID = append(byAppID, i)
		}
	}
	byLabels = components(mw, cands, byLabels)
	var out []Match
	add := func(idx []int, inZone bool, t Tier) {
		for _, i := range idx {
			if (cands[i].Namespace == mw.Zone) == inZone {
				out = append(out, Match{Index: i, Tier: t})
			}
		}
	}
	add(byLabels, true, ByLabels)
	add(byAppID, true, ByAppID)
	add(byLabels, false, ByLabelsOutsideZone)
	add(byAppID, false, ByAppIDOutsideZone)
	return out
}

// BestTier keeps the matches of the best tier present.
func BestTier(ms []Match) []Match {
	if len(ms) == 0 {
		return nil
	}
	n := 1
	for n < len(ms) && ms[n].Tier == ms[0].Tier {
		n++
	}
	return ms[:n]
}

// installation groups the candidates of one chart installation.
type installation struct{ namespace, instance, name string }

// components drops, within each chart installation, the components that do
// not implement mw (see MatchWorkload). Candidates without instance and
// component labels are kept as they are.
func components(mw *platform.Workload, cands []Candidate, idx []int) []int {
	groups := map[installation][]int{}
	for _, i := range idx {
		l := cands[i].Labels
		if l[labelInstance] == "" || l[labelComponent] == "" {
			continue
		}
		k := installation{cands[i].Namespace, l[labelInstance], l[labelName]}
		groups[k] = append(groups[k], i)
	}
	drop := map[int]bool{}
	for k, g := range groups {
		keep := bestComponents(mw, k.name, cands, g)
		for _, i := range g {
			if !keep[cands[i].Labels[labelComponent]] {
				drop[i] = true
			}
		}
	}
	return slices.DeleteFunc(slices.Clone(idx), func(i int) bool { return drop[i] })
}

// bestComponents picks the component labels of one installation that
// implement mw: those serving the most of mw's ports, narrowed to the one
// named after mw or the chart when that is among them. With one component,
// or none serving any of mw's ports and none so named, all are kept: the
// components cannot be told apart.
func bestComponents(mw *platform.Workload, chart string, cands []Candidate, g []int) map[string]bool {
	served := map[string]netpol.PortSet{}
	for _, i := range g {
		c := cands[i].Labels[labelComponent]
		served[c] = served[c].Union(cands[i].Serves)
	}
	all := map[string]bool{}
	for c := range served {
		all[c] = true
	}
	if len(served) < 2 {
		return all
	}
	best, top := map[string]bool{}, 0
	for c, s := range served {
		n := 0
		for _, p := range mw.Ports {
			if s.Contains(protocolOf(p.Protocol), p.Port) {
				n++
			}
		}
		switch {
		case n > top:
			best, top = map[string]bool{c: true}, n
		case n == top:
			best[c] = true
		}
	}
	if top == 0 {
		best = all
	}
	for _, name := range []string{mw.Name, chart} {
		if best[name] {
			return map[string]bool{name: true}
		}
	}
	if top == 0 {
		return all
	}
	return best
}

func protocolOf(p string) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return corev1.Protocol(p)
}
