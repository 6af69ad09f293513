package audit

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
)

// Guide section 4.1: from outside only "Web/API access" on 443. A data
// store's own API (MinIO S3, ClickHouse HTTP) or an admin UI (MinIO console,
// Keycloak's admin console, Grafana, the Traefik dashboard) published on the
// edge is reachable from every address unless its route is allowlisted.

func checkPublishedBackends() Check {
	return Check{
		ID: "BUD-4.1-04", Title: "No data store or admin UI is published on the edge", Section: "4.1", Severity: SeverityHigh,
		Remediation: "Remove edge routes to data stores (serve MinIO objects through presigned URLs via the API, or a dedicated host allowlisted to the uploaders) and put admin UIs (MinIO console, Keycloak /admin, Grafana, dashboards) on admin hosts with the model's source allowlist (`budnet generate` emits the ipAllowList Middleware) or behind kubectl port-forward.",
		Doc:         docOf("BUD-4.1-04"),
		Run: func(c *Context) []Result {
			e := newEdge(c.Inventory)
			models := modelOf(c.Inventory, c.Platform)
			var out []Result
			for _, r := range e.routes {
				if r.redirectOnly {
					continue
				}
				if class := strings.ToLower(ingressClass(r.obj)); strings.Contains(class, "internal") || strings.Contains(class, "private") {
					out = append(out, res(StatusNotApplicable, r.obj.Ref(), "not judged: ingress class "+class+" reads as an internal edge", ObjectEvidence(r.obj, "spec.ingressClassName", class)))
					continue
				}
				for _, b := range routeBackends(r) {
					if res, ok := judgeBackend(c, models, r, b); ok {
						out = append(out, res)
					}
				}
			}
			return out
		},
	}
}

// backend is one service a route forwards to.
type backend struct {
	namespace, name string
	port            intstr.IntOrString
	path            string
	host            string
	field           string
	traefikService  bool
}

// routeBackends lists the services of an Ingress
// (spec.rules[].http.paths[].backend.service, spec.defaultBackend), an
// IngressRoute (spec.routes[].services[]) or an HTTPRoute
// (spec.rules[].backendRefs[]).
func routeBackends(r *route) []backend {
	o := r.obj
	var out []backend
	port := func(m map[string]any, path ...string) intstr.IntOrString {
		v, _ := nestedIn(m, path...)
		switch t := v.(type) {
		case string:
			if n, err := strconv.Atoi(t); err == nil {
				return intstr.FromInt32(int32(n))
			}
			return intstr.FromString(t)
		case int64:
			return intstr.FromInt32(int32(t))
		case float64:
			return intstr.FromInt32(int32(t))
		}
		return intstr.IntOrString{}
	}
	switch {
	case o.Kind == "Ingress":
		if d, ok := nested(o, "spec", "defaultBackend", "service"); ok {
			dm := asMap(d)
			p := port(dm, "port", "number")
			if p.IntVal == 0 {
				p = port(dm, "port", "name")
			}
			out = append(out, backend{namespace: o.Namespace, name: stringIn(dm, "name"), port: p, path: "/", field: "spec.defaultBackend.service"})
		}
		for i, rule := range nestedSlice(o, "spec", "rules") {
			host := strings.ToLower(stringIn(asMap(rule), "host"))
			for j, p := range sliceIn(asMap(rule), "http", "paths") {
				pm := asMap(p)
				pt := port(pm, "backend", "service", "port", "number")
				if pt.IntVal == 0 {
					pt = port(pm, "backend", "service", "port", "name")
				}
				out = append(out, backend{namespace: o.Namespace, name: stringIn(pm, "backend", "service", "name"), port: pt, host: host,
					path: or(stringIn(pm, "path"), "/"), field: fmt.Sprintf("spec.rules[%d].http.paths[%d].backend.service", i, j)})
			}
		}
	case o.Kind == "IngressRoute":
		for i, rt := range nestedSlice(o, "spec", "routes") {
			rm := asMap(rt)
			var paths []string
			for _, m := range pathPrefix.FindAllStringSubmatch(stringIn(rm, "match"), -1) {
				paths = append(paths, m[1])
			}
			path := exposingPath(paths)
			hosts := strings.Join(hostsOfMatch(stringIn(rm, "match")), ", ")
			for j, s := range sliceIn(rm, "services") {
				sm := asMap(s)
				ns := or(stringIn(sm, "namespace"), o.Namespace)
				out = append(out, backend{namespace: ns, name: stringIn(sm, "name"), port: port(sm, "port"), path: path, host: hosts,
					field: fmt.Sprintf("spec.routes[%d].services[%d]", i, j), traefikService: stringIn(sm, "kind") == "TraefikService"})
			}
		}
	case o.Kind == "HTTPRoute":
		for i, rule := range nestedSlice(o, "spec", "rules") {
			var paths []string
			for _, m := range sliceIn(asMap(rule), "matches") {
				// A match without a path matches every path.
				paths = append(paths, or(stringIn(asMap(m), "path", "value"), "/"))
			}
			path := exposingPath(paths)
			for j, b := range sliceIn(asMap(rule), "backendRefs") {
				bm := asMap(b)
				if k := stringIn(bm, "kind"); k != "" && k != "Service" {
					continue
				}
				out = append(out, backend{namespace: or(stringIn(bm, "namespace"), o.Namespace), name: stringIn(bm, "name"), port: port(bm, "port"),
					path: path, field: fmt.Sprintf("spec.rules[%d].backendRefs[%d]", i, j)})
			}
		}
	}
	return out
}

