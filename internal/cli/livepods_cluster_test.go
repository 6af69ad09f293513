package cli

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/budnet/budnet/internal/kubetest"
)

// livePodsJSON reads what TestLivePods asserts of `reach -o json`.
type livePodsJSON struct {
	Metadata struct {
		Workloads int      `json:"workloads"`
		Pods      int      `json:"pods"`
		Notes     []string `json:"notes"`
	} `json:"metadata"`
	Connections []struct {
		Src       string `json:"src"`
		Dst       string `json:"dst"`
		PodPairs  int    `json:"podPairs"`
		FullPairs int    `json:"fullPairs"`
	} `json:"connections"`
	OverPermissive []connJSON `json:"overPermissive"`
	Broken         []connJSON `json:"broken"`
}

// conn returns the connection src => dst and whether it is listed.
func (r livePodsJSON) conn(src, dst string) (podPairs, fullPairs int, ok bool) {
	for _, c := range r.Connections {
		if c.Src == src && c.Dst == dst {
			return c.PodPairs, c.FullPairs, true
		}
	}
	return 0, 0, false
}

func hasConn(list []connJSON, src, dst string) bool {
	return slices.ContainsFunc(list, func(c connJSON) bool { return c.Src == src && c.Dst == dst })
}

const (
	lpWeb     = "app/web[Deployment]"
	lpBatch   = "app/batch[Deployment]"
	lpReports = "app/reports[Deployment]"
	lpDB      = "data/db[StatefulSet]"
	lpForged  = "app/debug-6b8d9-x2x4q[Pod]"
)

