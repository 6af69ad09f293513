package netpol_test

import (
	"testing"

	"github.com/budnet/budnet/internal/netpol"
)

// TestMatrixMarksPartialReach: a workload whose pods a policy tells apart
// (a per-pod label on one StatefulSet pod) is reached by the union of its
// pods' ports, and the connection says only 1 of 2 pod pairs gets them.
func TestMatrixMarksPartialReach(t *testing.T) {
	c := netpol.Cluster{
		Pods: []netpol.Pod{
			{Namespace: "web", Name: "client", Workload: "web/client[Deployment]", Labels: map[string]string{"app": "client"}},
			{Namespace: "data", Name: "db-0", Workload: "data/db[StatefulSet]", Labels: map[string]string{"app": "db", "statefulset.kubernetes.io/pod-name": "db-0"}},
			{Namespace: "data", Name: "db-1", Workload: "data/db[StatefulSet]", Labels: map[string]string{"app": "db", "statefulset.kubernetes.io/pod-name": "db-1"}},
		},
	}
	parseObjects(t, &c, `
metadata: {namespace: data, name: only-db-0}
spec:
  podSelector: {matchLabels: {statefulset.kubernetes.io/pod-name: db-1}}
  ingress: []`)
	e, err := netpol.New(c, netpol.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := e.Matrix()
	var got netpol.Connection
	for conn := range m.Each {
		if conn.Src == "web/client[Deployment]" && conn.Dst == "data/db[StatefulSet]" {
			got = conn
		}
	}
	if !got.Ports.All() || !got.Partial() || got.PodPairs != 2 || got.FullPairs != 1 {
		t.Errorf("client => db = %+v, want all ports, partial, 1 of 2 pod pairs", got)
	}
	if lc, ok := m.Connection("web/client[Deployment]", "data/db[StatefulSet]"); !ok || lc.PodPairs != 2 || lc.FullPairs != 1 {
		t.Errorf("Matrix.Connection = %+v, want the same counts", lc)
	}
	if lc, _ := m.Connection("data/db[StatefulSet]", "web/client[Deployment]"); lc.Partial() {
		t.Errorf("db => client is not partial: %+v", lc)
	}
}
