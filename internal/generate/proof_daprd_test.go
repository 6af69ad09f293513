package generate_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/budnet/budnet/internal/generate"
	"github.com/budnet/budnet/internal/platform"
	"github.com/budnet/budnet/internal/testenv"
)

// daprdCacheDir is where hack/ci-daprd.sh puts daprd and sentry under
// ${BUDNET_CACHE:-/var/cache/budnet}.
const daprdCacheDir = "daprd-v1.18.0"

// daprdBinaries are daprd and sentry from the directory $BUDNET_DAPRD (what
// hack/ci-daprd.sh prints), else from the cache. Missing: a skip on a
// laptop, a failure under CI=true.
func daprdBinaries(t *testing.T) (daprd, sentry string) {
	t.Helper()
	dir := os.Getenv("BUDNET_DAPRD")
	if dir == "" {
		cache := os.Getenv("BUDNET_CACHE")
		if cache == "" {
			cache = "/var/cache/budnet"
		}
		dir = filepath.Join(cache, daprdCacheDir)
	}
	for _, name := range []string{"daprd", "sentry"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			testenv.Missing(t, "%s not found in %s (build it with: bash hack/ci-daprd.sh, or set BUDNET_DAPRD to the directory it prints)", name, dir)
		}
	}
	return filepath.Join(dir, "daprd"), filepath.Join(dir, "sentry")
}

// daprProcess is a daprd or sentry started by a test, stopped (SIGTERM, then
// SIGKILL) by its Cleanup; its output goes to a log file shown when the
// test fails.
type daprProcess struct {
	name string
	log  string
	done chan struct{}
	err  error
}

func startDaprProcess(t *testing.T, name, bin string, env []string, args ...string) *daprProcess {
	t.Helper()
	p := &daprProcess{name: name, log: filepath.Join(t.TempDir(), name+".log"), done: make(chan struct{})}
	f, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	// Only what the test gives: no KUBERNETES_SERVICE_HOST or DAPR_* from the
	// environment running the tests.
	cmd.Env = append([]string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}, env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s log (%s):\n%s", name, p.log, p.tail(60))
		}
	})
	return p
}

// tail is the last n lines of the process's log.
func (p *daprProcess) tail(n int) string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// waitHTTP polls url until it answers want, failing when the process exits
// first or ctx ends.
func (p *daprProcess) waitHTTP(ctx context.Context, t *testing.T, url string, want int) {
	t.Helper()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before %s answered %d: %v\n%s", p.name, url, want, p.err, p.tail(40))
		case <-ctx.Done():
			t.Fatalf("%s: %s did not answer %d: %v\n%s", p.name, url, want, ctx.Err(), p.tail(40))
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// freePorts are n loopback ports free when asked.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var out []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

// writeSentryCredentials writes the trust bundle sentry's self-hosted CA
// reads from --issuer-credentials (dapr v1.18.0 pkg/sentry/config:
// ca.crt, issuer.crt, issuer.key; pkg/sentry/server/ca/validate.go checks
// the root is self-signed, the issuer a CA chaining to it, the key its
// own) and returns the root, the trust anchors every daprd gets.
func writeSentryCredentials(t *testing.T, dir string) []byte {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	create := func(tmpl, parent *x509.Certificate, pub any, signer *ecdsa.PrivateKey) *x509.Certificate {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ca := func(serial int64, cn string) *x509.Certificate {
		return &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn, Organization: []string{"budnet test"}},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		}
	}
	rootKey, issKey := newKey(), newKey()
	rootTmpl := ca(1, "budnet test Dapr root")
	root := create(rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	issuer := create(ca(2, "cluster.local"), root, &issKey.PublicKey, rootKey)
	keyDER, err := x509.MarshalPKCS8PrivateKey(issKey)
	if err != nil {
		t.Fatal(err)
	}
	rootPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw})
	files := map[string][]byte{
		"ca.crt":     rootPEM,
		"issuer.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: issuer.Raw}),
		"issuer.key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return rootPEM
}

