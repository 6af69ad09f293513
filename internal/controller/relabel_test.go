package controller

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/budnet/budnet/internal/kubetest"
)

// TestControllerSeesRelabel: a Pod relabelled while no admission guard
// runs (the webhook off, or a warn it only printed) changes what the
// controller publishes. The controller reads Pods through the same live
// decoding as reach --cluster, which judges a controller-owned Pod by its
// own labels; on a read that judged it by its template the relabel was
// invisible. The harness runs no controller manager, so the test creates
// web's ReplicaSet and Pod and db's Pod as the controllers would.
func TestControllerSeesRelabel(t *testing.T) {
	env := kubetest.ForTest(t, kubetest.Options{})
	ctx := t.Context()
	if err := env.Apply(ctx, readFixture(t, "relabel.yaml")...); err != nil {
		t.Fatal(err)
	}
	cs := env.Clientset
	dep, err := cs.AppsV1().Deployments("app").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := cs.AppsV1().ReplicaSets("app").Create(ctx, kubetest.ReplicaSetFor(dep, "6f7d9c"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod, err := cs.CoreV1().Pods("app").Create(ctx, kubetest.ReplicaSetPod(rs, "h2x9t"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sts, err := cs.AppsV1().StatefulSets("data").Get(ctx, "db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Pods("data").Create(ctx, kubetest.StatefulSetPod(sts, 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	c, _ := startController(t, env)
	g := c.Gatherer()
	broken := func() float64 { return metricSum(t, g, "budnet_reach_broken_connections") }
	over := func() float64 { return metricSum(t, g, "budnet_reach_over_permissive_connections") }
	waitFor(t, "ready", c.Ready)
	waitFor(t, "the model flow whole before the relabel", func() bool { return broken() == 0 && over() == 0 })
	waitFor(t, "a passing BUD-4.2-02 in the Policy Reports", func() bool {
		r := liveResults(t, env)
		return r["BUD-4.2-02/fail"] == 0 && r["BUD-4.2-02/pass"] > 0
	})

	relabel := func(patch string) {
		t.Helper()
		if _, err := cs.CoreV1().Pods("app").Patch(ctx, pod.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// kubectl label pod web-6f7d9c-h2x9t db-client-: web's only Pod leaves
	// the clients both policies of the flow admit.
	relabel(`{"metadata":{"labels":{"db-client":null}}}`)
	waitFor(t, "the broken flow in the metrics after the relabel", func() bool { return broken() == 1 && over() == 0 })
	waitFor(t, "a failing BUD-4.2-02 in the Policy Reports after the relabel", func() bool { return liveResults(t, env)["BUD-4.2-02/fail"] > 0 })
	st := c.State()
	if st == nil || st.Diff == nil || len(st.Diff.Broken) != 1 ||
		st.Diff.Broken[0].Src != "app/web[Deployment]" || st.Diff.Broken[0].Dst != "data/db[StatefulSet]" {
		t.Fatalf("state after the relabel: %+v", st)
	}

	// The label back: the flow is whole again.
	relabel(`{"metadata":{"labels":{"db-client":"true"}}}`)
	waitFor(t, "the flow whole again after the label is restored", func() bool { return broken() == 0 && over() == 0 })
	waitFor(t, "no failing BUD-4.2-02 after the label is restored", func() bool { return liveResults(t, env)["BUD-4.2-02/fail"] == 0 })
}
