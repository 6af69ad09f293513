package manifest

import (
	"fmt"
	"strings"
	"testing"
)

// generated renders n groups of Deployment (Dapr-annotated), Service and
// NetworkPolicy: 3n objects, close to a rendered chart's shape.
func generated(n int) []byte {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc-%[1]d
  namespace: ns-%[2]d
  labels:
    app: svc-%[1]d
spec:
  replicas: 2
  selector:
    matchLabels:
      app: svc-%[1]d
  template:
    metadata:
      labels:
        app: svc-%[1]d
        tier: backend
      annotations:
        dapr.io/enabled: "true"
        dapr.io/app-id: svc-%[1]d
    spec:
      containers:
        - name: app
          image: example/svc:%[1]d
          ports:
            - name: http
              containerPort: 8080
          env:
            - name: PSQL_HOST
              value: postgres
            - name: PSQL_PORT
              value: "5432"
---
apiVersion: v1
kind: Service
metadata:
  name: svc-%[1]d
  namespace: ns-%[2]d
spec:
  selector:
    app: svc-%[1]d
  ports:
    - name: http
      port: 80
      targetPort: http
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: svc-%[1]d
  namespace: ns-%[2]d
spec:
  podSelector:
    matchLabels:
      app: svc-%[1]d
  policyTypes: [Ingress]
  ingress:
    - from:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: ns-%[2]d
      ports:
        - port: http
`, i, i%10)
	}
	return []byte(b.String())
}

func BenchmarkLoadBytes(b *testing.B) {
	for _, n := range []int{100, 300, 1000} {
		data := generated(n)
		b.Run(fmt.Sprintf("objects=%d", 3*n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				inv, err := LoadBytes("bench.yaml", data, Options{})
				if err != nil {
					b.Fatal(err)
				}
				if len(inv.Objects) != 3*n {
					b.Fatalf("loaded %d objects", len(inv.Objects))
				}
			}
		})
	}
}