// exposingPath is, of the paths a route matches, the one its judgement must
// see: the root (every path) when any is the root, else one under /admin, else
// the first. A route without a path matcher matches every path. Judging only
// the first would let a second match ("/realms" then "/") publish everything.
func exposingPath(paths []string) string {
	if len(paths) == 0 {
		return "/"
	}
	for _, p := range paths {
		if p == "/" || p == "" {
			return "/"
		}
	}
	for _, p := range paths {
		if strings.HasPrefix(p, "/admin") {
			return p
		}
	}
	return paths[0]
}

var pathPrefix = regexp.MustCompile("Path(?:Prefix)?\\(\\s*[`\"']([^`\"']+)")

// adminImages are admin UIs and dashboards, by image name.
var adminImages = regexp.MustCompile(`(?i)(^|/)(grafana|pgadmin4?|phpmyadmin|redis-?commander|redisinsight|mongo-express|kafka-ui|kafdrop|akhq|dashboard|kibana|alertmanager|prometheus|minio-console|adminer|dapr-dashboard|headlamp)(:|@|$)`)

// storeImages are data stores, by image name.
var storeImages = regexp.MustCompile(`(?i)(^|/)(minio|postgres|postgresql|postgresql-repmgr|redis|valkey|clickhouse|mongodb|mongo|kafka|etcd|cassandra|elasticsearch|opensearch|mysql|mariadb|qdrant|milvus|weaviate|rabbitmq|nats)(:|@|$)`)

var minioImage = regexp.MustCompile(`(?i)(^|/)minio(:|@|$)`)

func judgeBackend(c *Context, models map[*manifest.Workload]*platform.Workload, r *route, b backend) (Result, bool) {
	subject := r.obj.Ref() + " -> " + b.namespace + "/" + b.name
	ev := ObjectEvidence(r.obj, b.field, b.name+":"+b.port.String()+" "+b.path)
	if b.traefikService && strings.HasPrefix(b.name, "api@internal") {
		return publishVerdict(r, b, subject, "the Traefik dashboard and API (api@internal)", ev), true
	}
	svc := serviceOf(c.Inventory, b.namespace, b.name)
	if svc == nil {
		return Result{}, false
	}
	target, portName := targetOf(svc, b.port)
	sel := labels.SelectorFromSet(svc.Selector)
	for _, w := range c.Inventory.Workloads {
		if len(svc.Selector) == 0 || w.Namespace != svc.Namespace || !w.SelectedBy(sel) {
			continue
		}
		if what := classify(w, models[w], target, portName, b.path); what != "" {
			return publishVerdict(r, b, subject, what+" ("+w.Ref()+")", ev), true
		}
	}
	return res(StatusPass, subject, "an application backend"), true
}

func serviceOf(inv *manifest.Inventory, ns, name string) *manifest.Service {
	for _, s := range inv.Services {
		if s.Namespace == ns && s.Name == name {
			return s
		}
	}
	return nil
}

// targetOf resolves a route's service port (number or name) to the
// Service's targetPort and port name.
func targetOf(s *manifest.Service, p intstr.IntOrString) (intstr.IntOrString, string) {
	for _, sp := range s.Ports {
		if (p.Type == intstr.String && sp.Name == p.StrVal) || (p.Type == intstr.Int && sp.Port == p.IntVal) || (p.IntVal == 0 && p.StrVal == "" && len(s.Ports) == 1) {
			return sp.TargetPort, sp.Name
		}
	}
	return intstr.IntOrString{}, ""
}

// classify names what a workload serves on a port when it is a data store
// or admin UI; "" for an application.
func classify(w *manifest.Workload, mw *platform.Workload, target intstr.IntOrString, portName, path string) string {
	port, name := target.IntVal, strings.ToLower(portName)
	if target.Type == intstr.String {
		name = strings.ToLower(target.StrVal)
		for _, cp := range w.Ports() {
			if strings.EqualFold(cp.Name, target.StrVal) {
				port = cp.ContainerPort
			}
		}
	}
	for _, ct := range w.Containers {
		img := ct.Image
		switch {
		case keycloakImage.MatchString(img):
			if path == "/" || path == "" || strings.HasPrefix(path, "/admin") {
				return "Keycloak's admin console (/admin)"
			}
		case minioImage.MatchString(img):
			if port == 9001 || strings.Contains(name, "console") {
				return "the MinIO console"
			}
			return "the MinIO S3 API"
		case adminImages.MatchString(img):
			return "the admin UI " + imageName(img)
		case storeImages.MatchString(img):
			return "the data store " + imageName(img)
		}
	}
	switch {
	case mw == nil:
	case mw.Role == platform.RoleDatastore:
		return "the data store " + mw.Name
	case mw.Role == platform.RoleMonitoring:
		return "the monitoring component " + mw.Name
	}
	return ""
}

func imageName(img string) string {
	img = img[strings.LastIndexByte(img, '/')+1:]
	if i := strings.IndexAny(img, ":@"); i >= 0 {
		img = img[:i]
	}
	return img
}

func publishVerdict(r *route, b backend, subject, what string, ev Evidence) Result {
	ranges, aev := allowlistOf(r)
	if len(ranges) > 0 && !anyOpen(ranges) {
		return res(StatusPass, subject, fmt.Sprintf("%s is published only to %s", what, strings.Join(ranges, ", ")), aev)
	}
	hosts := b.host
	if hosts == "" {
		hosts = listing(r.hosts, 3)
	}
	if hosts == "" {
		hosts = "every host"
	}
	return res(StatusFail, subject, fmt.Sprintf("%s is published on the edge for every address (%s%s)", what, hosts, b.path), ev)
}
