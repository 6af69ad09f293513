package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/budnet/budnet/internal/controller"
	"github.com/budnet/budnet/internal/kubetest"
	"github.com/budnet/budnet/internal/testenv"
)

// buildBudnet builds cmd/budnet into a temporary directory, with the go
// command running the tests.
func buildBudnet(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		testenv.Missing(t, "the go command is not on PATH: cannot build budnet for the process test")
	}
	bin := filepath.Join(t.TempDir(), "budnet")
	cmd := exec.CommandContext(t.Context(), goBin, "build", "-o", bin, "github.com/budnet/budnet/cmd/budnet")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/budnet: %v\n%s", err, out)
	}
	return bin
}

// controllerProcess is a running `budnet controller`.
type controllerProcess struct {
	cmd     *exec.Cmd
	metrics string // http://host:port of /metrics, /readyz
	done    chan struct{}
	waitErr error

	mu     sync.Mutex
	stderr bytes.Buffer
}

// startControllerProcess runs bin controller args and waits for the
// metrics address its log announces.
func startControllerProcess(t *testing.T, bin string, args ...string) *controllerProcess {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"controller"}, args...)...)
	// --kubeconfig decides the cluster; a test run inside a pod must not
	// make the process prefer its in-cluster configuration.
	cmd.Env = append(os.Environ(), "KUBERNETES_SERVICE_HOST=")
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &controllerProcess{cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(errPipe)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			p.mu.Lock()
			p.stderr.Write(line)
			p.stderr.WriteByte('\n')
			p.mu.Unlock()
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "serving metrics" {
				addr <- rec.Addr
			}
		}
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("budnet controller stderr:\n%s", p.log())
		}
	})
	select {
	case a := <-addr:
		p.metrics = "http://" + a
	case <-p.done:
		t.Fatalf("budnet controller exited before serving metrics: %v\n%s", p.waitErr, p.log())
	case <-t.Context().Done():
		t.Fatal("budnet controller never served metrics")
	}
	return p
}

func (p *controllerProcess) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// get returns the status and body of path on the metrics server.
func (p *controllerProcess) get(t *testing.T, path string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, p.metrics+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil
	}
	return resp.StatusCode, body
}

// metric sums the series of family name in a scrape of /metrics (the
// Prometheus text format, read by Prometheus's own parser): 0 when the
// family has no series (a vector with no label set yet), -1 when the
// scrape fails.
func (p *controllerProcess) metric(t *testing.T, name string) float64 {
	t.Helper()
	code, body := p.get(t, "/metrics")
	if code != http.StatusOK {
		return -1
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	sum := 0.0
	for _, m := range fams[name].GetMetric() {
		sum += m.GetGauge().GetValue() + m.GetCounter().GetValue() + m.GetUntyped().GetValue()
	}
	return sum
}

// stop sends SIGTERM and waits for the process to end; it returns the exit
// code.
func (p *controllerProcess) stop(t *testing.T) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-t.Context().Done():
		t.Fatal("budnet controller did not end after SIGTERM")
	}
	var exit *exec.ExitError
	switch {
	case p.waitErr == nil:
		return 0
	case errors.As(p.waitErr, &exit):
		return exit.ExitCode()
	}
	t.Fatalf("waiting for budnet controller: %v", p.waitErr)
	return -1
}

// waitUntil waits for cond through testenv.WaitFor.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, 2*time.Minute, what, cond)
}

