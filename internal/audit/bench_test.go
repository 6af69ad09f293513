package audit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
)

// benchChartTemplate renders, per app of .Values.apps, a Deployment with a
// Dapr sidecar and database env vars, a Service, a ConfigMap and an allow
// NetworkPolicy, plus one default deny per namespace: four objects per app.
const benchChartTemplate = `{{- range $i, $app := .Values.apps }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $app }}
  namespace: {{ index $.Values.namespaces (mod $i (len $.Values.namespaces)) }}
spec:
  selector: {matchLabels: {app: {{ $app }}}}
  template:
    metadata:
      labels: {app: {{ $app }}}
      annotations: {dapr.io/enabled: "true", dapr.io/app-id: {{ $app }}}
    spec:
      containers:
        - name: app
          image: budstudio/{{ $app }}:1.0
          ports: [{containerPort: 9081}]
          env:
            - {name: DATABASE_URL, value: "postgresql://bud@bud-postgresql.bud-data:5432/{{ $app }}?sslmode=require"}
            - {name: REDIS_URL, value: "redis://bud-redis.bud-data:6379/0"}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $app }}
  namespace: {{ index $.Values.namespaces (mod $i (len $.Values.namespaces)) }}
spec:
  selector: {app: {{ $app }}}
  ports: [{port: 80, targetPort: 9081}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ $app }}-config
  namespace: {{ index $.Values.namespaces (mod $i (len $.Values.namespaces)) }}
data:
  CLICKHOUSE_URL: "clickhouse://bud-clickhouse.bud-data:9000?secure=false"
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ $app }}-ingress
  namespace: {{ index $.Values.namespaces (mod $i (len $.Values.namespaces)) }}
spec:
  podSelector: {matchLabels: {app: {{ $app }}}}
  policyTypes: [Ingress]
  ingress:
    - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: bud-infra}}}]
      ports: [{port: 9081}]
{{- end }}
{{- range .Values.namespaces }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny
  namespace: {{ . }}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
{{- end }}
`

// writeBenchChart writes a chart rendering 4*apps+len(namespaces) objects.
func writeBenchChart(b *testing.B, apps int) string {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "benchchart")
	if err := os.MkdirAll(filepath.Join(dir, "templates"), 0o755); err != nil {
		b.Fatal(err)
	}
	var values strings.Builder
	values.WriteString("namespaces: [bud-system, bud-frontend, bud-auth]\napps:\n")
	for i := range apps {
		fmt.Fprintf(&values, "  - app%03d\n", i)
	}
	files := map[string]string{
		"Chart.yaml":          "apiVersion: v2\nname: benchchart\nversion: 0.1.0\n",
		"values.yaml":         values.String(),
		"templates/apps.yaml": benchChartTemplate,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// BenchmarkAuditChart audits a rendered chart end to end: render with the
// Helm SDK, load, run every registered check (reach analysis included) and
// apply suppressions. Sizes are rendered object counts.
func BenchmarkAuditChart(b *testing.B) {
	model, err := platform.Default()
	if err != nil {
		b.Fatal(err)
	}
	for _, apps := range []int{25, 75, 150} {
		dir := writeBenchChart(b, apps)
		objects := 4*apps + 3
		b.Run(fmt.Sprintf("objects=%d", objects), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				inv, err := manifest.LoadChart(context.Background(), manifest.ChartOptions{Path: dir}, manifest.Options{DefaultNamespace: "bud-system"})
				if err != nil {
					b.Fatal(err)
				}
				if len(inv.Objects) != objects {
					b.Fatalf("%d objects, want %d", len(inv.Objects), objects)
				}
				r := Run(&Context{Inventory: inv, Platform: model, Source: "chart"}, Checks())
				if len(r.Findings) == 0 {
					b.Fatal("no findings")
				}
			}
		})
	}
}
