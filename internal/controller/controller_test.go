package controller

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/budnet/budnet/internal/kubetest"
	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
	"github.com/budnet/budnet/internal/testenv"
)

var harness = kubetest.NewHarness(kubetest.Options{})

func TestMain(m *testing.M) { os.Exit(harness.Run(m)) }

// metricSum adds every series of the family name.
func metricSum(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			switch {
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// startController runs a controller until the returned stop is called.
func startController(t *testing.T, env *kubetest.Env) (*Controller, func()) {
	t.Helper()
	// The reports are written with the controller's own identity.
	dyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	rw := &ReportWriter{Client: dyn}
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	de, stopEvents := NewDriftEvents(cs)
	t.Cleanup(stopEvents)
	c, err := New(Options{
		Config: env.Config,
		OnState: func(ctx context.Context, prev, cur *State) error {
			de.Record(prev, cur)
			return rw.Write(ctx, cur)
		},
		PlatformFile: filepath.Join("testdata", "platform.yaml"),
		Debounce:     20 * time.Millisecond,
		Logger:       slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("controller: %v", err)
		}
	}
	t.Cleanup(func() {
		if ctx.Err() == nil {
			stop()
		}
	})
	return c, stop
}

// waitFor waits for cond through testenv.WaitFor.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, 90*time.Second, what, cond)
}

func readFixture(t *testing.T, name string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := kubetest.ParseObjects(data)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// TestControllerConverges changes a real API server under a running
// controller (create, update, delete) and waits for the metrics to say so;
// then restarts it on a changed cluster and compares with a fresh read.
func TestControllerConverges(t *testing.T) {
	env := harness.Env(t)
	ctx := t.Context()
	if err := env.Apply(ctx, readFixture(t, "cluster.yaml")...); err != nil {
		t.Fatal(err)
	}
	c, stop := startController(t, env)
	g := c.Gatherer()
	broken := func() float64 { return metricSum(t, g, "budnet_reach_broken_connections") }
	over := func() float64 { return metricSum(t, g, "budnet_reach_over_permissive_connections") }

	waitFor(t, "ready", c.Ready)
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %s", path, resp.Status)
		}
	}
	if b, o := broken(), over(); b != 0 || o != 0 {
		t.Fatalf("the fixture follows the model, yet broken %v, over-permissive %v", b, o)
	}
	if n := metricSum(t, g, "budnet_watched_objects"); n < 9 {
		t.Errorf("watched objects %v, want at least the fixture's 9", n)
	}

	nps := env.Clientset.NetworkingV1().NetworkPolicies("data")
	// Delete: the db side of the model flow goes, the flow is broken.
	if err := nps.Delete(ctx, "db-from-web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "broken flow after deleting db-from-web", func() bool { return broken() == 1 && over() == 0 })
	waitFor(t, "a FlowBroken Event on data/db", func() bool {
		evs, err := env.Clientset.EventsV1().Events("data").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs.Items {
			if e.Reason == ReasonFlowBroken && e.Regarding.Kind == "StatefulSet" && e.Regarding.Name == "db" &&
				strings.Contains(e.Note, "app/web[Deployment] => data/db[StatefulSet] : TCP/5432") {
				return true
			}
		}
		return false
	})
	waitFor(t, "a failing BUD-4.2-02 in the Policy Reports", func() bool { return liveResults(t, env)["BUD-4.2-02/fail"] > 0 })

	// Create: it comes back, the flow is whole again.
	if err := env.Apply(ctx, fixtureObject(t, "NetworkPolicy", "data", "db-from-web")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "no broken flow after re-creating db-from-web", func() bool { return broken() == 0 && over() == 0 })
	waitFor(t, "no failing BUD-4.2-02 in the Policy Reports", func() bool {
		r := liveResults(t, env)
		return r["BUD-4.2-02/fail"] == 0 && r["BUD-4.2-02/pass"] > 0
	})

	// Update: both policies of the flow lose their port list, so web
	// reaches db on every port, not only 5432: over-permissive.
	appNPs := env.Clientset.NetworkingV1().NetworkPolicies("app")
	wd, err := appNPs.Get(ctx, "web-to-db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wd.Spec.Egress[0].Ports = nil
	if _, err := appNPs.Update(ctx, wd, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	dbw, err := nps.Get(ctx, "db-from-web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dbw.Spec.Ingress[0].Ports = nil
	if _, err := nps.Update(ctx, dbw, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "over-permissive after the flow lost its ports", func() bool { return over() == 1 && broken() == 0 })
	if last := metricSum(t, g, "budnet_last_successful_evaluation_timestamp_seconds"); last == 0 {
		t.Error("no last-success timestamp")
	}

	// Restart: stop, change the cluster, start afresh. The new controller
	// knows only what its informers list.
	stop()
	if err := nps.Delete(ctx, "db-from-web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	c2, _ := startController(t, env)
	waitFor(t, "ready after restart", c2.Ready)
	got := c2.State()

	inv, err := manifest.LoadCluster(ctx, manifest.ClusterOptions{Config: env.Config}, manifest.Options{AllowEmpty: true})
	if err != nil {
		t.Fatal(err)
	}
	model, err := platform.Load(filepath.Join("testdata", "platform.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := evaluateInventory(inv, model)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Diff.Broken) != 1 || len(got.Diff.Broken) != len(want.Diff.Broken) ||
		len(got.Diff.OverPermissive) != len(want.Diff.OverPermissive) || got.Connections != want.Connections ||
		got.Report.Summary.Fail != want.Report.Summary.Fail || got.Report.Summary.Pass != want.Report.Summary.Pass {
		t.Errorf("after restart: broken %d over %d conns %d fail %d pass %d; a fresh read: broken %d over %d conns %d fail %d pass %d",
			len(got.Diff.Broken), len(got.Diff.OverPermissive), got.Connections, got.Report.Summary.Fail, got.Report.Summary.Pass,
			len(want.Diff.Broken), len(want.Diff.OverPermissive), want.Connections, want.Report.Summary.Fail, want.Report.Summary.Pass)
	}
}

func fixtureObject(t *testing.T, kind, ns, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range readFixture(t, "cluster.yaml") {
		if o.GetKind() == kind && o.GetNamespace() == ns && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %s/%s in the fixture", kind, ns, name)
	return nil
}

func TestNewRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{name: "no config", opts: Options{}},
		{name: "file and configmap", opts: Options{Config: nil, PlatformFile: "a", PlatformConfigMap: "ns/b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.opts); err == nil {
				t.Error("accepted")
			}
		})
	}
	if _, err := New(Options{Config: dummyConfig(), PlatformConfigMap: "no-namespace"}); err == nil {
		t.Error("a ConfigMap reference without a namespace was accepted")
	}
}

func dummyConfig() *rest.Config { return &rest.Config{Host: "https://127.0.0.1:1"} }

// liveResults counts the results of budnet's PolicyReports and
// ClusterPolicyReport as the API server holds them, by "policy/result".
func liveResults(t *testing.T, env *kubetest.Env) map[string]int {
	t.Helper()
	out := map[string]int{}
	var items []unstructured.Unstructured
	nsd, err := env.Dynamic.Resource(policyReportGVR).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	items = append(items, nsd.Items...)
	cl, err := env.Dynamic.Resource(clusterPolicyReportGVR).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	items = append(items, cl.Items...)
	for _, r := range items {
		results, _, _ := unstructured.NestedSlice(r.Object, "results")
		for _, res := range results {
			m := res.(map[string]any)
			if m["source"] != reportSource {
				t.Errorf("%s/%s: result source %v", r.GetNamespace(), r.GetName(), m["source"])
			}
			out[fmt.Sprintf("%v/%v", m["policy"], m["result"])]++
		}
	}
	return out
}
