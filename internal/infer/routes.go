package infer

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
)

// backend is a Service a route sends traffic to.
type backend struct {
	ns, name string
	port     portSelector
	path     string // field path in the route object
}

// routeFlows reads Ingress, Traefik IngressRoute and Gateway API HTTPRoute
// backends: the edge workloads (role ingress) reach each backend's pods.
func (e *engine) routeFlows() {
	var edges []*modelWorkload
	for _, m := range e.models {
		if m.model.Role == platform.RoleIngress {
			edges = append(edges, m)
		}
	}
	for _, o := range e.inv.Objects {
		var bs []backend
		switch {
		case o.Kind == "Ingress" && strings.HasPrefix(o.APIVersion, "networking.k8s.io/"):
			bs = ingressBackends(o)
		case o.Kind == "IngressRoute" && (strings.HasPrefix(o.APIVersion, "traefik.io/") || strings.HasPrefix(o.APIVersion, "traefik.containo.us/")):
			bs = ingressRouteBackends(o)
		case o.Kind == "HTTPRoute" && strings.HasPrefix(o.APIVersion, "gateway.networking.k8s.io/"):
			bs = httpRouteBackends(o)
		default:
			continue
		}
		for _, b := range bs {
			ev := evidence(o, b.path)
			if len(edges) == 0 {
				e.unresolve("", ev, b.name, "a route backend, but no ingress controller (Traefik, ingress-nginx, Envoy Gateway...) among the input's workloads: add its manifests so the edge flow can be inferred")
				continue
			}
			s := e.services[nsName{b.ns, b.name}]
			if s == nil {
				e.unresolve("", ev, b.name, fmt.Sprintf("route backend: no Service %s in namespace %s in the input", b.name, b.ns))
				continue
			}
			for _, edge := range edges {
				e.toService(edge, s, b.port, ev+" (route backend)", b.name, 0)
			}
		}
	}
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

func num(m map[string]any, k string) int32 {
	switch v := m[k].(type) {
	case int64:
		return int32(v)
	case float64:
		return int32(v)
	case int:
		return int32(v)
	}
	return 0
}

func ingressBackends(o *manifest.Object) []backend {
	spec, _ := o.Unstructured.Object["spec"].(map[string]any)
	var out []backend
	add := func(b map[string]any, path string) {
		svc, _ := b["service"].(map[string]any)
		if svc == nil {
			return
		}
		p, _ := svc["port"].(map[string]any)
		out = append(out, backend{ns: o.Namespace, name: str(svc, "name"), port: portSelector{number: num(p, "number"), name: str(p, "name")}, path: path + ".service"})
	}
	if d, ok := spec["defaultBackend"].(map[string]any); ok {
		add(d, "spec.defaultBackend")
	}
	rules, _ := spec["rules"].([]any)
	for i, r := range rules {
		rm, _ := r.(map[string]any)
		http, _ := rm["http"].(map[string]any)
		paths, _ := http["paths"].([]any)
		for j, p := range paths {
			pm, _ := p.(map[string]any)
			if b, ok := pm["backend"].(map[string]any); ok {
				add(b, fmt.Sprintf("spec.rules[%d].http.paths[%d].backend", i, j))
			}
		}
	}
	return out
}

func ingressRouteBackends(o *manifest.Object) []backend {
	spec, _ := o.Unstructured.Object["spec"].(map[string]any)
	routes, _ := spec["routes"].([]any)
	var out []backend
	for i, r := range routes {
		rm, _ := r.(map[string]any)
		svcs, _ := rm["services"].([]any)
		for j, s := range svcs {
			sm, _ := s.(map[string]any)
			if k := str(sm, "kind"); k != "" && k != "Service" {
				continue // TraefikService: weighted or mirrored, names other services
			}
			ns := str(sm, "namespace")
			if ns == "" {
				ns = o.Namespace
			}
			b := backend{ns: ns, name: str(sm, "name"), path: fmt.Sprintf("spec.routes[%d].services[%d]", i, j)}
			if p := str(sm, "port"); p != "" {
				b.port.name = p
			} else {
				b.port.number = num(sm, "port")
			}
			out = append(out, b)
		}
	}
	return out
}

func httpRouteBackends(o *manifest.Object) []backend {
	spec, _ := o.Unstructured.Object["spec"].(map[string]any)
	rules, _ := spec["rules"].([]any)
	var out []backend
	for i, r := range rules {
		rm, _ := r.(map[string]any)
		refs, _ := rm["backendRefs"].([]any)
		for j, ref := range refs {
			bm, _ := ref.(map[string]any)
			if k := str(bm, "kind"); (k != "" && k != "Service") || str(bm, "group") != "" {
				continue
			}
			ns := str(bm, "namespace")
			if ns == "" {
				ns = o.Namespace
			}
			out = append(out, backend{ns: ns, name: str(bm, "name"), port: portSelector{number: num(bm, "port")}, path: fmt.Sprintf("spec.rules[%d].backendRefs[%d]", i, j)})
		}
	}
	return out
}

// exposedFlows turns Services of type LoadBalancer or NodePort into ingress
// flows from their loadBalancerSourceRanges, or from every address.
func (e *engine) exposedFlows() {
	for _, s := range e.inv.Services {
		if s.Type != corev1.ServiceTypeLoadBalancer && s.Type != corev1.ServiceTypeNodePort {
			continue
		}
		groups, cidrs := []string{internetGroup}, []string(nil)
		if len(s.LoadBalancerSourceRanges) > 0 {
			groups, cidrs = nil, s.LoadBalancerSourceRanges
		}
		ev := evidence(s.Object, "spec.type") + " " + string(s.Type)
		for _, w := range e.byNS[s.Namespace] {
			dm := e.byManifest[w]
			if dm == nil || !platform.HasLabels(w.Labels, s.Selector) {
				continue
			}
			for _, sp := range s.Ports {
				pt, ok := targetPort(dm, sp)
				if !ok {
					e.unresolve(dm.model.Name, ev, sp.TargetPort.String(), fmt.Sprintf("Service %s/%s port %d targets a port the workload does not declare", s.Namespace, s.Name, sp.Port))
					continue
				}
				e.addIngress(dm, groups, cidrs, pt, ev)
			}
		}
	}
}
