package infer

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func indent(s string, n int) string {
	if s == "" {
		return ""
	}
	pad := strings.Repeat(" ", n)
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = pad + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// deploy is a Deployment labelled app: NAME with one container; the
// arguments add pod annotations, pod spec fields and container fields.
func deploy(name, annotations, podSpec, container string) string {
	ann := ""
	if annotations != "" {
		ann = "      annotations:\n" + indent(annotations, 8)
	}
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %s}
spec:
  selector: {matchLabels: {app: %s}}
  template:
    metadata:
      labels: {app: %s}
%s    spec:
%s      containers:
        - name: main
          image: example/%s:1
%s`, name, name, name, ann, indent(podSpec, 6), name, indent(container, 10))
}

func svc(name, selector, ports string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata: {name: %s}\nspec:\n  selector: %s\n  ports: %s\n", name, selector, ports)
}

func dapr(id string) string {
	return fmt.Sprintf("dapr.io/enabled: \"true\"\ndapr.io/app-id: %s", id)
}

var pg = deploy("pg", "", "", "ports: [{name: tcp-postgresql, containerPort: 5432}]") + "---\n" +
	svc("pg", "{app: pg}", "[{port: 5432, targetPort: tcp-postgresql}]")

// TestSources checks each source kind on charts written for it.
func TestSources(t *testing.T) {
	tests := []struct {
		name       string
		docs       []string
		want       []string // every flow, one connection a line (see tuples)
		unresolved []string // substrings, one per unresolved item
	}{
		{
			name: "env URL with userinfo and port",
			docs: []string{pg, deploy("api", "", "", `env: [{name: DATABASE_URL, value: "postgresql://bud:s3cr%40t@pg:5432/bud?sslmode=verify-full"}]`)},
			want: []string{"internal api pg tcp-postgresql"},
		},
		{
			name: "URL without port takes the scheme's default",
			docs: []string{pg, deploy("api", "", "", `env: [{name: DATABASE_URL, value: "postgres://pg/bud"}]`)},
			want: []string{"internal api pg tcp-postgresql"},
		},
		{
			name: "$(OTHER_VAR) expansion",
			docs: []string{pg, deploy("api", "", "", `env:
  - {name: DB_HOST, value: pg.bud.svc.cluster.local}
  - {name: DATABASE_URL, value: "postgresql://u@$(DB_HOST):5432/bud"}`)},
			want: []string{"internal api pg tcp-postgresql"},
		},
		{
			name:       "$(OTHER_VAR) defined later stays a runtime value",
			docs:       []string{pg, deploy("api", "", "", `env: [{name: DATABASE_URL, value: "postgresql://u@$(DB_HOST):5432/bud"}]`)},
			unresolved: []string{"known only at runtime"},
		},
		{
			name: "Secret with base64 data through secretKeyRef",
			docs: []string{pg, "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\ndata:\n  url: " +
				"cG9zdGdyZXNxbDovL2J1ZDpwd0BwZy5idWQ6NTQzMi9idWQ=\n", // postgresql://bud:pw@pg.bud:5432/bud
				deploy("api", "", "", `env: [{name: DATABASE_URL, valueFrom: {secretKeyRef: {name: db, key: url}}}]`)},
			want: []string{"internal api pg tcp-postgresql"},
		},
		{
			name:       "Secret budnet cannot read",
			docs:       []string{pg, deploy("api", "", "", `env: [{name: DATABASE_URL, valueFrom: {secretKeyRef: {name: absent, key: url}}}]`)},
			unresolved: []string{"Secret bud/absent is not in the input"},
		},
		{
			name:       "optional Secret missing is not a problem",
			docs:       []string{pg, deploy("api", "", "", `env: [{name: DATABASE_URL, valueFrom: {secretKeyRef: {name: absent, key: url, optional: true}}}]`)},
			unresolved: nil,
		},
		{
			name: "envFrom ConfigMap with *_HOST and *_PORT",
			docs: []string{pg, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {PSQL_HOST: pg, PSQL_PORT: \"5432\", LOG_LEVEL: debug}\n",
				deploy("api", "", "", `envFrom: [{configMapRef: {name: cfg}}]`)},
			want: []string{"internal api pg tcp-postgresql"},
		},
		{
			name: "*_HOST without *_PORT reaches every port of the Service",
			docs: []string{deploy("ch", "", "", "ports: [{name: http, containerPort: 8123}, {name: tcp, containerPort: 9000}]"), svc("ch", "{app: ch}", "[{name: http, port: 8123}, {name: tcp, port: 9000}]"),
				deploy("api", "", "", `env: [{name: CLICKHOUSE_HOST, value: ch}]`)},
			want: []string{"internal api ch http", "internal api ch tcp"},
		},
		{
			name: "DSN in a mounted config file",
			docs: []string{pg, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata:\n  app.yaml: |\n    database:\n      dsn: postgresql://bud@pg:5432/bud\n",
				deploy("api", "", "volumes: [{name: c, configMap: {name: cfg}}]", `volumeMounts: [{name: c, mountPath: /etc/app}]`)},
			want: []string{"internal api pg tcp-postgresql"},
		},
		{
			name: "a mounted ConfigMap file not listed in items is not read",
			docs: []string{pg, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata:\n  a.env: DB=postgresql://pg:5432/x\n  b.env: X=1\n",
				deploy("api", "", "volumes: [{name: c, configMap: {name: cfg, items: [{key: b.env, path: b.env}]}}]", `volumeMounts: [{name: c, mountPath: /etc/app}]`)},
		},
		{
			name: "libpq keyword connection string",
			docs: []string{pg, deploy("api", "", "", `env: [{name: PG_CONN, value: "host=pg port=5432 dbname=bud sslmode=verify-full"}]`)},
			want: []string{"internal api pg tcp-postgresql"},
		},
		{
			name: "Service whose selector matches two workloads",
			docs: []string{
				strings.ReplaceAll(deploy("valkey-primary", "", "", "ports: [{name: redis, containerPort: 6379}]"), "labels: {app: valkey-primary}", "labels: {app: valkey-primary, app.kubernetes.io/name: valkey, app.kubernetes.io/component: primary}"),
				strings.ReplaceAll(deploy("valkey-replica", "", "", "ports: [{name: redis, containerPort: 6379}]"), "labels: {app: valkey-replica}", "labels: {app: valkey-replica, app.kubernetes.io/name: valkey, app.kubernetes.io/component: replica}"),
				svc("valkey", "{app.kubernetes.io/name: valkey}", "[{port: 6379, targetPort: redis}]"),
				deploy("api", "", "", `env: [{name: REDIS_URL, value: "rediss://:pw@valkey:6379/0"}]`)},
			want: []string{"internal api valkey-primary redis", "internal api valkey-replica redis"},
		},
		{
			name: "named targetPort numbered differently by each workload",
			docs: []string{
				strings.ReplaceAll(deploy("web-a", "", "", "ports: [{name: http, containerPort: 8080}]"), "labels: {app: web-a}", "labels: {app: web-a, tier: web}"),
				strings.ReplaceAll(deploy("web-b", "", "", "ports: [{name: http, containerPort: 9090}]"), "labels: {app: web-b}", "labels: {app: web-b, tier: web}"),
				svc("web", "{tier: web}", "[{port: 80, targetPort: http}]"),
				deploy("api", "", "", `env: [{name: WEB_URL, value: "http://web.bud.svc.cluster.local"}]`)},
			want: []string{"internal api web-a http", "internal api web-b http"},
		},
		{
			name: "numeric targetPort the container does not declare",
			docs: []string{deploy("web", "", "", ""), svc("web", "{app: web}", "[{port: 80, targetPort: 8080}]"),
				deploy("api", "", "", `env: [{name: WEB_URL, value: "http://web/"}]`)},
			want: []string{"internal api web 8080"},
		},
		{
			name: "Kafka bootstrap list through a headless Service's pod names",
			docs: []string{deploy("kafka", "", "", "ports: [{name: client, containerPort: 9092}]"),
				"apiVersion: v1\nkind: Service\nmetadata: {name: kafka-headless}\nspec:\n  clusterIP: None\n  selector: {app: kafka}\n  ports: [{name: tcp-client, port: 9092, targetPort: client}]\n",
				deploy("api", "", "", `env: [{name: KAFKA_BOOTSTRAP_SERVERS, value: "kafka-0.kafka-headless.bud.svc.cluster.local:9092,kafka-1.kafka-headless.bud.svc.cluster.local:9092"}]`)},
			want: []string{"internal api kafka client"},
		},
		{
			name: "MongoDB URI with several hosts",
			docs: []string{deploy("mongo", "", "", "ports: [{name: mongodb, containerPort: 27017}]"), svc("mongo", "{app: mongo}", "[{port: 27017, targetPort: mongodb}]"),
				deploy("api", "", "", `env: [{name: MONGO_URL, value: "mongodb://u:p@mongo:27017,mongo.bud:27017/db?replicaSet=rs0"}]`)},
			want: []string{"internal api mongo mongodb"},
		},
		{
			name:       "a name no Service matches",
			docs:       []string{deploy("api", "", "", `env: [{name: AMQP_URL, value: "amqp://guest@rabbitmq:5672"}]`)},
			unresolved: []string{"no Service rabbitmq in namespace bud"},
		},
		{
			name:       "a value set only at runtime",
			docs:       []string{deploy("api", "", "", `env: [{name: ADVERTISED_HOST, valueFrom: {fieldRef: {fieldPath: status.podIP}}}]`)},
			unresolved: []string{"set only at runtime"},
		},
		{
			name: "external host becomes an egress flow; localhost is ignored",
			docs: []string{deploy("gw", "", "", `env:
  - {name: OPENAI_BASE_URL, value: "https://API.OpenAI.com/v1"}
  - {name: DAPR_URL, value: "http://localhost:3500"}`)},
			want: []string{"egress gw api.openai.com:443"},
		},
		{
			name: "ExternalName Service leads outside",
			docs: []string{"apiVersion: v1\nkind: Service\nmetadata: {name: llm}\nspec: {type: ExternalName, externalName: api.anthropic.com}\n",
				deploy("gw", "", "", `env: [{name: ANTHROPIC_URL, value: "https://llm:443"}]`)},
			want: []string{"egress gw api.anthropic.com:443"},
		},
		{
			name: "Dapr app id settings are sidecar-to-sidecar flows on 50002",
			docs: []string{deploy("caller", dapr("caller"), "", `env: [{name: CALLEE_APP_ID, value: callee}, {name: DAPR_APP_ID, value: caller}]`),
				deploy("callee", dapr("callee"), "", "")},
			want:       []string{"internal caller callee dapr-internal"},
			unresolved: []string{"no Dapr control plane"},
		},
		{
			name: "Dapr component scoped to two apps",
			docs: []string{deploy("redis", "", "", "ports: [{name: redis, containerPort: 6379}]"), svc("redis", "{app: redis}", "[{port: 6379, targetPort: redis}]"),
				deploy("a", dapr("a"), "", ""), deploy("b", dapr("b"), "", ""), deploy("c", dapr("c"), "", ""),
				"apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: state}\nspec:\n  type: state.redis\n  version: v1\n  metadata:\n    - {name: redisHost, value: \"redis:6379\"}\nscopes: [a, b]\n"},
			want:       []string{"internal a redis redis", "internal b redis redis"},
			unresolved: []string{"no Dapr control plane"},
		},
		{
			name: "Dapr component without scopes reaches from every Dapr app, secret from a Secret",
			docs: []string{pg, deploy("a", dapr("a"), "", ""), deploy("b", dapr("b"), "", ""), deploy("plain", "", "", ""),
				"apiVersion: v1\nkind: Secret\nmetadata: {name: pgconn}\nstringData: {dsn: \"host=pg user=bud port=5432\"}\n",
				"apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: state}\nspec:\n  type: state.postgresql\n  version: v1\n  metadata:\n    - name: connectionString\n      secretKeyRef: {name: pgconn, key: dsn}\n"},
			want:       []string{"internal a pg tcp-postgresql", "internal b pg tcp-postgresql"},
			unresolved: []string{"no Dapr control plane"},
		},
		{
			name: "Ingress, IngressRoute and HTTPRoute backends from the edge workload",
			docs: []string{deploy("traefik", "", "", "ports: [{name: web, containerPort: 8000}]"),
				deploy("web", "", "", "ports: [{name: http, containerPort: 3000}]"), svc("web", "{app: web}", "[{name: http, port: 80, targetPort: http}]"),
				deploy("api", "", "", "ports: [{name: http, containerPort: 9082}]"), svc("api", "{app: api}", "[{name: http, port: 9082}]"),
				deploy("docs", "", "", "ports: [{name: http, containerPort: 8080}]"), svc("docs", "{app: docs}", "[{port: 8080}]"),
				"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\nspec:\n  rules:\n    - http:\n        paths:\n          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {name: http}}}}\n",
				"apiVersion: traefik.io/v1alpha1\nkind: IngressRoute\nmetadata: {name: api}\nspec:\n  routes:\n    - {match: PathPrefix(`/api`), kind: Rule, services: [{name: api, port: 9082}]}\n",
				"apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: docs}\nspec:\n  rules:\n    - backendRefs: [{name: docs, port: 8080}]\n"},
			want: []string{"internal traefik api http", "internal traefik docs http", "internal traefik web http"},
		},
		{
			name: "route without an ingress controller in the input",
			docs: []string{deploy("web", "", "", "ports: [{name: http, containerPort: 3000}]"), svc("web", "{app: web}", "[{port: 80, targetPort: http}]"),
				"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\nspec:\n  defaultBackend: {service: {name: web, port: {number: 80}}}\n"},
			unresolved: []string{"no ingress controller"},
		},
		{
			name: "LoadBalancer Service with source ranges is an ingress flow",
			docs: []string{deploy("edge", "", "", "ports: [{name: https, containerPort: 8443}]"),
				"apiVersion: v1\nkind: Service\nmetadata: {name: edge}\nspec:\n  type: LoadBalancer\n  loadBalancerSourceRanges: [203.0.113.0/24]\n  selector: {app: edge}\n  ports: [{port: 443, targetPort: https}]\n"},
			want: []string{"ingress edge https"},
		},
		{
			name: "Dapr control plane flows for Dapr workloads",
			docs: []string{deploy("a", dapr("a"), "", ""),
				strings.ReplaceAll(deploy("dapr-sentry", "", "", "ports: [{name: grpc, containerPort: 50001}]"), "example/dapr-sentry", "ghcr.io/dapr/sentry"),
				strings.ReplaceAll(deploy("dapr-operator", "", "", "ports: [{name: grpc, containerPort: 6500}]"), "example/dapr-operator", "ghcr.io/dapr/operator")},
			want: []string{"internal dapr dapr-operator grpc", "internal dapr dapr-sentry grpc"},
		},
		{
			name: "Dapr HTTPEndpoint base URL from the Dapr apps of its namespace",
			docs: []string{deploy("a", dapr("a"), "", ""), deploy("plain", "", "", ""),
				"apiVersion: dapr.io/v1alpha1\nkind: HTTPEndpoint\nmetadata: {name: github}\nspec:\n  baseUrl: https://api.github.com\n"},
			want:       []string{"egress a api.github.com:443"},
			unresolved: []string{"no Dapr control plane"},
		},
		{
			name: "Dapr app id in another namespace (id.namespace)",
			docs: []string{deploy("caller", dapr("caller"), "", `env: [{name: CALLEE_APP_ID, value: callee.other}]`),
				strings.Replace(deploy("callee", dapr("callee"), "", ""), "metadata: {name: callee}", "metadata: {name: callee, namespace: other}", 1)},
			want:       []string{"internal caller callee dapr-internal"},
			unresolved: []string{"no Dapr control plane"},
		},
		{
			name:       "Dapr app id of the same name in another namespace is not the one called",
			docs:       []string{deploy("caller", dapr("caller"), "", `env: [{name: CALLEE_APP_ID, value: callee}]`), strings.Replace(deploy("callee", dapr("callee"), "", ""), "metadata: {name: callee}", "metadata: {name: callee, namespace: other}", 1)},
			unresolved: []string{"no Dapr control plane", "no Dapr workload of the input has this app id in namespace bud"},
		},
		{
			name: "ExternalName Service naming an in-cluster Service",
			docs: []string{pg, "apiVersion: v1\nkind: Service\nmetadata: {name: db}\nspec: {type: ExternalName, externalName: pg.bud.svc.cluster.local}\n",
				deploy("api", "", "", `env: [{name: DATABASE_URL, value: "postgresql://db:5432/x"}]`)},
			want: []string{"internal api pg tcp-postgresql"},
		},
		{
			name:       "a two-label name under no public suffix is not egress",
			docs:       []string{deploy("api", "", "", `env: [{name: DATABASE_URL, value: "postgresql://pg.nowhere:5432/x"}]`)},
			unresolved: []string{"no namespace nowhere"},
		},
		{
			name:       "Service without selector",
			docs:       []string{"apiVersion: v1\nkind: Service\nmetadata: {name: legacy}\nspec:\n  ports: [{port: 5432}]\n", deploy("api", "", "", `env: [{name: DATABASE_URL, value: "postgresql://legacy:5432/x"}]`)},
			unresolved: []string{"has no selector"},
		},
		{
			name: "StatefulSet peers through the governing headless Service",
			docs: []string{strings.Replace(strings.Replace(deploy("zk", "", "", "ports: [{name: client, containerPort: 2181}, {name: quorum, containerPort: 2888}]"),
				"kind: Deployment", "kind: StatefulSet", 1), "spec:\n  selector:", "spec:\n  replicas: 3\n  serviceName: zk-hl\n  selector:", 1),
				"apiVersion: v1\nkind: Service\nmetadata: {name: zk-hl}\nspec:\n  clusterIP: None\n  selector: {app: zk}\n  ports: [{name: quorum, port: 2888, targetPort: quorum}]\n"},
			want: []string{"internal zk zk quorum"},
		},
		{
			name: "a single-replica StatefulSet has no peers",
			docs: []string{strings.Replace(strings.Replace(deploy("zk", "", "", "ports: [{name: quorum, containerPort: 2888}]"),
				"kind: Deployment", "kind: StatefulSet", 1), "spec:\n  selector:", "spec:\n  replicas: 1\n  serviceName: zk-hl\n  selector:", 1),
				"apiVersion: v1\nkind: Service\nmetadata: {name: zk-hl}\nspec:\n  clusterIP: None\n  selector: {app: zk}\n  ports: [{port: 2888, targetPort: quorum}]\n"},
		},
		{
			name: "a workload calling its own Service",
			docs: []string{deploy("api", "", "", "ports: [{name: http, containerPort: 9000}]\nenv: [{name: SELF_URL, value: \"http://api\"}]"), svc("api", "{app: api}", "[{port: 80, targetPort: http}]")},
			want: []string{"internal api api http"},
		},
		{
			name: "Prometheus scrapes annotated pods and Services; a scrape config's targets",
			docs: []string{
				strings.ReplaceAll(deploy("prometheus", "", "volumes: [{name: cfg, configMap: {name: prometheus}}]", "ports: [{name: web, containerPort: 9090}]\nvolumeMounts: [{name: cfg, mountPath: /etc/prometheus}]"), "example/prometheus", "quay.io/prometheus/prometheus"),
				"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: prometheus}\ndata:\n  prometheus.yml: |\n    scrape_configs:\n      - job_name: static\n        static_configs:\n          - targets: ['exporter:9187']\n",
				deploy("exporter", "", "", "ports: [{name: metrics, containerPort: 9187}]"), svc("exporter", "{app: exporter}", "[{port: 9187, targetPort: metrics}]"),
				deploy("app", "prometheus.io/scrape: \"true\"\nprometheus.io/port: \"8081\"", "", "ports: [{name: metrics, containerPort: 8081}]"),
				deploy("web", "", "", "ports: [{name: http, containerPort: 8080}]"),
				"apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  annotations: {prometheus.io/scrape: \"true\"}\nspec:\n  selector: {app: web}\n  ports: [{port: 80, targetPort: http}]\n"},
			want: []string{"internal prometheus app metrics", "internal prometheus exporter metrics", "internal prometheus web http"},
		},
		{
			name: "ServiceMonitor and PodMonitor select what Prometheus scrapes",
			docs: []string{
				strings.ReplaceAll(deploy("prometheus", "", "", "ports: [{name: web, containerPort: 9090}]"), "example/prometheus", "quay.io/prometheus/prometheus"),
				deploy("api", "", "", "ports: [{name: http, containerPort: 9000}, {name: metrics, containerPort: 9100}]"),
				"apiVersion: v1\nkind: Service\nmetadata:\n  name: api\n  labels: {monitor: \"yes\"}\nspec:\n  selector: {app: api}\n  ports: [{name: http, port: 80, targetPort: http}, {name: metrics, port: 9100, targetPort: metrics}]\n",
				"apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: api}\nspec:\n  selector: {matchLabels: {monitor: \"yes\"}}\n  endpoints: [{port: metrics}]\n",
				strings.Replace(deploy("worker", "", "", "ports: [{name: metrics, containerPort: 8080}]"), "metadata: {name: worker}", "metadata: {name: worker, namespace: jobs}", 1),
				"apiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\nmetadata: {name: workers}\nspec:\n  namespaceSelector: {matchNames: [jobs]}\n  selector: {matchExpressions: [{key: app, operator: In, values: [worker]}]}\n  podMetricsEndpoints: [{port: metrics}]\n"},
			want: []string{"internal prometheus api metrics", "internal prometheus worker metrics"},
		},
		{
			name:       "scrape annotation without a Prometheus in the input",
			docs:       []string{deploy("app", "prometheus.io/scrape: \"true\"", "", "ports: [{name: metrics, containerPort: 8081}]")},
			unresolved: []string{"no Prometheus server"},
		},
		{
			name: "init containers that wait for a service",
			docs: []string{pg, deploy("redis", "", "", "ports: [{name: redis, containerPort: 6379}]"), svc("redis", "{app: redis}", "[{port: 6379, targetPort: redis}]"),
				deploy("api", "", `initContainers:
  - {name: wait-db, image: postgres:17, command: [sh, -c, "until pg_isready -h pg.bud -p 5432; do sleep 1; done"]}
  - {name: wait-cache, image: busybox, command: [sh, -c, "until nc -z -w 2 redis 6379; do sleep 1; done"]}`, "")},
			want: []string{"internal api pg tcp-postgresql", "internal api redis redis"},
		},
		{
			name: "a host-network destination cannot be a podSelector flow",
			docs: []string{deploy("agent", "", "hostNetwork: true", "ports: [{name: metrics, containerPort: 9100}]"), svc("agent", "{app: agent}", "[{port: 9100, targetPort: metrics}]"),
				deploy("api", "", "", `env: [{name: AGENT_URL, value: "http://agent:9100"}]`)},
			unresolved: []string{"runs on the host network: NetworkPolicy cannot confine", "agent runs on the host network: a flow to or from it"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, p := inferValid(t, loadDocs(t, tt.docs...))
			got := tuples(p)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("flows:\n got %q\nwant %q", got, want)
			}
			if len(res.Unresolved) != len(tt.unresolved) {
				t.Errorf("unresolved: got %d, want %d: %v", len(res.Unresolved), len(tt.unresolved), res.Unresolved)
			}
			for _, w := range tt.unresolved {
				if !slices.ContainsFunc(res.Unresolved, func(u Unresolved) bool { return contains(u.String(), w) }) {
					t.Errorf("no unresolved item mentions %q: %v", w, res.Unresolved)
				}
			}
			for _, w := range p.Spec.Workloads {
				if w.Note == "" {
					t.Errorf("workload %s has no note", w.Name)
				}
			}
			for _, f := range p.Spec.Flows.Internal {
				if f.Note == "" {
					t.Errorf("flow %s has no note", f.Name)
				}
			}
		})
	}
}

// TestNoModel fails instead of writing a model with no workload.
func TestNoModel(t *testing.T) {
	for _, tt := range []struct {
		name string
		docs []string
	}{
		{name: "no workload at all", docs: []string{svc("api", "{app: api}", "[{port: 80}]")}},
		{name: "two workloads no label tells apart", docs: []string{
			strings.Replace(deploy("a", "", "", ""), "labels: {app: a}", "labels: {app: same}", 1),
			strings.Replace(strings.Replace(deploy("a", "", "", ""), "labels: {app: a}", "labels: {app: same}", 1), "kind: Deployment", "kind: DaemonSet", 1)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Infer(loadDocs(t, tt.docs...), Options{}); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