// selfHostedTrustDomain is the trust domain sentry signs every app
// sidecar into in self-hosted mode: daprd's sign request names none for an
// app (dapr v1.18.0 pkg/security/sentry.go sets TrustDomain only for control
// plane services) and the insecure validator then answers "public"
// (pkg/sentry/server/validator/internal/validate.go). On Kubernetes the
// kubernetes validator signs into the trust domain of the caller's own
// Configuration, named by its dapr.io/config annotation
// (validator/kubernetes: spec.accessControl.trustDomain, "public" without
// one), which is the access-control Configuration budnet writes with the
// model's trust domain.
const selfHostedTrustDomain = "public"

// selfHostedConfiguration is a generated Configuration in the file form
// daprd reads with --config in standalone mode (pkg/config
// LoadStandaloneConfiguration: the same document, YAML). For app sidecars
// (db set) two things differ from Kubernetes and are converted: the model's
// trust domain becomes the one sentry signs apps into here
// (selfHostedTrustDomain), and the name resolver is the SQLite one sharing
// db, where Kubernetes resolves app ids through cluster DNS.
func selfHostedConfiguration(t *testing.T, u *unstructured.Unstructured, db, trustDomain string) string {
	t.Helper()
	u = u.DeepCopy()
	if db != "" {
		if err := unstructured.SetNestedMap(u.Object, map[string]any{
			"component":     "sqlite",
			"configuration": map[string]any{"connectionString": db},
		}, "spec", "nameResolution"); err != nil {
			t.Fatal(err)
		}
		td, _, _ := unstructured.NestedString(u.Object, "spec", "accessControl", "trustDomain")
		if td != trustDomain {
			t.Fatalf("%s/%s: accessControl.trustDomain %q, want the model's %q", u.GetNamespace(), u.GetName(), td, trustDomain)
		}
		_ = unstructured.SetNestedField(u.Object, selfHostedTrustDomain, "spec", "accessControl", "trustDomain")
		pols, _, _ := unstructured.NestedSlice(u.Object, "spec", "accessControl", "policies")
		for _, pol := range pols {
			pol := pol.(map[string]any)
			if pol["trustDomain"] != trustDomain {
				t.Fatalf("%s/%s: policy for %v has trustDomain %v, want the model's %q", u.GetNamespace(), u.GetName(), pol["appId"], pol["trustDomain"], trustDomain)
			}
			pol["trustDomain"] = selfHostedTrustDomain
		}
		_ = unstructured.SetNestedSlice(u.Object, pols, "spec", "accessControl", "policies")
	}
	b, err := yaml.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), u.GetNamespace()+"-"+u.GetName()+".yaml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// daprSidecar is a running daprd.
type daprSidecar struct {
	*daprProcess
	appID, namespace string
	httpPort         int
	metricsPort      int
}

// daprMesh is sentry and the generated Configurations it and the sidecars
// read.
type daprMesh struct {
	daprd, sentry string
	system        *unstructured.Unstructured
	access        map[string]*unstructured.Unstructured // by namespace
	anchors       []byte
	sentryAddr    string
	nameDB        string
	trustDomain   string // the model's
}

