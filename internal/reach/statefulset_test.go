package reach

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/budnet/budnet/internal/netpol"
)

// TestStatefulSetPodsApart: a StatefulSet's manifest stands for one pod per
// replica with the labels its controller adds, so a policy that selects one
// pod by statefulset.kubernetes.io/pod-name (or admits one as a peer) sees
// it, as the cluster does; a Deployment's replicas stay one pod. Before,
// the StatefulSet was one pod with the template's labels, and the primary's
// policy selected nothing (found by TestOracleEndToEnd, issue 15).
func TestStatefulSetPodsApart(t *testing.T) {
	in := load(t, `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: data}
spec:
  replicas: 3
  selector: {matchLabels: {app: db}}
  serviceName: db
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: postgres, ports: [{containerPort: 5432}]}]}`,
		`apiVersion: apps/v1
kind: Deployment
metadata: {name: client, namespace: web}
spec:
  replicas: 4
  selector: {matchLabels: {app: client}}
  template:
    metadata: {labels: {app: client}}
    spec: {containers: [{name: c, image: c}]}`,
		`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: primary-only, namespace: data}
spec:
  podSelector: {}
  ingress:
  - from: [{namespaceSelector: {}}]
    ports: [{port: 5432}]
  - from: [{podSelector: {matchLabels: {apps.kubernetes.io/pod-index: "0"}}}]`)
	db, ok := in.Workload("data/db[StatefulSet]")
	if !ok || len(db.Pods) != 3 || db.Replicas != 3 {
		t.Fatalf("db = %+v, want 3 pods", db)
	}
	for i, name := range []string{"db-0", "db-1", "db-2"} {
		p := in.Cluster.Pods[db.Pods[i]]
		if p.Name != name || p.Labels["statefulset.kubernetes.io/pod-name"] != name || p.Labels["apps.kubernetes.io/pod-index"] != name[3:] || p.Labels["app"] != "db" {
			t.Errorf("pod %d = %s %v", i, p.Name, p.Labels)
		}
	}
	client, _ := in.Workload("web/client")
	if len(client.Pods) != 1 || client.Replicas != 4 {
		t.Errorf("client = %+v, want one pod standing for 4 replicas", client)
	}
	e, err := netpol.New(in.Cluster, netpol.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, true, true} {
		v := e.Evaluate(netpol.PodPeer(client.Pod), netpol.PodPeer(db.Pods[i]), corev1.ProtocolTCP, 5432)
		if v.Allowed != want {
			t.Errorf("client -> db-%d: %v, want %v", i, v.Allowed, want)
		}
	}
	// Only db-0 (pod-index 0) reaches its peers on other ports.
	for _, tc := range []struct {
		name     string
		src, dst int
		want     bool
	}{
		{name: "primary to replica", src: 0, dst: 1, want: true},
		{name: "primary to second replica", src: 0, dst: 2, want: true},
		{name: "replica to replica", src: 1, dst: 2, want: false},
		{name: "replica to primary", src: 2, dst: 0, want: false},
	} {
		v := e.Evaluate(netpol.PodPeer(db.Pods[tc.src]), netpol.PodPeer(db.Pods[tc.dst]), corev1.ProtocolTCP, 7000)
		if v.Allowed != tc.want {
			t.Errorf("%s (db-%d -> db-%d on 7000): %v, want %v", tc.name, tc.src, tc.dst, v.Allowed, tc.want)
		}
	}
}
