package audit

import (
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/budnet/budnet/internal/manifest"
)

// TestPolicySelectsLivePods: on a live read a NetworkPolicy is judged
// against the Pods' own labels, not their template's: a policy that selects
// only a relabelled Pod selects something (it was reported as selecting
// nothing), and one that selects only the template's labels, which no
// running Pod carries any more, selects nothing.
func TestPolicySelectsLivePods(t *testing.T) {
	w := &manifest.Workload{Kind: "StatefulSet", Namespace: "data", Name: "db",
		Labels: map[string]string{"app": "db"},
		LivePods: []manifest.LivePod{
			{Name: "db-0", Labels: map[string]string{"app": "db", "quarantine": "true"}},
			{Name: "db-1", Labels: map[string]string{"app": "db-relabelled"}},
		}}
	inv := &manifest.Inventory{Workloads: []*manifest.Workload{w}}
	policy := func(sel map[string]string) *manifest.NetworkPolicy {
		return &manifest.NetworkPolicy{
			Object: &manifest.Object{Kind: "NetworkPolicy", Namespace: "data", Name: "p"},
			Policy: &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "data"},
				Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: sel}}},
		}
	}
	for _, tc := range []struct {
		name string
		sel  map[string]string
		want Status
	}{
		{name: "selects a label only a live pod carries", sel: map[string]string{"quarantine": "true"}, want: StatusPass},
		{name: "selects the relabelled pod", sel: map[string]string{"app": "db-relabelled"}, want: StatusPass},
		{name: "template label some pod still carries", sel: map[string]string{"app": "db"}, want: StatusPass},
		{name: "a label nothing carries", sel: map[string]string{"app": "gone"}, want: StatusFail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := policySelects(inv, policy(tc.sel)); r.Status != tc.want {
				t.Errorf("status %v (%s), want %v", r.Status, r.Message, tc.want)
			}
		})
	}
}
