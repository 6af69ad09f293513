package infer

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
)

// internetGroup is the source group of ingress flows to published Services.
const internetGroup = "internet"

// flowAcc accumulates the ports and evidence of one flow.
type flowAcc struct {
	from, to string
	fromSel  platform.Selector
	ports    []platform.Port
	notes    []string
	groups   []string
	cidrs    []string
}

func (f *flowAcc) add(pt platform.Port, note string) {
	if !slices.Contains(f.ports, pt) {
		f.ports = append(f.ports, pt)
	}
	f.notes = append(f.notes, note)
}

// egressAcc accumulates the hosts of one workload's egress on one port.
type egressAcc struct {
	from  string
	port  int32
	hosts []string
	notes []string
}

// addInternal adds a connection from src's pods to dst's. src may be dst:
// under default deny the pods of one workload cannot reach each other either
// (StatefulSet peers, a pod calling its own Service).
func (e *engine) addInternal(src, dst *modelWorkload, pt platform.Port, note string) {
	// A host-network pod sends and receives with its node's address, which
	// no podSelector matches: such a flow needs ipBlock rules for the nodes.
	for _, end := range []*modelWorkload{src, dst} {
		if end.mw.HostNetwork {
			e.unresolve(src.model.Name, note, dst.model.Name, end.model.Name+" runs on the host network: a flow to or from it is the node's address, which podSelectors do not match; allow the nodes' CIDRs by hand")
			return
		}
	}
	k := [2]string{src.model.Name, dst.model.Name}
	f := e.internal[k]
	if f == nil {
		f = &flowAcc{from: src.model.Name, to: dst.model.Name, fromSel: platform.Selector{Workload: src.model.Name}}
		e.internal[k] = f
	}
	f.add(pt, note)
}

// addSelected adds a flow from every workload a selector picks (the Dapr
// control plane flows: from every Dapr workload).
func (e *engine) addSelected(name string, from platform.Selector, dst *modelWorkload, pt platform.Port, note string) {
	k := [2]string{name, dst.model.Name}
	f := e.internal[k]
	if f == nil {
		f = &flowAcc{from: name, to: dst.model.Name, fromSel: from}
		e.internal[k] = f
	}
	f.add(pt, note)
}

func (e *engine) addEgress(src *modelWorkload, host string, port int32, note string) {
	k := src.model.Name + "/" + strconv.Itoa(int(port))
	f := e.egress[k]
	if f == nil {
		f = &egressAcc{from: src.model.Name, port: port}
		e.egress[k] = f
	}
	if !slices.Contains(f.hosts, host) {
		f.hosts = append(f.hosts, host)
	}
	f.notes = append(f.notes, host+": "+note)
}

func (e *engine) addIngress(dst *modelWorkload, groups, cidrs []string, pt platform.Port, note string) {
	f := e.ingress[dst.model.Name]
	if f == nil {
		f = &flowAcc{to: dst.model.Name, groups: groups, cidrs: cidrs}
		e.ingress[dst.model.Name] = f
	}
	f.add(pt, note)
}

// daprCall turns a *_APP_ID setting into a sidecar-to-sidecar flow on the
// callee's dapr-internal port (50002 unless moved by annotation).
func (e *engine) daprCall(m *modelWorkload, s setting) {
	id := strings.TrimSpace(s.value)
	// An app id calls the app of the caller's namespace; "id.namespace"
	// names another (https://docs.dapr.io/developing-applications/building-blocks/service-invocation/service-invocation-namespaces/).
	ns := m.model.Zone
	if i := strings.IndexByte(id, '.'); i > 0 {
		id, ns = id[:i], id[i+1:]
	}
	if id == "" || (m.mw.Dapr != nil && id == m.mw.Dapr.AppID && ns == m.model.Zone) {
		return
	}
	for _, d := range e.models {
		if d.mw.Dapr == nil || d.mw.Dapr.AppID != id || d.model.Zone != ns {
			continue
		}
		if m.mw.Dapr == nil {
			e.unresolve(m.model.Name, s.ev, id, "names the Dapr app id of "+d.model.Name+", but this workload runs no Dapr sidecar to call it through")
			return
		}
		name, ok := d.portName("TCP", d.mw.Dapr.InternalGRPCPort)
		if !ok {
			name = manifest.DaprInternalPortName
		}
		e.addInternal(m, d, platform.Port{Name: name}, s.ev+" (Dapr service invocation, sidecar to sidecar)")
		return
	}
	e.unresolve(m.model.Name, s.ev, s.value, "no Dapr workload of the input has this app id in namespace "+ns)
}