// TestLivePods: a live read judges each Pod a controller owns by the Pod's
// own labels. The harness runs no controller manager, so the test creates
// the Pods (and the Deployments' ReplicaSets) with ownerReferences to their
// real owners, as kube-controller-manager would, then relabels them with
// the API server as `kubectl label pod` does. Each relabel must change what
// `reach --cluster` and `audit --cluster` say; on a read that judges owned
// Pods by their template, none does.
func TestLivePods(t *testing.T) {
	env := kubetest.ForTest(t, kubetest.Options{})
	ctx := t.Context()
	data, err := os.ReadFile(filepath.Join("testdata", "livepods.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := kubetest.ParseObjects(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Apply(ctx, objs...); err != nil {
		t.Fatal(err)
	}
	pods := createLivePods(t, ctx, env.Clientset)
	kc, err := kubetest.Kubeconfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join("testdata", "livepods-platform.yaml")
	reachLive := func(t *testing.T) livePodsJSON {
		t.Helper()
		code, out, stderr := run(t, "", "reach", "--cluster", "--kubeconfig", kubeconfig, "--intended", "--platform", model, "-o", "json")
		if code != ExitOK {
			t.Fatalf("reach --cluster: exit %d, stderr %s", code, stderr)
		}
		var r livePodsJSON
		unmarshalJSON(t, out, &r)
		return r
	}
	// auditFails returns the subjects of the failed findings of check.
	auditFails := func(t *testing.T, check string) []string {
		t.Helper()
		_, out, stderr := runAudit(t, "", "--cluster", "--kubeconfig", kubeconfig, "--platform", model, "-o", "json")
		doc := auditJSONOf(t, out)
		if len(doc.Findings) == 0 {
			t.Fatalf("audit --cluster found nothing (stderr %q)", stderr)
		}
		var subjects []string
		for _, f := range doc.Findings {
			if f.CheckID == check && f.Status == "fail" {
				subjects = append(subjects, f.Subject)
			}
		}
		return subjects
	}
	relabel := func(t *testing.T, ns, pod, patch string) {
		t.Helper()
		if _, err := env.Clientset.CoreV1().Pods(ns).Patch(ctx, pod, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatalf("relabel %s/%s: %v", ns, pod, err)
		}
	}
	batchToDB := lpBatch + " => " + lpDB
	webToDB := lpWeb + " => " + lpDB

	t.Run("baseline", func(t *testing.T) {
		r := reachLive(t)
		// web, batch, reports, db and the Pod with the forged owner: the
		// ReplicaSets are their Deployments', the Pods their owners'.
		if r.Metadata.Workloads != 5 {
			t.Errorf("workloads %d, want 5", r.Metadata.Workloads)
		}
		// web 1, batch 1, db 2, the forged Pod 1; reports (scaled to 0) is
		// its template, with 0 replicas.
		if r.Metadata.Pods != 5 {
			t.Errorf("pods %d, want 5", r.Metadata.Pods)
		}
		if pp, fp, ok := r.conn(lpWeb, lpDB); !ok || pp != 0 || fp != 0 {
			t.Errorf("%s: listed %v, podPairs %d fullPairs %d; want a full connection", webToDB, ok, pp, fp)
		}
		if _, _, ok := r.conn(lpBatch, lpDB); ok {
			t.Errorf("%s allowed before any relabel", batchToDB)
		}
		if _, _, ok := r.conn(lpForged, lpDB); !ok {
			t.Errorf("the Pod with a forged controller reference is not judged as itself (%s => %s missing)", lpForged, lpDB)
		}
		// The scaled-to-0 Deployment is judged by its template, and says so.
		if _, _, ok := r.conn(lpReports, lpDB); !ok || !hasConn(r.OverPermissive, lpReports, lpDB) {
			t.Errorf("%s => %s: the template of a Deployment with no Pod must stand for its pods", lpReports, lpDB)
		}
		for _, want := range []string{
			lpReports + ": scaled to 0, no Pod listed: judged by its template",
			"judged as its own workload: " + lpForged + ": controller ReplicaSet/debug-6b8d9",
		} {
			if !slices.ContainsFunc(r.Metadata.Notes, func(n string) bool { return strings.HasPrefix(n, want) }) {
				t.Errorf("notes lack %q: %q", want, r.Metadata.Notes)
			}
		}
		if hasConn(r.OverPermissive, lpBatch, lpDB) || len(r.Broken) != 0 {
			t.Errorf("baseline: over-permissive %v, broken %v", r.OverPermissive, r.Broken)
		}
		if slices.Contains(auditFails(t, "BUD-4.2-01"), batchToDB) {
			t.Errorf("audit fails %s before any relabel", batchToDB)
		}
	})

	t.Run("StatefulSet Pod escapes the policy", func(t *testing.T) {
		// db-1 loses tier=data, the label the only policy selecting it
		// reads: it stays the StatefulSet's (its selector is app=db) and is
		// isolated no more, so batch reaches it on every port.
		relabel(t, "data", pods.db1, `{"metadata":{"labels":{"tier":null}}}`)
		defer relabel(t, "data", pods.db1, `{"metadata":{"labels":{"tier":"data"}}}`)
		r := reachLive(t)
		pp, fp, ok := r.conn(lpBatch, lpDB)
		if !ok || pp != 2 || fp != 1 {
			t.Errorf("%s: listed %v, podPairs %d fullPairs %d; want partial, 1 of 2 pod pairs", batchToDB, ok, pp, fp)
		}
		if !hasConn(r.OverPermissive, lpBatch, lpDB) {
			t.Errorf("%s is not over-permissive: %v", batchToDB, r.OverPermissive)
		}
		if !slices.Contains(auditFails(t, "BUD-4.2-01"), batchToDB) {
			t.Errorf("audit --cluster does not fail %s after db-1 escaped its policy", batchToDB)
		}
	})

	t.Run("Deployment Pod gains an allow", func(t *testing.T) {
		// batch's Pod gains the client label db's policy admits.
		relabel(t, "app", pods.batch, `{"metadata":{"labels":{"bud-postgresql-client":"true"}}}`)
		defer relabel(t, "app", pods.batch, `{"metadata":{"labels":{"bud-postgresql-client":null}}}`)
		r := reachLive(t)
		if pp, fp, ok := r.conn(lpBatch, lpDB); !ok || pp != 0 || fp != 0 {
			t.Errorf("%s: listed %v, podPairs %d fullPairs %d; want a full connection", batchToDB, ok, pp, fp)
		}
		if !hasConn(r.OverPermissive, lpBatch, lpDB) {
			t.Errorf("%s is not over-permissive: %v", batchToDB, r.OverPermissive)
		}
		if !slices.Contains(auditFails(t, "BUD-4.2-01"), batchToDB) {
			t.Errorf("audit --cluster does not fail %s after batch's Pod gained the client label", batchToDB)
		}
	})

	t.Run("Deployment Pod loses its allow", func(t *testing.T) {
		// web's only Pod loses the client label: the model's flow breaks.
		relabel(t, "app", pods.web, `{"metadata":{"labels":{"bud-postgresql-client":null}}}`)
		defer relabel(t, "app", pods.web, `{"metadata":{"labels":{"bud-postgresql-client":"true"}}}`)
		r := reachLive(t)
		if _, _, ok := r.conn(lpWeb, lpDB); ok {
			t.Errorf("%s still allowed after web's Pod lost the client label", webToDB)
		}
		if !hasConn(r.Broken, lpWeb, lpDB) {
			t.Errorf("%s is not broken: %v", webToDB, r.Broken)
		}
		if !slices.Contains(auditFails(t, "BUD-4.2-02"), webToDB) {
			t.Errorf("audit --cluster does not fail %s after web's Pod lost the client label", webToDB)
		}
	})
}

// livePodNames are the Pods createLivePods made that the test relabels.
type livePodNames struct{ web, batch, db1 string }

// createLivePods creates what kube-controller-manager would for the
// workloads of livepods.yaml (a ReplicaSet per Deployment and its Pod, two
// StatefulSet Pods; none for reports, scaled to 0), and a Pod whose
// controller reference names a ReplicaSet that does not exist.
func createLivePods(t *testing.T, ctx context.Context, cs kubernetes.Interface) livePodNames {
	t.Helper()
	var names livePodNames
	for _, d := range []struct{ name, hash, suffix string }{
		{name: "web", hash: "7c9f5d", suffix: "q8r2k"},
		{name: "batch", hash: "5d8b4f", suffix: "m4n7p"},
	} {
		dep, err := cs.AppsV1().Deployments("app").Get(ctx, d.name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rs, err := cs.AppsV1().ReplicaSets("app").Create(ctx, kubetest.ReplicaSetFor(dep, d.hash), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pod, err := cs.CoreV1().Pods("app").Create(ctx, kubetest.ReplicaSetPod(rs, d.suffix), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.name == "web" {
			names.web = pod.Name
		} else {
			names.batch = pod.Name
		}
	}
	sts, err := cs.AppsV1().StatefulSets("data").Get(ctx, "db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := cs.CoreV1().Pods("data").Create(ctx, kubetest.StatefulSetPod(sts, i), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	names.db1 = "db-1"
	// A Pod that claims a controller the cluster does not hold (any client
	// may write ownerReferences): it must be judged as itself, not dropped
	// as some workload's replica.
	isController := true
	forged := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "debug-6b8d9-x2x4q", Namespace: "app",
			Labels: map[string]string{"app": "debug", "bud-postgresql-client": "true"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "debug-6b8d9",
				UID: "0b5e3c1a-7d2f-4e8b-9a61-3f0c2d4e5b6a", Controller: &isController}},
		},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "debug", Image: "nicolaka/netshoot:v0.13"}}},
	}
	if _, err := cs.CoreV1().Pods("app").Create(ctx, forged, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return names
}
