package reach

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/netpol"
)

// TestLivePodsStandForTheirWorkload: a live workload's running Pods are its
// engine pods, each with its own labels, addresses, host network and ports,
// under the workload's name; the template stands only when no Pod runs.
func TestLivePodsStandForTheirWorkload(t *testing.T) {
	inv := &manifest.Inventory{
		Namespaces: []*manifest.Namespace{{Name: "data", Labels: map[string]string{manifest.NamespaceNameLabel: "data"}}},
		Workloads: []*manifest.Workload{
			{Kind: "StatefulSet", Namespace: "data", Name: "db", Replicas: ptr32(3),
				Labels: map[string]string{"app": "db", "tier": "data"},
				LivePods: []manifest.LivePod{
					{Name: "db-0", Labels: map[string]string{"app": "db", "tier": "data"}, IPs: []string{"10.0.0.10"},
						Ports: []corev1.ContainerPort{{ContainerPort: 5432, Protocol: corev1.ProtocolTCP}}},
					// Relabelled: tier removed; and it serves a port the template lacks.
					{Name: "db-1", Labels: map[string]string{"app": "db"}, IPs: []string{"10.0.0.11"},
						Ports: []corev1.ContainerPort{{ContainerPort: 5432, Protocol: corev1.ProtocolTCP}, {ContainerPort: 9187, Protocol: corev1.ProtocolTCP}}},
				}},
			{Kind: "Deployment", Namespace: "data", Name: "idle", Replicas: ptr32(0), Labels: map[string]string{"app": "idle"}},
		},
		Live: &manifest.LiveRead{TemplateOnly: []string{"data/idle[Deployment]: scaled to 0, no Pod listed: judged by its template"}},
	}
	in := Build(inv, BuildOptions{})
	db, ok := in.Workload("data/db[StatefulSet]")
	if !ok || len(db.Pods) != 2 || db.Replicas != 2 {
		t.Fatalf("db = %+v, want its 2 running Pods, not 3 template replicas", db)
	}
	for i, tc := range []struct {
		name, ip, tier string
		ports          int
	}{
		{name: "db-0", ip: "10.0.0.10", tier: "data", ports: 1},
		{name: "db-1", ip: "10.0.0.11", tier: "", ports: 2},
	} {
		p := in.Cluster.Pods[db.Pods[i]]
		if p.Name != tc.name || p.Workload != "data/db[StatefulSet]" || p.Labels["tier"] != tc.tier ||
			len(p.IPs) != 1 || p.IPs[0].String() != tc.ip || len(p.Ports) != tc.ports {
			t.Errorf("pod %d = %+v, want %s with its own labels, IP and ports", i, p, tc.name)
		}
	}
	idle, ok := in.Workload("data/idle[Deployment]")
	if !ok || len(idle.Pods) != 1 || in.Cluster.Pods[idle.Pod].Labels["app"] != "idle" {
		t.Errorf("idle = %+v, want its template as one pod", idle)
	}
	if len(in.Notes) != 1 || in.Notes[0] != inv.Live.TemplateOnly[0] {
		t.Errorf("notes %q, want the template-only workload", in.Notes)
	}
	// A deny on tier=data isolates db-0 only: from idle, db is reachable
	// through db-1 alone, and the matrix says the connection is partial.
	in.Cluster.Policies = []*networkingv1.NetworkPolicy{{
		ObjectMeta: metav1.ObjectMeta{Name: "db-deny", Namespace: "data"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tier": "data"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
		},
	}}
	e, err := netpol.New(in.Cluster, netpol.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{false, true} {
		if v := e.Evaluate(netpol.PodPeer(idle.Pod), netpol.PodPeer(db.Pods[i]), corev1.ProtocolTCP, 5432); v.Allowed != want {
			t.Errorf("idle -> db-%d: allowed %v, want %v", i, v.Allowed, want)
		}
	}
	found := false
	e.Matrix().Each(func(c netpol.Connection) bool {
		if c.Src == "data/idle[Deployment]" && c.Dst == "data/db[StatefulSet]" {
			found = true
			if !c.Partial() || c.PodPairs != 2 || c.FullPairs != 1 {
				t.Errorf("idle => db: %+v, want partial, 1 of 2 pod pairs", c)
			}
		}
		return true
	})
	if !found {
		t.Error("idle => db missing: db-1 escaped the deny")
	}
}

func ptr32(v int32) *int32 { return &v }