// TestControllerProcess runs `budnet controller` as a process, as a
// Deployment runs it: built from cmd/budnet, against a real API server
// through a kubeconfig, with leader election. It scrapes /readyz and
// /metrics, changes the cluster and watches the metrics and the
// PolicyReports converge, sends SIGTERM and checks a clean exit (code 0,
// the Lease released), then starts it again on a changed cluster and sees
// it converge from its informers alone.
func TestControllerProcess(t *testing.T) {
	env := kubetest.ForTest(t, kubetest.Options{Projects: []string{"wg-policy"}})
	ctx := t.Context()
	bin := buildBudnet(t)
	fixtures := filepath.Join("..", "controller", "testdata")
	data, err := os.ReadFile(filepath.Join(fixtures, "cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := kubetest.ParseObjects(data)
	if err != nil {
		t.Fatal(err)
	}
	var dbFromWeb *unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "NetworkPolicy" && o.GetNamespace() == "data" && o.GetName() == "db-from-web" {
			dbFromWeb = o.DeepCopy()
		}
	}
	if dbFromWeb == nil {
		t.Fatal("the fixture has no data/db-from-web")
	}
	const leaseNS = "budnet"
	if err := env.Apply(ctx, append(objs, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": leaseNS}}})...); err != nil {
		t.Fatal(err)
	}
	kc, err := kubetest.Kubeconfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--kubeconfig", kubeconfig, "--context", "kubetest", "--platform", filepath.Join(fixtures, "platform.yaml"),
		"--metrics-addr", "127.0.0.1:0", "--debounce", "20ms", "--leader-elect", "--leader-election-namespace", leaseNS}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	leases := env.Clientset.CoordinationV1().Leases(leaseNS)
	holder := func() string {
		l, err := leases.Get(ctx, controller.LeaseName, metav1.GetOptions{})
		if err != nil || l.Spec.HolderIdentity == nil {
			return ""
		}
		return *l.Spec.HolderIdentity
	}
	wg := schema.GroupVersion{Group: "wgpolicyk8s.io", Version: "v1alpha2"}
	// failing counts the failing results of check in budnet's reports
	// (a broken flow names no namespaced object: the ClusterPolicyReport);
	// -1 until the reports exist.
	failing := func(check string) int {
		var items []unstructured.Unstructured
		for _, res := range []string{"policyreports", "clusterpolicyreports"} {
			l, err := env.Dynamic.Resource(wg.WithResource(res)).List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			items = append(items, l.Items...)
		}
		if len(items) == 0 {
			return -1
		}
		n := 0
		for _, r := range items {
			results, _, _ := unstructured.NestedSlice(r.Object, "results")
			for _, res := range results {
				if m := res.(map[string]any); m["policy"] == check && m["result"] == "fail" {
					n++
				}
			}
		}
		return n
	}
	broken := "budnet_reach_broken_connections"

	p := startControllerProcess(t, bin, args...)
	waitUntil(t, "/readyz answers 200", func() bool { code, _ := p.get(t, "/readyz"); return code == http.StatusOK })
	if code, body := p.get(t, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d %s", code, body)
	}
	if b, c, w := p.metric(t, broken), p.metric(t, "budnet_reach_connections"), p.metric(t, "budnet_watched_objects"); b != 0 || c != 1 || w < float64(len(objs)) {
		t.Fatalf("the fixture follows the model: broken %v (want 0), connections %v (want web => db), watched %v (want at least %d)", b, c, w, len(objs))
	}
	waitUntil(t, "this process holds the Lease", func() bool { return holder() == host })
	waitUntil(t, "budnet's PolicyReports written", func() bool { return failing("BUD-4.2-02") == 0 })

	// A change: db's side of the model flow goes.
	nps := env.Clientset.NetworkingV1().NetworkPolicies("data")
	if err := nps.Delete(ctx, "db-from-web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the broken flow in /metrics", func() bool { return p.metric(t, broken) == 1 })
	waitUntil(t, "a failing BUD-4.2-02 in the PolicyReports", func() bool { return failing("BUD-4.2-02") > 0 })

	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	if h := holder(); h != "" {
		t.Errorf("after SIGTERM the Lease is still held by %q, want released", h)
	}
	if l := p.log(); strings.Contains(l, `"level":"ERROR"`) {
		t.Errorf("the process logged errors:\n%s", l)
	}

	// While it is down, the flow is restored; a new process knows only
	// what its informers list.
	dbFromWeb.SetResourceVersion("")
	if err := env.Apply(ctx, dbFromWeb); err != nil {
		t.Fatal(err)
	}
	p2 := startControllerProcess(t, bin, args...)
	waitUntil(t, "/readyz answers 200 after the restart", func() bool { code, _ := p2.get(t, "/readyz"); return code == http.StatusOK })
	if b := p2.metric(t, broken); b != 0 {
		t.Errorf("after the restart broken %v, want 0: the flow was restored while the controller was down", b)
	}
	waitUntil(t, "the restarted process leads", func() bool { return holder() == host })
	waitUntil(t, "no failing BUD-4.2-02 in the PolicyReports after the restart", func() bool { return failing("BUD-4.2-02") == 0 })
	if code := p2.stop(t); code != 0 {
		t.Fatalf("exit code %d after the second SIGTERM, want 0", code)
	}
	if h := holder(); h != "" {
		t.Errorf("after the second SIGTERM the Lease is still held by %q", h)
	}
}
