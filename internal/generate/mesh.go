package generate

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/budnet/budnet/internal/platform"
)

// FileMesh holds the Dapr Configurations.
const FileMesh = "30-dapr.yaml"

// Dapr object names.
const (
	apiDapr           = "dapr.io/v1alpha1"
	kindConfiguration = "Configuration"
	// DaprSystemConfiguration is the control-plane Configuration the Dapr
	// Helm chart names daprsystem (dapr_config chart,
	// dapr_default_system_config_name); only it turns mTLS on or off.
	DaprSystemConfiguration = "daprsystem"
	// DaprAccessConfiguration is the app Configuration generate writes in
	// every zone with Dapr apps; pods select it with the annotation
	// dapr.io/config: access-control.
	DaprAccessConfiguration = "access-control"
	// daprSentryPort is the dapr-sentry Service port (charts/dapr/charts/
	// dapr_sentry/templates/dapr_sentry_service.yaml).
	daprSentryPort = 443
	// daprInternalPort is the name of the sidecar's internal gRPC port, the
	// one service invocation crosses between pods.
	daprInternalPort = "dapr-internal"
)

// Mesh implements the service-mesh part of guide section 5: the
// control-plane Configuration daprsystem with mTLS and, in every zone with
// Dapr apps, an app Configuration whose accessControl denies every caller
// the model does not name (https://docs.dapr.io/operations/security/mtls/,
// https://docs.dapr.io/operations/configuration/invoke-allowlist/). A model
// without Dapr apps gets no file.
func Mesh(p *platform.Platform, _ Options) ([]File, error) {
	zones := daprZones(p)
	if len(zones) == 0 {
		return nil, nil
	}
	objs := []*unstructured.Unstructured{daprSystem(p)}
	grants := invocationGrants(p)
	for _, z := range zones {
		objs = append(objs, accessControl(p, z, grants))
	}
	return []File{{Name: FileMesh, Concern: "Dapr mTLS and service-invocation access control (guide 5)", Objects: objs}}, nil
}

// daprZones are the zones holding Dapr apps, sorted.
func daprZones(p *platform.Platform) []string {
	var zones []string
	for i := range p.Spec.Workloads {
		if w := &p.Spec.Workloads[i]; w.Dapr != nil && !slices.Contains(zones, w.Zone) {
			zones = append(zones, w.Zone)
		}
	}
	slices.Sort(zones)
	return zones
}

// daprSystem is the control-plane Configuration. The pinned CRD (dapr
// v1.18.0 charts/dapr/crds/configuration.yaml) requires
// controlPlaneTrustDomain and sentryAddress next to enabled; the values are
// the ones daprd and sentry assume when they are unset: the trust domain
// cluster.local and the dapr-sentry Service in the control-plane namespace.
func daprSystem(p *platform.Platform) *unstructured.Unstructured {
	m := p.Spec.Mesh
	mtls := map[string]any{
		"enabled":                 m.MTLS.Enabled == nil || *m.MTLS.Enabled,
		"controlPlaneTrustDomain": platform.DefaultTrustDomain,
		"sentryAddress":           fmt.Sprintf("dapr-sentry.%s.svc.cluster.local:%d", m.Namespace, daprSentryPort),
	}
	if d := m.MTLS.WorkloadCertTTL; d != nil {
		mtls["workloadCertTTL"] = d.Duration.String()
	}
	if d := m.MTLS.AllowedClockSkew; d != nil {
		mtls["allowedClockSkew"] = d.Duration.String()
	}
	return Object(apiDapr, kindConfiguration, m.Namespace, DaprSystemConfiguration, "spec.mesh.mtls",
		"5 service mesh: Dapr mTLS between sidecars", map[string]any{"spec": map[string]any{"mtls": mtls}})
}

// grant lets caller invoke callee's operations; flows names the model rows.
type grant struct {
	caller, callee *platform.Workload
	ops            []platform.DaprOperation
	flow           string
}

