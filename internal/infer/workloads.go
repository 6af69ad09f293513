package infer

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
)

// nsName keys namespaced objects.
type nsName struct{ ns, name string }

// modelWorkload is a manifest workload and the model workload proposed for it.
type modelWorkload struct {
	mw    *manifest.Workload
	model platform.Workload
	// ports maps protocol/number of a container port to its model port name.
	ports map[string]string
	notes []string
}

func portKey(proto corev1.Protocol, port int32) string {
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	return string(proto) + "/" + strconv.Itoa(int(port))
}

// engine holds the indexes and the accumulating result of one inference.
type engine struct {
	inv        *manifest.Inventory
	models     []*modelWorkload
	byManifest map[*manifest.Workload]*modelWorkload
	byNS       map[string][]*manifest.Workload
	services   map[nsName]*manifest.Service
	objects    map[string]map[nsName]*manifest.Object // kind -> key -> object
	zoneList   []platform.Zone

	internal map[[2]string]*flowAcc
	egress   map[string]*egressAcc
	ingress  map[string]*flowAcc

	meshNamespace string
	unresolved    []Unresolved
	notes         []string
}

func newEngine(inv *manifest.Inventory) *engine {
	e := &engine{inv: inv, byManifest: map[*manifest.Workload]*modelWorkload{},
		byNS: map[string][]*manifest.Workload{}, services: map[nsName]*manifest.Service{},
		objects:  map[string]map[nsName]*manifest.Object{},
		internal: map[[2]string]*flowAcc{}, egress: map[string]*egressAcc{}, ingress: map[string]*flowAcc{}}
	for _, w := range inv.Workloads {
		e.byNS[w.Namespace] = append(e.byNS[w.Namespace], w)
	}
	for _, s := range inv.Services {
		e.services[nsName{s.Namespace, s.Name}] = s
	}
	for _, o := range inv.Objects {
		m := e.objects[o.Kind]
		if m == nil {
			m = map[nsName]*manifest.Object{}
			e.objects[o.Kind] = m
		}
		m[nsName{o.Namespace, o.Name}] = o
	}
	return e
}

func (e *engine) unresolve(workload, ev, value, reason string) {
	e.unresolved = append(e.unresolved, Unresolved{Workload: workload, Evidence: ev, Value: value, Reason: reason})
}

// workloads proposes a model workload for each manifest workload, in
// namespace and name order so the output is stable whatever the load order.
func (e *engine) workloads() {
	ws := slices.Clone(e.inv.Workloads)
	sort.SliceStable(ws, func(i, j int) bool {
		if ws[i].Namespace != ws[j].Namespace {
			return ws[i].Namespace < ws[j].Namespace
		}
		if ws[i].Name != ws[j].Name {
			return ws[i].Name < ws[j].Name
		}
		return ws[i].Kind < ws[j].Kind
	})
	names := modelNames(ws)
	// Dapr app ids are unique per namespace, the model's across the model.
	appIDs := map[string]*manifest.Workload{}
	for _, w := range ws {
		m := &modelWorkload{mw: w, ports: map[string]string{}}
		m.model.Name = names[w]
		m.model.Zone = w.Namespace
		m.notes = append(m.notes, fmt.Sprintf("%s %s/%s at %s", w.Kind, w.Namespace, w.Name, w.Object.Source))
		labels, why, ok := e.podLabels(w)
		if !ok {
			e.unresolve(m.model.Name, evidence(w.Object, strings.TrimSuffix(w.PodSpecPath, "spec")+"metadata.labels"), "",
				"no labels select this workload's pods without another workload's in namespace "+w.Namespace+"; give it a distinguishing label (app.kubernetes.io/name, instance, component); left out of the model")
			continue
		}
		m.model.PodLabels = labels
		m.notes = append(m.notes, "podLabels: "+why)
		role, reason := roleOf(w)
		m.model.Role = role
		m.notes = append(m.notes, "role "+string(role)+": "+reason)
		if svc := e.frontService(w); svc != nil && len(validation.IsDNS1035Label(svc.Name)) == 0 {
			m.model.Service = svc.Name
		}
		if w.ServiceAccount != "" && len(validation.IsDNS1123Subdomain(w.ServiceAccount)) == 0 {
			m.model.ServiceAccount = w.ServiceAccount
			if w.PodSpec != nil && w.PodSpec.ServiceAccountName == "" && w.PodSpec.DeprecatedServiceAccount == "" {
				m.notes = append(m.notes, "serviceAccount default: none set, the ServiceAccount admission default")
			} else {
				m.notes = append(m.notes, "serviceAccount: "+evidence(w.Object, w.PodSpecPath+".serviceAccountName"))
			}
		}
		dup := false
		if w.Dapr != nil {
			if first, ok := appIDs[w.Dapr.AppID]; ok {
				dup = true
				e.unresolve(m.model.Name, evidence(w.Object, strings.TrimSuffix(w.PodSpecPath, "spec")+"metadata.annotations[dapr.io/app-id]"), w.Dapr.AppID,
					fmt.Sprintf("Dapr app id also used by %s in namespace %s; the model needs unique app ids, so this workload is modelled without its dapr block (its sidecar ports are listed, the flows every Dapr app gets are not)", first.Name, first.Namespace))
			} else {
				appIDs[w.Dapr.AppID] = w
			}
		}
		e.ports(m, dup)
		if w.Dapr != nil && !dup {
			m.model.Dapr = &platform.DaprApp{AppID: w.Dapr.AppID}
			if p, err := strconv.ParseInt(w.Annotations["dapr.io/app-port"], 10, 32); err == nil && p > 0 && p < 65536 {
				m.model.Dapr.AppPort = int32(p)
			}
			m.notes = append(m.notes, "dapr: "+evidence(w.Object, strings.TrimSuffix(w.PodSpecPath, "spec")+"metadata.annotations[dapr.io/enabled]"))
		}
		if w.HostNetwork {
			// https://kubernetes.io/docs/concepts/services-networking/network-policies/#networkpolicy-and-hostnetwork-pods
			m.notes = append(m.notes, "hostNetwork: NetworkPolicy does not apply to its pods")
			e.unresolve(m.model.Name, evidence(w.Object, w.PodSpecPath+".hostNetwork"), "",
				"runs on the host network: NetworkPolicy cannot confine its pods, so default deny leaves it open both ways; judge it with node firewall rules")
		}
		m.model.Note = joinNotes(m.notes)
		e.models = append(e.models, m)
		e.byManifest[w] = m
	}
}

