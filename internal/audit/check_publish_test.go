package audit

import (
	"strings"
	"testing"
)

// storeAndService is a workload of image with one container port and a
// Service named svc in bud-data.
func storeAndService(svc, image, ports, svcPorts string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ` + svc + `, namespace: bud-data}
spec:
  selector: {matchLabels: {app: ` + svc + `}}
  template:
    metadata: {labels: {app: ` + svc + `}}
    spec:
      containers: [{name: c, image: "` + image + `", ports: ` + ports + `}]
---
apiVersion: v1
kind: Service
metadata: {name: ` + svc + `, namespace: bud-data}
spec:
  selector: {app: ` + svc + `}
  ports: ` + svcPorts + `
---
`
}

// TestPublishAttacks tries to get past BUD-4.1-04: ports by name and by
// number, routes in another namespace than the store, the Traefik
// dashboard, Gateway API routes, default backends, and open allowlists.
func TestPublishAttacks(t *testing.T) {
	minio := storeAndService("bud-minio", "bitnami/minio:2024", "[{name: api, containerPort: 9000}, {name: console, containerPort: 9001}]",
		"[{name: api, port: 9000, targetPort: api}, {name: console, port: 9001, targetPort: console}]")
	keycloak := storeAndService("keycloak", "quay.io/keycloak/keycloak:26.4", "[{name: http, containerPort: 8080}]", "[{name: http, port: 8080, targetPort: http}]")
	ingress := func(backend string, extra ...string) string {
		return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: bud-data` + strings.Join(extra, "") + `}
spec:
  ingressClassName: traefik
  tls: [{hosts: [s.bud.example.com], secretName: s-tls}]
  rules: [{host: s.bud.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: ` + backend + `}}]}}]
`
	}
	tests := []struct {
		name string
		yaml string
		want Status
		msg  string
	}{
		{name: "S3 API by port number", yaml: minio + ingress("{name: bud-minio, port: {number: 9000}}"), want: StatusFail, msg: "S3 API"},
		{name: "console by port name", yaml: minio + ingress("{name: bud-minio, port: {name: console}}"), want: StatusFail, msg: "console"},
		{name: "default backend", yaml: minio + `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: bud-data}
spec:
  defaultBackend: {service: {name: bud-minio, port: {number: 9001}}}`, want: StatusFail, msg: "console"},
		{name: "IngressRoute in another namespace pointing at the store", yaml: minio + "apiVersion: traefik.io/v1alpha1\nkind: IngressRoute\nmetadata: {name: web, namespace: bud-system}\nspec:\n  routes: [{match: \"Host(`s.bud.example.com`)\", kind: Rule, services: [{name: bud-minio, namespace: bud-data, port: 9000}]}]\n  tls: {secretName: t}", want: StatusFail},
		{name: "Traefik dashboard", yaml: "apiVersion: traefik.io/v1alpha1\nkind: IngressRoute\nmetadata: {name: web, namespace: bud-infra}\nspec:\n  routes: [{match: \"Host(`traefik.bud.example.com`)\", kind: Rule, services: [{name: api@internal, kind: TraefikService}]}]", want: StatusFail, msg: "dashboard"},
		{name: "Grafana through an HTTPRoute", yaml: storeAndService("grafana", "docker.io/grafana/grafana:11.4.0", "[{name: http, containerPort: 3000}]", "[{name: http, port: 80, targetPort: 3000}]") +
			"apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: web, namespace: bud-data}\nspec:\n  hostnames: [grafana.bud.example.com]\n  rules: [{backendRefs: [{name: grafana, port: 80}]}]", want: StatusFail, msg: "grafana"},
		{name: "ClickHouse known from the model's role, not its image", yaml: strings.Replace(storeAndService("bud-clickhouse", "budstudio/analytics-db:1", "[{containerPort: 8123}]", "[{port: 8123}]"),
			"labels: {app: bud-clickhouse}", "labels: {app: bud-clickhouse, app.kubernetes.io/name: clickhouse}", 1) +
			ingress("{name: bud-clickhouse, port: {number: 8123}}"), want: StatusFail, msg: "data store"},
		{name: "allowlist open to every address", yaml: minio + ingress("{name: bud-minio, port: {number: 9001}}", `, annotations: {traefik.ingress.kubernetes.io/router.middlewares: bud-data-allow@kubernetescrd}`) +
			"---\napiVersion: traefik.io/v1alpha1\nkind: Middleware\nmetadata: {name: allow, namespace: bud-data}\nspec:\n  ipAllowList: {sourceRange: [0.0.0.0/0]}", want: StatusFail},
		{name: "allowlisted console", yaml: minio + ingress("{name: bud-minio, port: {number: 9001}}", `, annotations: {traefik.ingress.kubernetes.io/router.middlewares: bud-data-allow@kubernetescrd}`) +
			"---\napiVersion: traefik.io/v1alpha1\nkind: Middleware\nmetadata: {name: allow, namespace: bud-data}\nspec:\n  ipAllowList: {sourceRange: [203.0.113.0/24]}", want: StatusPass},
		{name: "internal ingress class is not judged, never a pass", yaml: minio + strings.Replace(ingress("{name: bud-minio, port: {number: 9001}}"), "ingressClassName: traefik", "ingressClassName: traefik-internal", 1), want: StatusNotApplicable},
		{name: "Keycloak: a second HTTPRoute match publishes every path", yaml: keycloak +
			"apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: auth, namespace: bud-data}\nspec:\n  hostnames: [auth.bud.example.com]\n  rules: [{matches: [{path: {type: PathPrefix, value: /realms}}, {headers: [{name: x, value: y}]}], backendRefs: [{name: keycloak, port: 8080}]}]", want: StatusFail, msg: "admin console"},
		{name: "Keycloak: an IngressRoute matching /realms or /admin", yaml: keycloak +
			"apiVersion: traefik.io/v1alpha1\nkind: IngressRoute\nmetadata: {name: auth, namespace: bud-data}\nspec:\n  routes: [{match: \"Host(`auth.bud.example.com`) && (PathPrefix(`/realms`) || PathPrefix(`/admin`))\", kind: Rule, services: [{name: keycloak, port: 8080}]}]", want: StatusFail, msg: "admin console"},
		{name: "Keycloak: only the public paths", yaml: keycloak +
			"apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: auth, namespace: bud-data}\nspec:\n  hostnames: [auth.bud.example.com]\n  rules: [{matches: [{path: {type: PathPrefix, value: /realms}}, {path: {type: PathPrefix, value: /resources}}], backendRefs: [{name: keycloak, port: 8080}]}]", want: StatusPass},
		{name: "application backend", yaml: storeAndService("budadmin", "budstudio/budadmin:0.4", "[{containerPort: 3000}]", "[{port: 80, targetPort: 3000}]") + ingress("{name: budadmin, port: {number: 80}}"), want: StatusPass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := runYAML(t, checkPublishedBackends(), tt.yaml)
			st, msg := statusOf(rs, "")
			if st != tt.want {
				t.Fatalf("status %q (%s), want %q; results %+v", st, msg, tt.want, rs)
			}
			if tt.msg != "" && !strings.Contains(msg, tt.msg) {
				t.Errorf("message %q does not say %q", msg, tt.msg)
			}
		})
	}
}