// daprWorkloads returns the Dapr workloads of ns an object scoped to ids applies to.
func (e *engine) daprWorkloads(ns string, scopes []string) []*modelWorkload {
	var out []*modelWorkload
	for _, m := range e.models {
		if m.mw.Dapr != nil && m.model.Zone == ns && (len(scopes) == 0 || slices.Contains(scopes, m.mw.Dapr.AppID)) {
			out = append(out, m)
		}
	}
	return out
}

func stringList(v any) []string {
	xs, _ := v.([]any)
	var out []string
	for _, x := range xs {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// componentFlows reads Dapr Components (state, pubsub, bindings,
// configuration, secret stores): the sidecars of the apps in scopes (every
// Dapr app of the namespace without scopes) connect to the stores they name
// (https://docs.dapr.io/operations/components/component-scopes/).
func (e *engine) componentFlows() {
	for _, o := range e.inv.ObjectsOfKind("Component") {
		if !strings.HasPrefix(o.APIVersion, "dapr.io/") {
			continue
		}
		u := o.Unstructured.Object
		spec, _ := u["spec"].(map[string]any)
		typ, _ := spec["type"].(string)
		scopes := stringList(u["scopes"])
		apps := e.daprWorkloads(o.Namespace, scopes)
		if len(apps) == 0 {
			e.notes = append(e.notes, fmt.Sprintf("Dapr Component %s/%s (%s) at %s: no Dapr workload of the input in its scopes", o.Namespace, o.Name, typ, o.Source))
			continue
		}
		var g settingGroup
		md, _ := spec["metadata"].([]any)
		for i, item := range md {
			kv, _ := item.(map[string]any)
			name, _ := kv["name"].(string)
			path := fmt.Sprintf("spec.metadata[%d]", i)
			if v, ok := kv["value"]; ok {
				g = append(g, setting{key: name, value: fmt.Sprint(v), ev: evidence(o, path+".value")})
				continue
			}
			ref, _ := kv["secretKeyRef"].(map[string]any)
			if ref == nil {
				continue
			}
			sname, _ := ref["name"].(string)
			skey, _ := ref["key"].(string)
			if skey == "" {
				skey = sname // Dapr's Kubernetes secret store default
			}
			data := e.configData("Secret", o.Namespace, sname)
			v, ok := data.data[skey]
			if !ok {
				reason := data.missing
				if reason == "" {
					reason = fmt.Sprintf("Secret %s/%s has no key %q", o.Namespace, sname, skey)
				}
				for _, a := range apps {
					e.unresolve(a.model.Name, evidence(o, path+".secretKeyRef"), "", reason+": the component's "+name+" is not read")
				}
				continue
			}
			g = append(g, setting{key: name, value: v, ev: data.evidence(skey) + " (via " + evidence(o, path+".secretKeyRef") + ")"})
		}
		via := fmt.Sprintf(" (Dapr Component %s, %s, scopes %s)", o.Name, typ, scopeText(scopes))
		for _, a := range apps {
			e.scanGroup(a, g, via)
		}
	}
}

func scopeText(scopes []string) string {
	if len(scopes) == 0 {
		return "none: every Dapr app of the namespace"
	}
	return strings.Join(scopes, ",")
}

// daprFlows reads Dapr HTTPEndpoint objects: every Dapr app of the
// namespace (or its scopes) may call the base URL through its sidecar.
func (e *engine) daprFlows() {
	for _, o := range e.inv.ObjectsOfKind("HTTPEndpoint") {
		if !strings.HasPrefix(o.APIVersion, "dapr.io/") {
			continue
		}
		spec, _ := o.Unstructured.Object["spec"].(map[string]any)
		base, _ := spec["baseUrl"].(string)
		for _, a := range e.daprWorkloads(o.Namespace, stringList(o.Unstructured.Object["scopes"])) {
			e.scanGroup(a, settingGroup{{key: "baseUrl", value: base, ev: evidence(o, "spec.baseUrl")}}, " (Dapr HTTPEndpoint "+o.Name+")")
		}
	}
}

// controlPlaneFlows lets every Dapr workload reach the control plane:
// sentry (50001, certificates), operator (6500, components), placement
// (50005, actors) and scheduler (50006), the container ports of the Dapr
// Helm chart's Services (dapr/dapr charts/dapr/charts/*/templates/*_service.yaml).
func (e *engine) controlPlaneFlows() {
	var dapr *modelWorkload
	for _, m := range e.models {
		if m.mw.Dapr != nil {
			dapr = m
			break
		}
	}
	if dapr == nil {
		return
	}
	services := []struct {
		name string
		port int32
	}{{"dapr-sentry", 50001}, {"dapr-operator", 6500}, {"dapr-placement", 50005}, {"dapr-scheduler", 50006}}
	found := false
	for _, cp := range services {
		for _, m := range e.models {
			if m.model.Role != platform.RoleDaprControlPlane || !strings.HasPrefix(m.mw.Name, cp.name) {
				continue
			}
			found = true
			e.meshNamespace = m.model.Zone
			pt := platform.Port{Port: cp.port}
			if n, ok := m.portName("TCP", cp.port); ok {
				pt = platform.Port{Name: n}
			}
			e.addSelected("dapr", platform.Selector{Dapr: true}, m, pt,
				"every Dapr sidecar reaches "+cp.name+" (dapr/dapr charts/dapr/charts/*/templates/*_service.yaml)")
		}
	}
	if !found {
		e.unresolve("", evidence(dapr.mw.Object, strings.TrimSuffix(dapr.mw.PodSpecPath, "spec")+"metadata.annotations[dapr.io/enabled]"), "",
			"Dapr workloads, but no Dapr control plane (dapr-sentry, dapr-operator, dapr-placement, dapr-scheduler) in the input: add its manifests (helm template dapr/dapr) so their flows are inferred")
	}
}

// flowTables renders the accumulated flows in name order.
func (e *engine) flowTables() platform.Flows {
	var fl platform.Flows
	names := map[string]bool{}
	unique := func(n string) string {
		base := n
		for i := 2; names[n]; i++ {
			n = fmt.Sprintf("%s-%d", base, i)
		}
		names[n] = true
		return n
	}
	for _, k := range sortedKeys(e.ingress) {
		f := e.ingress[k]
		fl.Ingress = append(fl.Ingress, platform.IngressFlow{Name: unique("ingress-to-" + f.to), Groups: f.groups, CIDRs: f.cidrs,
			To: platform.Selector{Workload: f.to}, Ports: f.ports, Note: joinNotes(f.notes)})
	}
	keys := make([][2]string, 0, len(e.internal))
	for k := range e.internal {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	for _, k := range keys {
		f := e.internal[k]
		name := f.from + "-to-" + f.to
		if f.from == f.to {
			name = f.from + "-peers"
		}
		fl.Internal = append(fl.Internal, platform.InternalFlow{Name: unique(name), From: f.fromSel,
			To: platform.Selector{Workload: f.to}, Ports: f.ports, Note: joinNotes(f.notes)})
	}
	for _, k := range sortedKeys(e.egress) {
		f := e.egress[k]
		sort.Strings(f.hosts)
		fl.Egress = append(fl.Egress, platform.EgressFlow{Name: unique(f.from + "-egress-" + strconv.Itoa(int(f.port))),
			From: platform.Selector{Workload: f.from}, Hosts: f.hosts, Ports: []platform.Port{{Port: f.port}}, Note: joinNotes(f.notes)})
	}
	return fl
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
