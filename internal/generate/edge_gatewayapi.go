package generate

import (
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/budnet/budnet/internal/platform"
)

// Gateway API names (https://gateway-api.sigs.k8s.io/reference/spec/).
const (
	apiGateway      = "gateway.networking.k8s.io/v1"
	groupGateway    = "gateway.networking.k8s.io"
	kindGateway     = "Gateway"
	kindHTTPRoute   = "HTTPRoute"
	redirectRoute   = "budnet-https-redirect"
	labelNamespace  = "kubernetes.io/metadata.name"
	traefikCRDGroup = "traefik.io"
)

// gatewayEdge is the Gateway API form of the edge: a Gateway with an HTTP
// listener that only serves the redirect and an HTTPS listener per host
// with its certificate, the redirect HTTPRoute, and per host an HTTPRoute
// with the security headers as a ResponseHeaderModifier filter. Gateway API
// has no standard rate, size or address limits; with the Traefik
// implementation (class traefik) the HTTPRoutes reach Traefik Middlewares
// through ExtensionRef filters
// (https://doc.traefik.io/traefik/reference/routing-configuration/kubernetes/gateway-api/),
// the Coraza WAF plugin Middleware among them,
// and a TLSOption named default sets Traefik's minimum TLS version, since
// Gateway listeners cannot. Other implementations need their own policy
// objects for those.
func gatewayEdge(p *platform.Platform, hosts []edgeHost) ([]*unstructured.Unstructured, error) {
	gw, err := edgeWorkload(p)
	if err != nil {
		return nil, err
	}
	traefik := edgeClass(p, platform.EdgeGatewayAPI) == "traefik"
	objs := []*unstructured.Unstructured{gatewayObject(p, gw, hosts), redirectHTTPRoute(gw, hosts)}
	if traefik {
		mws, err := traefikMiddlewares(p, hosts, false)
		if err != nil {
			return nil, err
		}
		objs = append(objs, mws...)
		opt := traefikTLSOption(p, gw.Zone)
		// Traefik applies the TLSOption named default to every TLS router
		// without options of its own, Gateway listeners included.
		opt.SetName("default")
		objs = append(objs, opt)
	}
	for _, h := range hosts {
		objs = append(objs, hostHTTPRoute(p, gw, h, traefik))
	}
	return objs, nil
}

func listenerName(h edgeHost) string { return objectName("https", h.Name) }

// gatewayObject has the HTTP listener (routes only from its own namespace, where
// the redirect route lives; cert-manager's HTTP-01 solver routes attach
// there too) and an HTTPS listener per host admitting routes only from the
// backend's namespace.
func gatewayObject(p *platform.Platform, gw *platform.Workload, hosts []edgeHost) *unstructured.Unstructured {
	httpPort, httpsPort := edgePorts(gw)
	listeners := []any{map[string]any{
		"name": listenerHTTP, "port": httpPort, "protocol": "HTTP",
		"allowedRoutes": map[string]any{"namespaces": map[string]any{"from": "Same"}},
	}}
	for _, h := range hosts {
		listeners = append(listeners, map[string]any{
			"name": listenerName(h), "port": httpsPort, "protocol": "HTTPS", "hostname": h.Name,
			"tls": map[string]any{"mode": "Terminate", "certificateRefs": []any{
				map[string]any{"group": "", "kind": "Secret", "name": h.secret}}},
			"allowedRoutes": map[string]any{"namespaces": map[string]any{
				"from":     "Selector",
				"selector": map[string]any{"matchLabels": map[string]any{labelNamespace: h.backend.Zone}},
			}},
		})
	}
	return Object(apiGateway, kindGateway, gw.Zone, EdgeGatewayName, "spec.edge",
		"6.2 TLS termination at the edge",
		map[string]any{"spec": map[string]any{
			"gatewayClassName": edgeClass(p, platform.EdgeGatewayAPI),
			"listeners":        listeners,
		}})
}

// redirectHTTPRoute answers every host on the HTTP listener with a
// permanent redirect to HTTPS. cert-manager's HTTP-01 route matches the
// longer path /.well-known/acme-challenge/TOKEN and so wins over it.
func redirectHTTPRoute(gw *platform.Workload, hosts []edgeHost) *unstructured.Unstructured {
	names := make([]string, 0, len(hosts))
	for _, h := range hosts {
		names = append(names, h.Name)
	}
	slices.Sort(names)
	return Object(apiGateway, kindHTTPRoute, gw.Zone, redirectRoute, "spec.edge.hosts",
		"6.2 HTTP to HTTPS redirect",
		map[string]any{"spec": map[string]any{
			"parentRefs": []any{map[string]any{"name": EdgeGatewayName, "sectionName": listenerHTTP}},
			"hostnames":  toAny(slices.Compact(names)),
			"rules": []any{map[string]any{"filters": []any{map[string]any{
				"type":            "RequestRedirect",
				"requestRedirect": map[string]any{"scheme": "https", "statusCode": int64(301)},
			}}}},
		}})
}

// hostHTTPRoute routes a host's HTTPS listener to its backend with the
// security headers set on every response.
func hostHTTPRoute(p *platform.Platform, gw *platform.Workload, h edgeHost, traefik bool) *unstructured.Unstructured {
	var set []any
	for _, hv := range securityHeaders(p) {
		set = append(set, map[string]any{"name": hv[0], "value": hv[1]})
	}
	filters := []any{map[string]any{
		"type":                   "ResponseHeaderModifier",
		"responseHeaderModifier": map[string]any{"set": set},
	}}
	if traefik {
		for _, n := range edgeMiddlewares(p, h, false) {
			filters = append(filters, map[string]any{"type": "ExtensionRef", "extensionRef": map[string]any{
				"group": traefikCRDGroup, "kind": kindMiddleware, "name": n}})
		}
	}
	return Object(apiGateway, kindHTTPRoute, h.backend.Zone, objectName(h.Name), h.row,
		"6.2 hardened HTTPS route for "+h.Name,
		map[string]any{"spec": map[string]any{
			"parentRefs": []any{map[string]any{
				"group": groupGateway, "kind": kindGateway,
				"name": EdgeGatewayName, "namespace": gw.Zone, "sectionName": listenerName(h),
			}},
			"hostnames": []any{h.Name},
			"rules": []any{map[string]any{
				"matches":     gatewayPathMatches(h.RoutedPaths()),
				"filters":     filters,
				"backendRefs": []any{map[string]any{"name": h.backend.Service, "port": int64(h.port)}},
			}},
		}})
}

// gatewayPathMatches matches each routed path prefix; Gateway API's
// PathPrefix matches element by element, as the model's paths mean.
func gatewayPathMatches(paths []string) []any {
	out := make([]any, 0, len(paths))
	for _, p := range paths {
		out = append(out, map[string]any{"path": map[string]any{"type": "PathPrefix", "value": p}})
	}
	return out
}
