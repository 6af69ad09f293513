package infer

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/budnet/budnet/internal/platform"
)

// monitorFlows reads Prometheus Operator ServiceMonitors and PodMonitors
// (monitoring.coreos.com/v1): the Prometheus servers of the input scrape the
// endpoints they select (https://prometheus-operator.dev/docs/api-reference/api/).
func (e *engine) monitorFlows() {
	servers := e.prometheusServers()
	for _, o := range e.inv.Objects {
		if (o.Kind != "ServiceMonitor" && o.Kind != "PodMonitor") || !strings.HasPrefix(o.APIVersion, "monitoring.coreos.com/") {
			continue
		}
		spec, _ := o.Unstructured.Object["spec"].(map[string]any)
		sel, err := selectorOf(spec["selector"])
		if err != nil {
			e.unresolve("", evidence(o, "spec.selector"), "", "not a label selector: "+err.Error())
			continue
		}
		nss := monitorNamespaces(spec, o.Namespace)
		ev := evidence(o, "spec.selector") + " (" + o.Kind + " " + o.Name + ")"
		if len(servers) == 0 {
			e.unresolve("", ev, "", "a "+o.Kind+", but no Prometheus server among the input's workloads")
			continue
		}
		if o.Kind == "ServiceMonitor" {
			ports := endpointPorts(spec, "endpoints")
			for _, s := range e.inv.Services {
				if !nss(s.Namespace) || !sel.Matches(labels.Set(s.Object.Unstructured.GetLabels())) {
					continue
				}
				for _, w := range e.byNS[s.Namespace] {
					dm := e.byManifest[w]
					if dm == nil || !platform.HasLabels(w.Labels, s.Selector) {
						continue
					}
					for _, sp := range s.Ports {
						if !slices.Contains(ports, sp.Name) && !slices.Contains(ports, sp.TargetPort.String()) {
							continue
						}
						if pt, ok := targetPort(dm, sp); ok {
							for _, srv := range servers {
								e.addInternal(srv, dm, pt, ev+"; Service "+s.Name)
							}
						}
					}
				}
			}
			continue
		}
		ports := endpointPorts(spec, "podMetricsEndpoints")
		for _, m := range e.models {
			if !nss(m.model.Zone) || !sel.Matches(labels.Set(m.mw.Labels)) {
				continue
			}
			for _, p := range ports {
				if cp, ok := m.portByName(p); ok {
					if n, ok := m.portName(cp.Protocol, cp.ContainerPort); ok {
						for _, srv := range servers {
							e.addInternal(srv, m, platform.Port{Name: n}, ev)
						}
					}
				}
			}
		}
	}
}

// prometheusServers are the workloads running the Prometheus server image.
func (e *engine) prometheusServers() []*modelWorkload {
	var out []*modelWorkload
	for _, m := range e.models {
		for _, c := range m.mw.Containers {
			if !c.Inferred && strings.Contains(imageRepo(c.Image), "prometheus/prometheus") {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

func selectorOf(v any) (labels.Selector, error) {
	m, _ := v.(map[string]any)
	var ls metav1.LabelSelector
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &ls); err != nil {
		return nil, err
	}
	return metav1.LabelSelectorAsSelector(&ls)
}

// monitorNamespaces reads spec.namespaceSelector: any, matchNames, or the
// monitor's own namespace by default.
func monitorNamespaces(spec map[string]any, own string) func(string) bool {
	nsSel, _ := spec["namespaceSelector"].(map[string]any)
	if any, _ := nsSel["any"].(bool); any {
		return func(string) bool { return true }
	}
	if names := stringList(nsSel["matchNames"]); len(names) > 0 {
		return func(ns string) bool { return slices.Contains(names, ns) }
	}
	return func(ns string) bool { return ns == own }
}

// endpointPorts lists the port names (and targetPorts) of a monitor's endpoints.
func endpointPorts(spec map[string]any, field string) []string {
	eps, _ := spec[field].([]any)
	var out []string
	for _, ep := range eps {
		m, _ := ep.(map[string]any)
		if p, ok := m["port"].(string); ok {
			out = append(out, p)
		}
		switch tp := m["targetPort"].(type) {
		case string:
			out = append(out, tp)
		case int64, float64:
			out = append(out, fmt.Sprint(tp))
		}
	}
	return out
}
