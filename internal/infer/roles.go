package infer

import (
	"strings"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
)

// roleHint maps a word found in an image name or chart label to a role.
type roleHint struct {
	word string
	role platform.Role
}

// roleHints are checked in order against the image repository (without
// registry and tag) and the helm.sh/chart and app.kubernetes.io/name labels.
// The Dapr control plane comes first: its images are all "daprio/dapr".
var roleHints = []roleHint{
	{"dapr-sentry", platform.RoleDaprControlPlane}, {"dapr-operator", platform.RoleDaprControlPlane},
	{"dapr-placement", platform.RoleDaprControlPlane}, {"dapr-scheduler", platform.RoleDaprControlPlane},
	{"dapr-sidecar-injector", platform.RoleDaprControlPlane}, {"daprio/dapr", platform.RoleDaprControlPlane},
	{"traefik", platform.RoleIngress}, {"ingress-nginx", platform.RoleIngress}, {"nginx-ingress", platform.RoleIngress},
	{"envoy-gateway", platform.RoleIngress}, {"haproxy-ingress", platform.RoleIngress}, {"kong", platform.RoleIngress},
	{"budnet", platform.RoleGateway},
	{"keycloak", platform.RoleIdentity}, {"dex", platform.RoleIdentity},
	{"postgres", platform.RoleDatastore}, {"redis", platform.RoleDatastore}, {"valkey", platform.RoleDatastore},
	{"clickhouse", platform.RoleDatastore}, {"mongodb", platform.RoleDatastore}, {"mongo", platform.RoleDatastore},
	{"kafka", platform.RoleDatastore}, {"minio", platform.RoleDatastore}, {"mysql", platform.RoleDatastore},
	{"mariadb", platform.RoleDatastore}, {"rabbitmq", platform.RoleDatastore}, {"zookeeper", platform.RoleDatastore},
	{"etcd", platform.RoleDatastore}, {"elasticsearch", platform.RoleDatastore}, {"opensearch", platform.RoleDatastore},
	{"cassandra", platform.RoleDatastore}, {"nats", platform.RoleDatastore},
	{"prometheus", platform.RoleMonitoring}, {"grafana", platform.RoleMonitoring}, {"loki", platform.RoleMonitoring},
	{"tempo", platform.RoleMonitoring}, {"mimir", platform.RoleMonitoring}, {"alertmanager", platform.RoleMonitoring},
	{"opentelemetry-collector", platform.RoleMonitoring}, {"otel", platform.RoleMonitoring}, {"jaeger", platform.RoleMonitoring},
	{"node-exporter", platform.RoleMonitoring}, {"fluent", platform.RoleMonitoring},
}

// frontendWords mark a web front end in a workload's name or image.
var frontendWords = []string{"frontend", "admin", "playground", "customer", "dashboard", "webui", "web-ui", "console"}

// roleOf proposes a role from the images, chart and name of w, and says why.
func roleOf(w *manifest.Workload) (platform.Role, string) {
	if w.Kind == "Job" || w.Kind == "CronJob" {
		// A backup or provisioning job runs a datastore's image as a client.
		return platform.RoleService, "a " + w.Kind + " runs to completion: a client, whatever its image"
	}
	var evidence []struct{ what, text string }
	for _, c := range w.Containers {
		if !c.Inferred && c.Image != "" {
			evidence = append(evidence, struct{ what, text string }{"image " + c.Image, imageRepo(c.Image)})
		}
	}
	for _, k := range []string{"helm.sh/chart", "app.kubernetes.io/name", "app"} {
		if v := w.Labels[k]; v != "" {
			evidence = append(evidence, struct{ what, text string }{"label " + k + "=" + v, strings.ToLower(v)})
		}
	}
	for _, h := range roleHints {
		for _, ev := range evidence {
			if strings.Contains(ev.text, h.word) {
				return h.role, ev.what + " names " + h.word
			}
		}
	}
	name := strings.ToLower(w.Name)
	for _, word := range frontendWords {
		if strings.Contains(name, word) {
			return platform.RoleFrontend, "name contains " + word
		}
	}
	return platform.RoleService, "no image, chart or name of a known datastore, edge, monitoring, identity or front end"
}

// imageRepo is the lower-cased image reference without its tag or digest,
// registry host included (it can carry the vendor, as in ghcr.io/traefik).
func imageRepo(image string) string {
	s := strings.ToLower(image)
	if i := strings.Index(s, "@"); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndex(s, ":"); i > strings.LastIndex(s, "/") {
		s = s[:i]
	}
	return s
}