func startDaprMesh(ctx context.Context, t *testing.T, p *platform.Platform) *daprMesh {
	t.Helper()
	daprd, sentry := daprdBinaries(t)
	files, err := generate.Mesh(p, generate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := &daprMesh{daprd: daprd, sentry: sentry, access: map[string]*unstructured.Unstructured{},
		nameDB: filepath.Join(t.TempDir(), "nameresolution.db"), trustDomain: p.Spec.Mesh.TrustDomain}
	for _, f := range files {
		for _, u := range f.Objects {
			switch {
			case u.GetKind() != "Configuration":
			case u.GetName() == generate.DaprSystemConfiguration:
				m.system = u
			case u.GetName() == generate.DaprAccessConfiguration:
				m.access[u.GetNamespace()] = u
			}
		}
	}
	if m.system == nil || len(m.access) == 0 {
		t.Fatalf("generate wrote no %s or no %s Configuration", generate.DaprSystemConfiguration, generate.DaprAccessConfiguration)
	}
	// Sentry loads the generated daprsystem Configuration (a load error
	// is fatal: cmd/sentry/app FromConfigName) for the workload cert TTL and
	// clock skew; its own identity's trust domain is --trust-domain, which
	// overrides the Configuration's controlPlaneTrustDomain, and its
	// namespace NAMESPACE. The sidecars check both when they dial it.
	cpTrustDomain, _, _ := unstructured.NestedString(m.system.Object, "spec", "mtls", "controlPlaneTrustDomain")
	if cpTrustDomain == "" {
		t.Fatalf("%s has no spec.mtls.controlPlaneTrustDomain", generate.DaprSystemConfiguration)
	}
	creds := t.TempDir()
	m.anchors = writeSentryCredentials(t, creds)
	ports := freePorts(t, 2)
	m.sentryAddr = fmt.Sprintf("127.0.0.1:%d", ports[0])
	s := startDaprProcess(t, "sentry", sentry, []string{"NAMESPACE=" + p.Spec.Mesh.Namespace},
		"--mode", "standalone",
		"--config", selfHostedConfiguration(t, m.system, "", ""),
		"--issuer-credentials", creds,
		"--trust-domain", cpTrustDomain,
		"--listen-address", "127.0.0.1", "--port", strconv.Itoa(ports[0]),
		// v1.18.0's healthz server binds every interface (it ignores
		// --healthz-listen-address); its metrics server too, so it is off.
		"--healthz-port", strconv.Itoa(ports[1]),
		"--enable-metrics=false",
		"--log-level", "info")
	s.waitHTTP(ctx, t, fmt.Sprintf("http://127.0.0.1:%d/healthz", ports[1]), http.StatusOK)
	return m
}

// sidecar starts daprd for appID in namespace with the generated
// access-control Configuration of configNS, in front of the app on appPort
// (0: no app), and waits until it is ready (its certificate from sentry,
// name resolution registered).
func (m *daprMesh) sidecar(ctx context.Context, t *testing.T, appID, namespace, configNS string, appPort int) *daprSidecar {
	t.Helper()
	conf, ok := m.access[configNS]
	if !ok {
		t.Fatalf("no generated %s Configuration in %s", generate.DaprAccessConfiguration, configNS)
	}
	cpTrustDomain, _, _ := unstructured.NestedString(m.system.Object, "spec", "mtls", "controlPlaneTrustDomain")
	ports := freePorts(t, 4)
	args := []string{
		"--mode", "standalone",
		"--app-id", appID,
		"--config", selfHostedConfiguration(t, conf, m.nameDB, m.trustDomain),
		"--enable-mtls",
		"--sentry-address", m.sentryAddr,
		"--control-plane-trust-domain", cpTrustDomain,
		"--control-plane-namespace", m.system.GetNamespace(),
		"--dapr-listen-addresses", "127.0.0.1",
		"--dapr-http-port", strconv.Itoa(ports[0]),
		"--dapr-grpc-port", strconv.Itoa(ports[1]),
		"--dapr-internal-grpc-listen-address", "127.0.0.1",
		"--dapr-internal-grpc-port", strconv.Itoa(ports[2]),
		"--metrics-listen-address", "127.0.0.1",
		"--metrics-port", strconv.Itoa(ports[3]),
		"--app-channel-address", "127.0.0.1",
		"--dapr-graceful-shutdown-seconds", "1",
		"--log-level", "info",
	}
	if appPort != 0 {
		args = append(args, "--app-port", strconv.Itoa(appPort), "--app-protocol", "http")
	}
	env := []string{"NAMESPACE=" + namespace, "DAPR_TRUST_ANCHORS=" + string(m.anchors)}
	d := &daprSidecar{
		daprProcess: startDaprProcess(t, "daprd-"+appID+"-"+namespace, m.daprd, env, args...),
		appID:       appID, namespace: namespace, httpPort: ports[0], metricsPort: ports[3],
	}
	d.waitHTTP(ctx, t, fmt.Sprintf("http://127.0.0.1:%d/v1.0/healthz", d.httpPort), http.StatusNoContent)
	return d
}

// target is the sidecar's scrape target labels, as a Prometheus job
// scraping Dapr sidecars would set them.
func (d *daprSidecar) target() map[string]string {
	return map[string]string{"job": "dapr-sidecars", "instance": fmt.Sprintf("127.0.0.1:%d", d.metricsPort)}
}

// invoke calls method on appID.namespace through the sidecar's HTTP API,
// the way an app asks its own daprd (/v1.0/invoke/<id>/method/<method>).
func (d *daprSidecar) invoke(ctx context.Context, t *testing.T, verb, appID, namespace, method string) (int, string) {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d/v1.0/invoke/%s.%s/method/%s", d.httpPort, appID, namespace, strings.TrimPrefix(method, "/"))
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, verb, url, strings.NewReader(`{"budnet":"test"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", verb, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// scrape reads the sidecar's Prometheus endpoint: series (name{labels})
// to value, with the target labels Prometheus adds to everything it
// scrapes (job, instance).
func (d *daprSidecar) scrape(ctx context.Context, t *testing.T) map[string]float64 {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/metrics", d.metricsPort), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scrape %s: %v", d.name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out, err := parseExposition(body, d.target())
	if err != nil {
		t.Fatalf("scrape %s: %v", d.name, err)
	}
	return out
}

// parseExposition reads the Prometheus text format with the Prometheus
// client's own parser (prometheus/common expfmt) into series as Prometheus
// stores them: a histogram as _bucket{le}, _sum and _count, a summary as
// {quantile}, _sum and _count.
func parseExposition(body []byte, target map[string]string) (map[string]float64, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for name, mf := range families {
		for _, m := range mf.GetMetric() {
			base := maps.Clone(target)
			for _, lp := range m.GetLabel() {
				base[lp.GetName()] = lp.GetValue()
			}
			add := func(name string, v float64, extra ...string) {
				l := maps.Clone(base)
				for i := 0; i+1 < len(extra); i += 2 {
					l[extra[i]] = extra[i+1]
				}
				out[seriesString(name, l)] = v
			}
			switch {
			case m.GetCounter() != nil:
				add(name, m.GetCounter().GetValue())
			case m.GetGauge() != nil:
				add(name, m.GetGauge().GetValue())
			case m.GetUntyped() != nil:
				add(name, m.GetUntyped().GetValue())
			case m.GetHistogram() != nil:
				h := m.GetHistogram()
				for _, b := range h.GetBucket() {
					add(name+"_bucket", float64(b.GetCumulativeCount()), "le", strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64))
				}
				add(name+"_bucket", float64(h.GetSampleCount()), "le", "+Inf")
				add(name+"_sum", h.GetSampleSum())
				add(name+"_count", float64(h.GetSampleCount()))
			case m.GetSummary() != nil:
				sm := m.GetSummary()
				for _, q := range sm.GetQuantile() {
					add(name, q.GetValue(), "quantile", strconv.FormatFloat(q.GetQuantile(), 'g', -1, 64))
				}
				add(name+"_sum", sm.GetSampleSum())
				add(name+"_count", float64(sm.GetSampleCount()))
			}
		}
	}
	return out, nil
}

// seriesString is name{k="v",...}, labels sorted, in promqltest's series
// notation.
func seriesString(name string, l map[string]string) string {
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(l)) {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%s", k, strconv.Quote(l[k]))
	}
	b.WriteByte('}')
	return b.String()
}

// moved are the series whose value differs between two scrapes (new
// series included), with the difference.
func moved(before, after map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// calleeApp is the callee's app: a loopback HTTP server recording what
// reaches it.
type calleeApp struct {
	mu   sync.Mutex
	got  []string // "VERB /path caller-app-id"
	port int
}

func startCalleeApp(t *testing.T) *calleeApp {
	t.Helper()
	a := &calleeApp{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/dapr/") {
			// daprd asking its app for its configuration and subscriptions
			// (/dapr/config, /dapr/subscribe): an app without either.
			http.NotFound(w, r)
			return
		}
		a.mu.Lock()
		a.got = append(a.got, fmt.Sprintf("%s %s %s", r.Method, r.URL.Path, r.Header.Get("dapr-caller-app-id")))
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"path": r.URL.Path, "verb": r.Method})
	}))
	t.Cleanup(srv.Close)
	a.port = srv.Listener.Addr().(*net.TCPAddr).Port
	return a
}

// take returns what reached the app since the last take.
func (a *calleeApp) take() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	got := a.got
	a.got = nil
	return got
}

// modelInvokes is the model's flow letting caller invoke callee (both Dapr
// app ids), and the operations it grants; "" when the model has none.
func modelInvokes(p *platform.Platform, caller, callee string) (string, []platform.DaprOperation) {
	for i := range p.Spec.Flows.Internal {
		f := &p.Spec.Flows.Internal[i]
		if len(f.Invoke) == 0 {
			continue
		}
		from := slices.ContainsFunc(p.Select(f.From), func(w *platform.Workload) bool { return w.Dapr != nil && w.Dapr.AppID == caller })
		to := slices.ContainsFunc(p.Select(f.To), func(w *platform.Workload) bool { return w.Dapr != nil && w.Dapr.AppID == callee })
		if from && to {
			return f.Name, f.Invoke
		}
	}
	return "", nil
}

// daprdCall is one invocation through the sidecars and what Dapr's own
// processes made of it.
type daprdCall struct {
	caller       *daprSidecar
	verb, method string
	status       int
	body         string
	reached      []string
	// calleeBefore and calleeAfter are the callee sidecar's scrapes around
	// the call; callerMoved what moved on the caller's.
	calleeBefore, calleeAfter map[string]float64
	callerMoved               map[string]float64
}

func (c daprdCall) String() string {
	return fmt.Sprintf("%s %s from %s/%s", c.verb, c.method, c.caller.namespace, c.caller.appID)
}

// runDaprdCall makes one invocation, scraping both sidecars around it.
// OpenCensus records a measurement through a worker goroutine, so the
// counters a call moves are read until the callee shows the ACL decision
// (every call that reaches access control is counted there, allowed or
// blocked) or ctx ends.
func runDaprdCall(ctx context.Context, t *testing.T, app *calleeApp, caller, callee *daprSidecar, verb, method string) daprdCall {
	t.Helper()
	c := daprdCall{caller: caller, verb: verb, method: method}
	c.calleeBefore = callee.scrape(ctx, t)
	callerBefore := caller.scrape(ctx, t)
	c.status, c.body = caller.invoke(ctx, t, verb, callee.appID, callee.namespace, method)
	for {
		c.calleeAfter = callee.scrape(ctx, t)
		if slices.ContainsFunc(slices.Collect(maps.Keys(moved(c.calleeBefore, c.calleeAfter))), func(k string) bool {
			return strings.HasPrefix(k, "dapr_runtime_acl_")
		}) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: no dapr_runtime_acl_* series moved on the callee; moved: %v", c, moved(c.calleeBefore, c.calleeAfter))
		case <-time.After(100 * time.Millisecond):
		}
	}
	c.callerMoved = moved(callerBefore, caller.scrape(ctx, t))
	c.reached = app.take()
	return c
}

// TestDaprdEnforcesGeneratedAccessControl is the sidecar proof of issue 12
// (defects 1 and 7): daprd and sentry built from Dapr v1.18.0
// (hack/ci-daprd.sh), self-hosted on loopback with mTLS, sentry signing
// with a trust bundle made here and the generated daprsystem
// Configuration, every sidecar reading the generated access-control
// Configuration of its namespace. A call the model intends (a flow's
// invoke operations, multi-segment methods included) reaches the callee's
// app; a Dapr app the model grants nothing, and the granted app id from
// another namespace, are refused by the callee's sidecar, and never reach
// the app. The callee sidecar's metrics say what moved on each, and the
// generated BudDaprAccessDenied, evaluated by Prometheus's rule engine over
// those scrapes, fires on the refusals and stays quiet on the intended
// calls.
func TestDaprdEnforcesGeneratedAccessControl(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 6*time.Minute)
	defer cancel()
	p := loadModel(t, "")
	const callee, granted, ungranted = "budapp", "budcluster", "budnotify"
	flow, ops := modelInvokes(p, granted, callee)
	if flow == "" {
		t.Fatalf("the model has no flow letting %s invoke %s", granted, callee)
	}
	if name, _ := modelInvokes(p, ungranted, callee); name != "" {
		t.Fatalf("flow %s lets %s invoke %s: pick an app the model grants nothing", name, ungranted, callee)
	}
	calleeNS := daprApp(p, callee).Zone
	_, callers := intendedInvocations(p)
	if slices.Contains(callers[calleeNS], ungranted) {
		t.Fatalf("%s is granted something in %s", ungranted, calleeNS)
	}

	m := startDaprMesh(ctx, t, p)
	app := startCalleeApp(t)
	calleeSidecar := m.sidecar(ctx, t, callee, calleeNS, calleeNS, app.port)
	grantedSidecar := m.sidecar(ctx, t, granted, daprApp(p, granted).Zone, daprApp(p, granted).Zone, 0)
	ungrantedSidecar := m.sidecar(ctx, t, ungranted, daprApp(p, ungranted).Zone, daprApp(p, ungranted).Zone, 0)
	// The granted app id, from a namespace the policy does not name: in
	// self-hosted mode sentry signs what daprd asks for, so this stands
	// for a workload in another namespace using the same app id.
	const otherNS = "bud-attacker"
	spoofSidecar := m.sidecar(ctx, t, granted, otherNS, calleeNS, 0)

	var allowed, refused []daprdCall
	for _, op := range ops {
		for _, method := range methodsFor(op.Name) {
			for _, verb := range []string{http.MethodGet, http.MethodPost} {
				if !slices.Contains(verbsFor(op.Verbs), verb) {
					continue
				}
				allowed = append(allowed, runDaprdCall(ctx, t, app, grantedSidecar, calleeSidecar, verb, method))
			}
		}
	}
	if len(allowed) == 0 {
		t.Fatalf("flow %s grants %s no GET or POST on %s", flow, granted, callee)
	}
	for _, caller := range []*daprSidecar{ungrantedSidecar, spoofSidecar} {
		// Twice each: a counter series is born at its first increment.
		for _, method := range []string{"/cluster/list", "/api/v1/health"} {
			refused = append(refused, runDaprdCall(ctx, t, app, caller, calleeSidecar, http.MethodGet, method))
		}
	}

	// What moved on the callee's sidecar: Dapr's ACL counts each decision
	// once, tagged with the caller's identity; the gRPC server metric the
	// alert used to read (dapr_grpc_io_server_completed_rpcs) sees nothing,
	// since service invocation arrives over CallLocalStream.
	acl := func(metric string, caller *daprSidecar) map[string]float64 {
		l := calleeSidecar.target()
		l["app_id"], l["namespace"], l["trustDomain"] = caller.appID, caller.namespace, selfHostedTrustDomain
		return map[string]float64{seriesString(metric, l): 1}
	}
	check := func(c daprdCall, wantACL map[string]float64, log bool) {
		all := moved(c.calleeBefore, c.calleeAfter)
		gotACL := map[string]float64{}
		for k, v := range all {
			if strings.HasPrefix(k, "dapr_runtime_acl_") {
				gotACL[k] = v
			}
			if strings.HasPrefix(k, "dapr_grpc_io_server_") {
				t.Errorf("%s: the callee's gRPC server metric moved: %s %+g", c, k, v)
			}
		}
		if !maps.Equal(gotACL, wantACL) {
			t.Errorf("%s: callee's ACL series moved %v, want %v", c, gotACL, wantACL)
		}
		if log {
			t.Logf("%s: %d; callee moved %s; caller moved %s", c, c.status, daprSeries(all), daprSeries(c.callerMoved))
		}
	}
	for i, c := range allowed {
		want := []string{fmt.Sprintf("%s %s %s", c.verb, c.method, granted)}
		if c.status != http.StatusOK || !slices.Equal(c.reached, want) {
			t.Errorf("flow %s, %s: status %d %q, app got %q; want 200 and %q", flow, c, c.status, c.body, c.reached, want)
		}
		check(c, acl("dapr_runtime_acl_app_policy_action_allowed_total", c.caller), i == 0)
	}
	for _, c := range refused {
		if c.status != http.StatusForbidden || !strings.Contains(c.body, "PermissionDenied") || len(c.reached) != 0 {
			t.Errorf("%s: status %d %q, app got %q; want 403 PermissionDenied, nothing at the app", c, c.status, c.body, c.reached)
		}
		// Neither caller has a policy of its own (app id and namespace), so
		// the global default refuses them.
		check(c, acl("dapr_runtime_acl_global_policy_action_blocked_total", c.caller), true)
	}
	if t.Failed() {
		return
	}

	// The alert over what Prometheus would have scraped from the callee
	// sidecar: each scrape held for five minutes, 15 s apart.
	data := ruleGroups(t, p, generate.Options{Edge: platform.EdgeGatewayAPI})
	last := allowed[len(allowed)-1]
	for _, tc := range []struct {
		name          string
		before, after map[string]float64
		want          string
	}{
		{name: "intended calls", before: allowed[0].calleeBefore, after: last.calleeAfter, want: ""},
		{name: "first refusal of " + refused[0].caller.appID, before: refused[0].calleeBefore, after: refused[0].calleeAfter, want: "firing"},
		{name: "second refusal of " + refused[1].caller.appID, before: refused[1].calleeBefore, after: refused[1].calleeAfter, want: "firing"},
		{name: "first refusal of " + refused[2].caller.appID + " from " + otherNS, before: refused[2].calleeBefore, after: refused[2].calleeAfter, want: "firing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			series := scrapesAsSeries(calleeSidecar.target(), tc.before, tc.after)
			if got := evalAlert(t, data, "BudDaprAccessDenied", series); got != tc.want {
				t.Errorf("BudDaprAccessDenied is %q, want %q over the callee's scrapes; moved %s", got, tc.want, daprSeries(moved(tc.before, tc.after)))
			}
		})
	}
}

// daprSeries is the dapr_* series of a moved set, histogram buckets left
// out, for the log.
func daprSeries(m map[string]float64) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if strings.HasPrefix(k, "dapr_") && !strings.Contains(k, "_bucket{") {
			out = append(out, fmt.Sprintf("%s %+g", k, m[k]))
		}
	}
	return strings.Join(out, ", ")
}

// scrapesAsSeries is promqltest load input for two scrapes of one target
// 15 s apart: the first repeated for five minutes (20 samples), then the
// second for the rest of the evaluation, with the target's up series. A
// series missing from a scrape has no samples then, as in Prometheus's TSDB
// ("_").
func scrapesAsSeries(target map[string]string, before, after map[string]float64) string {
	keys := slices.Collect(maps.Keys(after))
	for k := range before {
		if _, ok := after[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%s 1x379\n", seriesString("up", target))
	for _, k := range keys {
		b.WriteString(k)
		for _, part := range []struct {
			scrape  map[string]float64
			samples int
		}{{before, 20}, {after, 360}} {
			if v, ok := part.scrape[k]; ok {
				// "vxn" is n+1 samples of v; "_xn" is n missing ones.
				fmt.Fprintf(&b, " %sx%d", strconv.FormatFloat(v, 'g', -1, 64), part.samples-1)
			} else {
				fmt.Fprintf(&b, " _x%d", part.samples)
			}
		}
		b.WriteByte('\n')
	}
	return strings.TrimRight(b.String(), "\n")
}