// modelNames gives each workload a unique DNS-1123 label: its name, or
// namespace-name when two namespaces use the name, plus the kind when two
// kinds do.
func modelNames(ws []*manifest.Workload) map[*manifest.Workload]string {
	count := map[string]int{}
	countNS := map[string]int{}
	for _, w := range ws {
		count[w.Name]++
		countNS[w.Namespace+"/"+w.Name]++
	}
	out := map[*manifest.Workload]string{}
	used := map[string]bool{}
	for _, w := range ws {
		n := w.Name
		if count[n] > 1 {
			n = w.Namespace + "-" + n
		}
		if countNS[w.Namespace+"/"+w.Name] > 1 {
			n += "-" + strings.ToLower(w.Kind)
		}
		n = label(n)
		base := n
		for i := 2; used[n]; i++ {
			n = label(fmt.Sprintf("%s-%d", strings.TrimSuffix(base[:min(len(base), 58)], "-"), i))
		}
		used[n] = true
		out[w] = n
	}
	return out
}

// label shortens and cleans s into a DNS-1123 label.
func label(s string) string {
	s = strings.ToLower(s)
	var b strings.Builder
	for _, r := range s {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	out := b.String()
	if len(out) > 63 {
		out = out[:63]
	}
	out = strings.Trim(out, "-")
	if out == "" {
		out = "w"
	}
	return out
}

// recommendedKeys are the Kubernetes recommended labels that tell a
// component apart (https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/).
var recommendedKeys = []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component"}

// podLabels picks the labels that select exactly w's pods in its namespace:
// a Service selector first (what the chart itself uses to find the pods),
// then the recommended labels, the controller's selector, every template
// label, and the Dapr app id label the injector sets.
func (e *engine) podLabels(w *manifest.Workload) (map[string]string, string, bool) {
	var rejected []string
	for _, s := range e.selecting(w) {
		if others := e.alsoSelects(w, s.Selector); len(others) > 0 {
			rejected = append(rejected, fmt.Sprintf("the selector of Service %s (%s) also selects %s", s.Name, s.Object.At("spec.selector"), strings.Join(others, ", ")))
			continue
		}
		return maps.Clone(s.Selector), "selector of Service " + s.Name + " at " + s.Object.At("spec.selector"), true
	}
	type candidate struct {
		labels map[string]string
		why    string
	}
	var cands []candidate
	rec := map[string]string{}
	for _, k := range recommendedKeys {
		if v, ok := w.Labels[k]; ok {
			rec[k] = v
		}
	}
	if _, ok := rec["app.kubernetes.io/name"]; ok {
		cands = append(cands, candidate{rec, "recommended labels app.kubernetes.io/name, instance, component of the pod template"})
	}
	if w.Selector != nil && len(w.Selector.MatchExpressions) == 0 && len(w.Selector.MatchLabels) > 0 {
		cands = append(cands, candidate{w.Selector.MatchLabels, "the " + w.Kind + "'s selector.matchLabels"})
	}
	written := map[string]string{}
	for k, v := range w.Labels {
		if !strings.HasPrefix(k, "dapr.io/") {
			written[k] = v
		}
	}
	if len(written) > 0 {
		cands = append(cands, candidate{written, "every label of the pod template"})
	}
	if w.Dapr != nil {
		cands = append(cands, candidate{map[string]string{manifest.DaprAppIDLabel: w.Dapr.AppID}, "the label dapr.io/app-id the Dapr injector sets"})
	}
	for _, c := range cands {
		if others := e.alsoSelects(w, c.labels); len(others) == 0 && platform.HasLabels(w.Labels, c.labels) {
			why := c.why
			if len(rejected) > 0 {
				why += " (" + strings.Join(rejected, "; ") + ")"
			}
			return maps.Clone(c.labels), why, true
		}
	}
	return nil, "", false
}

// selecting returns the Services of w's namespace whose selector selects w's pods, by name.
func (e *engine) selecting(w *manifest.Workload) []*manifest.Service {
	var out []*manifest.Service
	for _, s := range e.inv.Services {
		if s.Namespace == w.Namespace && platform.HasLabels(w.Labels, s.Selector) {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// frontService is the Service in front of w: the first selecting only it,
// else the first selecting it.
func (e *engine) frontService(w *manifest.Workload) *manifest.Service {
	ss := e.selecting(w)
	for _, s := range ss {
		if len(e.alsoSelects(w, s.Selector)) == 0 {
			return s
		}
	}
	if len(ss) > 0 {
		return ss[0]
	}
	return nil
}

// alsoSelects names the other workloads of w's namespace that labels select.
func (e *engine) alsoSelects(w *manifest.Workload, labels map[string]string) []string {
	var out []string
	for _, o := range e.byNS[w.Namespace] {
		if o != w && platform.HasLabels(o.Labels, labels) {
			out = append(out, o.Kind+" "+o.Name)
		}
	}
	return out
}

// ports lists the ports the workload serves: those of its app containers and
// native sidecars. The Dapr sidecar's ports are added by platform defaults,
// except those an annotation moved.
func (e *engine) ports(m *modelWorkload, listSidecar bool) {
	w := m.mw
	used := map[string]bool{}
	add := func(c manifest.Container, j int, p corev1.ContainerPort) {
		key := portKey(p.Protocol, p.ContainerPort)
		if _, dup := m.ports[key]; dup {
			return
		}
		name := p.Name
		if name == "" || used[name] || len(validation.IsValidPortName(name)) > 0 {
			name = strings.ToLower(string(p.Protocol)) + "-" + strconv.Itoa(int(p.ContainerPort))
		}
		used[name] = true
		m.ports[key] = name
		np := platform.NamedPort{Name: name, Port: p.ContainerPort}
		if p.Protocol != corev1.ProtocolTCP {
			np.Protocol = string(p.Protocol)
		}
		if c.Inferred {
			if !listSidecar && slices.ContainsFunc(platform.DaprSidecarPorts(), func(d platform.NamedPort) bool { return d.Name == name && d.Port == p.ContainerPort }) {
				return // platform defaults add it
			}
			np.Note = "Dapr sidecar port, added by the injector"
		} else {
			np.Note = evidence(w.Object, fmt.Sprintf("%s.ports[%d]", c.Path, j))
		}
		m.model.Ports = append(m.model.Ports, np)
	}
	for _, c := range w.InitContainers {
		if c.Sidecar {
			for j, p := range c.Ports {
				add(c, j, p)
			}
		}
	}
	for _, c := range w.Containers {
		for j, p := range c.Ports {
			add(c, j, p)
		}
	}
	if w.Dapr != nil {
		for _, d := range platform.DaprSidecarPorts() {
			if _, ok := m.ports[portKey(corev1.ProtocolTCP, d.Port)]; !ok && !used[d.Name] {
				m.ports[portKey(corev1.ProtocolTCP, d.Port)] = d.Name
			}
		}
	}
}

// portName returns the model port name of w's container port proto/port.
func (m *modelWorkload) portName(proto corev1.Protocol, port int32) (string, bool) {
	n, ok := m.ports[portKey(proto, port)]
	return n, ok
}

// portByName finds w's container port called name.
func (m *modelWorkload) portByName(name string) (corev1.ContainerPort, bool) {
	for _, p := range m.mw.Ports() {
		if p.Name == name {
			return p, true
		}
	}
	return corev1.ContainerPort{}, false
}

// zones proposes one zone per namespace that holds a model workload.
func (e *engine) zones() {
	seen := map[string]bool{}
	for _, m := range e.models {
		seen[m.model.Zone] = true
	}
	for _, ns := range e.inv.Namespaces {
		if !seen[ns.Name] {
			continue
		}
		z := platform.Zone{Name: ns.Name, Purpose: "namespace " + ns.Name}
		if ns.Object != nil {
			z.Note = "Namespace declared at " + ns.Object.Source.String()
		} else {
			z.Note = "no Namespace object: the workloads name it (or -n gave it)"
		}
		e.zoneList = append(e.zoneList, z)
	}
	for _, ns := range e.inv.Namespaces {
		if !seen[ns.Name] {
			e.notes = append(e.notes, fmt.Sprintf("namespace %s holds no workload: no zone proposed (a default deny there would select no pod)", ns.Name))
		}
	}
}
