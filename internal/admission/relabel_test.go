package admission

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/budnet/budnet/internal/controller"
	"github.com/budnet/budnet/internal/kubetest"
)

// deployWebhooks reads deploy/controller/webhook.yaml's
// ValidatingWebhookConfiguration (its rules, namespaceSelector and CEL
// matchConditions as shipped) and points every webhook at url.
func deployWebhooks(t *testing.T, url string, caPEM []byte) *admissionregistrationv1.ValidatingWebhookConfiguration {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "controller", "webhook.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := kubetest.ParseObjects(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() != "ValidatingWebhookConfiguration" {
			continue
		}
		vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, vwc); err != nil {
			t.Fatal(err)
		}
		for i := range vwc.Webhooks {
			vwc.Webhooks[i].ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: caPEM}
		}
		return vwc
	}
	t.Fatal("deploy/controller/webhook.yaml has no ValidatingWebhookConfiguration")
	return nil
}

// createOwned creates what the Deployment and StatefulSet controllers would
// (no controller manager runs beside the test API server): the toolbox
// ReplicaSet, a Pod of it, and the StatefulSet's db-0, each with the
// controller reference of its real owner. It returns the two Pods.
func createOwned(ctx context.Context, t *testing.T, env *kubetest.Env, objs []*unstructured.Unstructured) (db0, toolbox *unstructured.Unstructured) {
	t.Helper()
	apps := schema.GroupVersion{Group: "apps", Version: "v1"}
	get := func(res, ns, name string) *unstructured.Unstructured {
		u, err := env.Dynamic.Resource(apps.WithResource(res)).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	db, dep := get("statefulsets", "data", "db"), get("deployments", "tools", "toolbox")
	const hash = "6f9c7d5b8"
	rs := dep.DeepCopy()
	rs.SetKind("ReplicaSet")
	rs.SetName("toolbox-" + hash)
	rs.SetResourceVersion("")
	rs.SetUID("")
	rs.SetOwnerReferences([]metav1.OwnerReference{controllerRef("apps/v1", "Deployment", "toolbox", dep.GetUID())})
	unstructured.RemoveNestedField(rs.Object, "status")
	unstructured.RemoveNestedField(rs.Object, "spec", "strategy")
	unstructured.RemoveNestedField(rs.Object, "spec", "revisionHistoryLimit")
	unstructured.RemoveNestedField(rs.Object, "spec", "progressDeadlineSeconds")
	for _, path := range [][]string{{"spec", "selector", "matchLabels"}, {"spec", "template", "metadata", "labels"}} {
		if err := unstructured.SetNestedField(rs.Object, hash, append(path, "pod-template-hash")...); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := env.Dynamic.Resource(apps.WithResource("replicasets")).Namespace("tools").Create(ctx, rs, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the toolbox ReplicaSet: %v", err)
	}
	db0, toolbox = statefulPods(t, objs, db.GetUID(), rs.GetUID())
	pods := env.Dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: "pods"})
	for _, p := range []*unstructured.Unstructured{db0, toolbox} {
		if _, err := pods.Namespace(p.GetNamespace()).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating Pod %s/%s: %v", p.GetNamespace(), p.GetName(), err)
		}
	}
	return db0, toolbox
}