// invocationGrants derives who may invoke whom from the internal flows
// between Dapr apps. A flow grants invocation when it lists invoke
// operations, or when it names its caller by workload and opens the callee's
// dapr-internal port (then every operation, at any depth, and every verb is
// allowed). Flows that
// select callers only by zone or by dapr: true (the mesh-wide
// sidecar-to-sidecar flow) open the network path and grant nothing, or
// default deny would mean nothing.
func invocationGrants(p *platform.Platform) []grant {
	var out []grant
	for i := range p.Spec.Flows.Internal {
		f := &p.Spec.Flows.Internal[i]
		ops := f.Invoke
		if len(ops) == 0 {
			if f.From.Workload == "" || !hasPortName(f.Ports, daprInternalPort) {
				continue
			}
			ops = []platform.DaprOperation{{Name: daprAnyOperation}}
		}
		for _, caller := range p.Select(f.From) {
			for _, callee := range p.Select(f.To) {
				if caller.Dapr == nil || callee.Dapr == nil || caller == callee {
					continue
				}
				out = append(out, grant{caller: caller, callee: callee, ops: ops,
					flow: ModelRow(fmt.Sprintf("spec.flows.internal[%d]", i), f.Name)})
			}
		}
	}
	return out
}

func hasPortName(ports []platform.Port, name string) bool {
	return slices.ContainsFunc(ports, func(pt platform.Port) bool { return pt.Name == name })
}

// accessControl is the app Configuration of one zone: default deny, and per
// caller app id the operations the model grants to any callee in the zone.
// Dapr evaluates the callee's Configuration, so a zone's object lists the
// callers of the apps running there; a caller granted different operations
// on two callees in one zone gets the union, since a policy is per caller.
func accessControl(p *platform.Platform, zone string, grants []grant) *unstructured.Unstructured {
	type policy struct {
		caller *platform.Workload
		ops    map[string][]string // operation name -> verbs
	}
	byCaller := map[string]*policy{}
	var rows []string // model rows in model order: grants follow the flows
	for _, g := range grants {
		if g.callee.Zone != zone {
			continue
		}
		pol := byCaller[g.caller.Dapr.AppID]
		if pol == nil {
			pol = &policy{caller: g.caller, ops: map[string][]string{}}
			byCaller[g.caller.Dapr.AppID] = pol
		}
		for _, op := range g.ops {
			name := daprOperationName(op.Name)
			pol.ops[name] = mergeVerbs(pol.ops[name], op.Verbs)
		}
		if !slices.Contains(rows, g.flow) {
			rows = append(rows, g.flow)
		}
	}
	var policies []any
	for _, id := range slices.Sorted(maps.Keys(byCaller)) {
		pol := byCaller[id]
		var ops []any
		for _, name := range slices.Sorted(maps.Keys(pol.ops)) {
			ops = append(ops, map[string]any{"name": name, "httpVerb": toAny(pol.ops[name]), "action": "allow"})
		}
		policies = append(policies, map[string]any{
			"appId":         id,
			"defaultAction": "deny",
			"trustDomain":   p.Spec.Mesh.TrustDomain,
			"namespace":     pol.caller.Zone,
			"operations":    ops,
		})
	}
	ac := map[string]any{"defaultAction": "deny", "trustDomain": p.Spec.Mesh.TrustDomain}
	if len(policies) > 0 {
		ac["policies"] = policies
	}
	row := "spec.mesh"
	if len(rows) > 0 {
		row = strings.Join(rows, "; ")
	}
	return Object(apiDapr, kindConfiguration, zone, DaprAccessConfiguration, row,
		"5 service mesh: access control between services (enforced by the callee's sidecar)",
		map[string]any{"spec": map[string]any{"accessControl": ac}})
}

// daprAnyOperation is Dapr's pattern for every operation: "/**" matches any
// number of path segments, while "/*" matches exactly one (dapr/dapr v1.18.0
// pkg/config/acl_trie.go: SingleStageWildcard "/*", MultiStageWildcard
// "/**"; https://docs.dapr.io/operations/configuration/invoke-allowlist/).
// Under defaultAction deny, "/*" would refuse /cluster/list.
const daprAnyOperation = "/**"

// daprOperationName is the Dapr operation pattern for a model operation. The
// model writes "everything under a path" as a trailing "/*" (/v1/*, /*: the
// names platform validation asks for), which Dapr reads as one segment, so
// the trailing "/*" becomes Dapr's multi-level "/**". Anything else, "/**"
// and a "*" inside a segment or mid-path included, is Dapr's syntax already
// and passes unchanged.
func daprOperationName(name string) string {
	if strings.HasSuffix(name, "/*") {
		return strings.TrimSuffix(name, "/*") + daprAnyOperation
	}
	return name
}

// mergeVerbs unions HTTP verbs; empty or "*" means every verb and absorbs
// the rest.
func mergeVerbs(have, add []string) []string {
	if len(add) == 0 || slices.Contains(add, "*") || slices.Contains(have, "*") {
		return []string{"*"}
	}
	out := slices.Concat(have, add)
	slices.Sort(out)
	return slices.Compact(out)
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
