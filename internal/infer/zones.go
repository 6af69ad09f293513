package infer

import (
	"fmt"
	"slices"

	"github.com/budnet/budnet/internal/platform"
)

// ZonesNamespaces keeps each workload in the zone of its namespace.
const ZonesNamespaces = "namespaces"

// ZonesGuide places workloads in the guide's six zones by role (guide 3.1).
const ZonesGuide = "guide"

// guideZones are the zones of guide section 3.1, by the roles they hold.
var guideZones = []struct {
	name, purpose string
	roles         []platform.Role
}{
	{"bud-system", "Backend services (guide 3.1)", []platform.Role{platform.RoleService}},
	{"bud-frontend", "Web front ends (guide 3.1)", []platform.Role{platform.RoleFrontend}},
	{"bud-data", "Datastores (guide 3.1)", []platform.Role{platform.RoleDatastore}},
	{"bud-infra", "Dapr control plane, ingress, egress gateway (guide 3.1)", []platform.Role{platform.RoleIngress, platform.RoleDaprControlPlane, platform.RoleGateway}},
	{"bud-monitoring", "Monitoring (guide 3.1)", []platform.Role{platform.RoleMonitoring}},
	{"bud-auth", "Identity (guide 3.1)", []platform.Role{platform.RoleIdentity}},
}

// guideLayout moves every workload to the guide zone of its role, for
// teams that will re-lay out their namespaces. A workload whose pod labels
// would also select another workload's pods in the new zone stays where it
// is, listed as unresolved (the labels were unique only per namespace).
func (e *engine) guideLayout(p *platform.Platform) {
	zoneOf := func(r platform.Role) int {
		for i, z := range guideZones {
			if slices.Contains(z.roles, r) {
				return i
			}
		}
		return 0
	}
	used := map[string]bool{}
	moved := make([]string, len(p.Spec.Workloads))
	for i := range p.Spec.Workloads {
		moved[i] = guideZones[zoneOf(p.Spec.Workloads[i].Role)].name
	}
	for i := range p.Spec.Workloads {
		w := &p.Spec.Workloads[i]
		clash := ""
		for j := range p.Spec.Workloads {
			o := &p.Spec.Workloads[j]
			if i != j && moved[i] == moved[j] && o.Zone != w.Zone && (subsetOf(w.PodLabels, o.PodLabels) || subsetOf(o.PodLabels, w.PodLabels)) {
				clash = o.Name
			}
		}
		if clash != "" {
			e.unresolve(w.Name, "--zones guide", moved[i], fmt.Sprintf("its pod labels and those of %s would select each other's pods in one zone; it stays in zone %s", clash, w.Zone))
			used[w.Zone] = true
			continue
		}
		w.Note = joinNotes([]string{w.Note, fmt.Sprintf("zone %s by role %s (guide 3.1); deployed today in namespace %s", moved[i], w.Role, w.Zone)})
		w.Zone = moved[i]
		used[w.Zone] = true
		if w.Role == platform.RoleDaprControlPlane {
			p.Spec.Mesh.Namespace = w.Zone
		}
	}
	var zones []platform.Zone
	for _, z := range guideZones {
		if used[z.name] {
			zones = append(zones, platform.Zone{Name: z.name, Purpose: z.purpose, Note: "proposed by --zones guide"})
			delete(used, z.name)
		}
	}
	for _, z := range p.Spec.Zones {
		if used[z.Name] {
			zones = append(zones, z)
		}
	}
	p.Spec.Zones = zones
}

func subsetOf(a, b map[string]string) bool {
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}
