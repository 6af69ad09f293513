package manifest

import (
	"fmt"
	"io"
	"log/slog"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// liveCluster is n Deployments, each with a ReplicaSet and pods Pods, as
// an informer cache holds them.
func liveCluster(n, pods int) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for i := range n {
		ns, app := fmt.Sprintf("ns-%d", i%10), fmt.Sprintf("svc-%d", i)
		rsName := app + "-7c9f5d"
		tmpl := map[string]any{"app": app, "tier": "backend"}
		dep := liveObj("apps/v1", "Deployment", ns, app, nil, withTemplate(tmpl))
		rs := liveObj("apps/v1", "ReplicaSet", ns, rsName, nil, withTemplate(tmpl), ownedBy("apps/v1", "Deployment", app, "uid-Deployment-"+app))
		out = append(out, dep, rs)
		for j := range pods {
			out = append(out, liveObj("v1", "Pod", ns, fmt.Sprintf("%s-%d", rsName, j), map[string]any{"app": app, "tier": "backend", "pod-template-hash": "7c9f5d"},
				ownedBy("apps/v1", "ReplicaSet", rsName, "uid-ReplicaSet-"+rsName), podSpec("Running")))
		}
	}
	return out
}

// BenchmarkInventoryFromObjects is the controller's decoding of its
// informers' objects, owned Pods read as LivePods; pods=0 is the
// Deployments and ReplicaSets alone, what the read cost before it read Pods.
func BenchmarkInventoryFromObjects(b *testing.B) {
	for _, tc := range []struct{ n, per int }{{n: 100, per: 3}, {n: 1000, per: 0}, {n: 1000, per: 3}} {
		n, per := tc.n, tc.per
		objs := liveCluster(n, per)
		b.Run(fmt.Sprintf("deployments=%d/pods=%d", n, per*n), func(b *testing.B) {
			b.ReportAllocs()
			opts := Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			for b.Loop() {
				inv, err := InventoryFromObjects(objs, "bench", nil, opts)
				if err != nil {
					b.Fatal(err)
				}
				if len(inv.Workloads) != n || len(inv.Workloads[0].LivePods) != per {
					b.Fatalf("%d workloads", len(inv.Workloads))
				}
			}
		})
	}
}