// TestWebhookOwnedPodRelabel: the guard registered with a real API server
// through deploy/controller/webhook.yaml's configuration judges `kubectl
// label pod` on Pods a StatefulSet and a ReplicaSet own by the Pods' own
// labels: opting db-0 into an allow, or a toolbox Pod out of its sandbox
// deny, is denied in enforce mode and admitted with the warning in warn
// mode; a label nothing selects on passes. The same configuration judges
// an AdminNetworkPolicy (cluster-scoped, outside any namespaceSelector).
func TestWebhookOwnedPodRelabel(t *testing.T) {
	// A control plane of its own: the shared one's namespaces belong to
	// TestWebhookThroughAPIServer, and its webhook outlives the test.
	env := kubetest.ForTest(t, kubetest.Options{Projects: []string{"wg-policy", "network-policy-api"}})
	ctx := t.Context()
	objs, _ := fixture(t)
	for _, o := range objs {
		if o.GetKind() == "Namespace" {
			l := o.GetLabels()
			l["budnet.io/guard"] = "on"
			o.SetLabels(l)
		}
	}
	if err := env.Apply(ctx, objs...); err != nil {
		t.Fatal(err)
	}
	db0, toolbox := createOwned(ctx, t, env, objs)

	c, err := controller.New(controller.Options{Config: env.Config, PlatformFile: filepath.Join("testdata", "platform.yaml"), Debounce: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { defer close(stopped); _ = c.Run(cctx) }()
	// Stop the controller before the control plane (cleanups run last
	// registered first).
	t.Cleanup(func() { cancel(); <-stopped })
	waitFor(t, "the owned Pods in the controller's cache", func() bool {
		cur, _, err := c.Current()
		n := 0
		for _, o := range cur {
			if o.GetKind() == "Pod" && (o.GetName() == db0.GetName() || o.GetName() == toolbox.GetName()) {
				n++
			}
		}
		return err == nil && n == 2
	})
	h, url, caPEM := serveGuard(t, c)
	if _, err := env.Clientset.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, deployWebhooks(t, url, caPEM), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	client, warn := warningClient(t, env.Config)
	label := func(pod *unstructured.Unstructured, patch string, dry bool) error {
		opts := metav1.PatchOptions{}
		if dry {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		_, err := client.CoreV1().Pods(pod.GetNamespace()).Patch(ctx, pod.GetName(), types.MergePatchType, []byte(patch), opts)
		return err
	}
	const (
		scrape     = `{"metadata":{"labels":{"metrics":"scrape"}}}`
		unsandbox  = `{"metadata":{"labels":{"sandbox":null}}}`
		tier       = `{"metadata":{"labels":{"tier":"primary"}}}`
		openScrape = "opens lab/scratch[Deployment] => data/db-0[Pod] : TCP/9187"
		escape     = "opens tools/toolbox-6f9c7d5b8-k2x4p[Pod] => data/db[StatefulSet] : TCP/5432"
	)

	// The API server loads the configuration asynchronously: dry-run a
	// change the guard denies (deleting db's ingress rule breaks the model
	// flow; its webhook is in the same configuration) until it answers, so
	// a relabel admitted below is the guard's answer, not a configuration
	// not loaded yet.
	waitFor(t, "the API server calls the guard", func() bool {
		err := client.NetworkingV1().NetworkPolicies("data").Delete(ctx, "db-from-team-web", metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}})
		return apierrors.IsForbidden(err)
	})
	for _, tc := range []struct {
		name, patch, want string
		pod               *unstructured.Unstructured
		dry               bool
	}{
		{name: "kubectl label pod db-0 metrics=scrape --dry-run=server", pod: db0, patch: scrape, want: openScrape, dry: true},
		{name: "kubectl label pod db-0 metrics=scrape", pod: db0, patch: scrape, want: openScrape},
		{name: "kubectl label pod toolbox-... sandbox-", pod: toolbox, patch: unsandbox, want: escape},
	} {
		err := label(tc.pod, tc.patch, tc.dry)
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("enforce, %s: %v, want denied naming %q", tc.name, err, tc.want)
		}
	}
	got, err := client.CoreV1().Pods("data").Get(ctx, "db-0", metav1.GetOptions{})
	if err != nil || got.Labels["metrics"] != "" {
		t.Fatalf("db-0 after the denied relabel: labels %v, %v", got.GetLabels(), err)
	}
	warn.take()
	if err := label(db0, tier, false); err != nil {
		t.Errorf("a label nothing selects was refused: %v", err)
	}
	if w := warn.take(); len(w) > 0 {
		t.Errorf("a harmless relabel got warnings %q", w)
	}

	h.SetMode(ModeWarn)
	if err := label(db0, scrape, false); err != nil {
		t.Fatalf("warn mode refused the relabel: %v", err)
	}
	if w := strings.Join(warn.take(), "\n"); !strings.Contains(w, openScrape) {
		t.Errorf("warn mode: the client got warnings %q, want %q", w, openScrape)
	}
	got, err = client.CoreV1().Pods("data").Get(ctx, "db-0", metav1.GetOptions{})
	if err != nil || got.Labels["metrics"] != "scrape" {
		t.Errorf("db-0 after the warned relabel: labels %v, %v", got.GetLabels(), err)
	}

	// db-0 out of the scrape again (closing a connection breaks no flow):
	// the live read judges db-0 by its own labels, so while it carries
	// metrics=scrape lab already reaches it and the AdminNetworkPolicy
	// below would open nothing new. Wait for the guard's cache to see it.
	if err := label(db0, `{"metadata":{"labels":{"metrics":null}}}`, false); err != nil {
		t.Fatalf("taking db-0 out of the scrape: %v", err)
	}
	waitFor(t, "db-0 without metrics=scrape in the controller's cache", func() bool {
		cur, _, err := c.Current()
		for _, o := range cur {
			if o.GetKind() == "Pod" && o.GetNamespace() == "data" && o.GetName() == "db-0" {
				return err == nil && o.GetLabels()["metrics"] == ""
			}
		}
		return false
	})

	// The same configuration guards the network-policy-api tiers, which
	// are cluster-scoped (no namespaceSelector applies): an
	// AdminNetworkPolicy Allow for lab overrides db's NetworkPolicies.
	h.SetMode(ModeEnforce)
	anp := obj(t, `
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: lab-scrapes-db}
spec:
  priority: 10
  subject: {pods: {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: data}}, podSelector: {matchLabels: {app: db}}}}
  ingress:
    - name: lab-scrapes
      action: Allow
      from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: lab}}}]
      ports: [{portNumber: {protocol: TCP, port: 9187}}]`)
	anps := env.Dynamic.Resource(schema.GroupVersionResource{Group: "policy.networking.k8s.io", Version: "v1alpha1", Resource: "adminnetworkpolicies"})
	_, err = anps.Create(ctx, anp, metav1.CreateOptions{})
	if want := "opens lab/scratch[Deployment] => data/db[StatefulSet] : TCP/9187"; !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), want) {
		t.Errorf("an AdminNetworkPolicy opening db to lab: %v, want denied naming %q", err, want)
	}
}
