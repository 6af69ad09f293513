// Package infer proposes a platform model from a deployment: the workloads,
// zones and flows a default-deny rollout must allow, read from the objects
// themselves (workload specs, Services, ConfigMaps, Secrets, Dapr components,
// routes) before anything runs. It is an engine without I/O: it takes a loaded
// manifest.Inventory and returns a platform.Platform whose every workload and
// flow carries its evidence as "file:line: field", plus what it could not
// resolve. docs/infer.md lists the sources and what each becomes.
package infer

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
)

// Options tune an inference.
type Options struct {
	// Name is the platform's metadata.name; default "inferred".
	Name string
	// Base, when set, is a loaded model to start from: the result is Base
	// plus what it lacks, and Result.Changes lists the additions.
	Base *platform.Platform
	// Zones is ZonesNamespaces (default: a zone per namespace) or
	// ZonesGuide (the guide's six zones by role).
	Zones string
	// Observed are connections seen at runtime (ParseEgressLog, ParseHubble);
	// each becomes a flow marked with how it was seen.
	Observed []Observation
}

// Unresolved is a reference inference could not turn into a flow: a name no
// Service matches, a value only known at runtime, a Secret that cannot be read.
type Unresolved struct {
	// Workload is the model workload that holds the reference; empty when none.
	Workload string `json:"workload,omitempty"`
	// Evidence is "file:line: field".
	Evidence string `json:"evidence"`
	// Value is what was read (secrets' passwords are removed).
	Value  string `json:"value,omitempty"`
	Reason string `json:"reason"`
}

func (u Unresolved) String() string {
	s := u.Evidence + ": "
	if u.Workload != "" {
		s += u.Workload + ": "
	}
	if u.Value != "" {
		s += fmt.Sprintf("%q: ", u.Value)
	}
	return s + u.Reason
}

// Result is an inferred model and what could not be resolved.
type Result struct {
	Platform   *platform.Platform
	Unresolved []Unresolved
	// Notes are remarks about the whole inference (defaults relied on, sources skipped).
	Notes []string
	// Changes are what was added to Options.Base, one line each; nil without a base.
	Changes []string
}

// Infer proposes a platform model from inv. The model is not defaulted:
// platform.Parse of its YAML defaults and validates it. The result is
// deterministic for a given inventory.
func Infer(inv *manifest.Inventory, o Options) (*Result, error) {
	if inv == nil || len(inv.Workloads) == 0 {
		return nil, fmt.Errorf("no workloads in the input: nothing runs pods, so there is no platform to infer")
	}
	name := o.Name
	if name == "" {
		name = "inferred"
	}
	e := newEngine(inv)
	e.workloads()
	if len(e.models) == 0 {
		var why []string
		for _, u := range e.unresolved {
			why = append(why, u.String())
		}
		return nil, fmt.Errorf("no workload could be modelled: %s", strings.Join(why, "; "))
	}
	e.zones()
	e.settingsFlows()
	e.commandFlows()
	e.peerFlows()
	e.scrapeFlows()
	e.monitorFlows()
	e.daprFlows()
	e.componentFlows()
	e.routeFlows()
	e.exposedFlows()
	e.controlPlaneFlows()
	e.observedFlows(o.Observed)
	p := &platform.Platform{
		APIVersion: platform.APIVersion, Kind: platform.Kind,
		Metadata: platform.Metadata{Name: name},
	}
	p.Spec.Zones = e.zoneList
	for _, w := range e.models {
		p.Spec.Workloads = append(p.Spec.Workloads, w.model)
	}
	p.Spec.Flows = e.flowTables()
	if len(p.Spec.Flows.Ingress) > 0 {
		p.Spec.SourceGroups = []platform.CIDRGroup{{Name: internetGroup, CIDRs: []string{"0.0.0.0/0", "::/0"},
			Note: "every address: the Services of type LoadBalancer or NodePort that the ingress flows name are published without loadBalancerSourceRanges"}}
	}
	if e.meshNamespace != "" {
		p.Spec.Mesh.Namespace = e.meshNamespace
	}
	switch o.Zones {
	case "", ZonesNamespaces:
	case ZonesGuide:
		e.guideLayout(p)
	default:
		return nil, fmt.Errorf("zones %q: want %s or %s", o.Zones, ZonesNamespaces, ZonesGuide)
	}
	for _, np := range inv.NetworkPolicies {
		e.notes = append(e.notes, fmt.Sprintf("NetworkPolicy %s/%s at %s is in the input: policies add up, so whatever it allows stays allowed next to the generated ones (disable charts' own policies, such as Bitnami's networkPolicy.enabled, to get default deny)",
			np.Object.Namespace, np.Object.Name, np.Object.Source))
	}
	e.notes = append(e.notes, "DNS: generate gives every zone egress to the cluster DNS (spec.cluster.dns, default kube-system k8s-app=kube-dns); no flow is listed for it")
	slices.SortFunc(e.unresolved, func(a, b Unresolved) int {
		return cmp.Or(cmp.Compare(a.Workload, b.Workload), cmp.Compare(a.Evidence, b.Evidence), cmp.Compare(a.Value, b.Value))
	})
	e.unresolved = slices.Compact(e.unresolved)
	res := &Result{Platform: p, Unresolved: e.unresolved, Notes: e.notes}
	if o.Base != nil {
		merged, changes, err := e.merge(o.Base, p)
		if err != nil {
			return nil, err
		}
		res.Platform, res.Changes = merged, changes
	}
	return res, nil
}

// evidence renders "file:line: field" for a field of an object.
func evidence(o *manifest.Object, path string) string {
	return o.At(path) + ": " + path
}

// joinNotes joins evidence lines into one note, each once, in order.
func joinNotes(notes []string) string {
	var out []string
	seen := map[string]bool{}
	for _, n := range notes {
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return strings.Join(out, "; ")
}
