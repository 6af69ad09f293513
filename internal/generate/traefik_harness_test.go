package generate_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/budnet/budnet/internal/kubetest"
)

// traefikVersion is the release hack/ci-traefik.sh builds; its cache
// directory is named after it.
const traefikVersion = "v3.7.13"

// traefikBinary is the Traefik binary hack/ci-traefik.sh builds
// ($BUDNET_TRAEFIK, else the cache path); missing, the test skips, or fails
// under CI=true.
func traefikBinary(t *testing.T) string {
	t.Helper()
	return harnessBinary(t, "BUDNET_TRAEFIK", "traefik-"+traefikVersion, "traefik")
}

// traefikProcess is a running Traefik with the entry points the generated
// objects name (web, websecure) and its API on a third, all on loopback.
type traefikProcess struct {
	web, websecure, api int
	log                 *syncBuffer
}

// freePort returns a loopback TCP port that was free a moment ago. Traefik
// binds its entry points itself, so the port is closed again before it
// starts.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startTraefik runs Traefik against the control plane of env with the given
// providers block (static configuration, YAML) and the entry points at the
// ports given (0 picks one). The Kubernetes providers read KUBECONFIG, the
// way Traefik runs outside a cluster (pkg/provider/kubernetes/crd
// kubernetes.go newExternalClusterClientFromFile). It is stopped in
// t.Cleanup; its log is printed when the test failed.
func startTraefik(t *testing.T, env *kubetest.Env, providers string, web, websecure int) *traefikProcess {
	t.Helper()
	bin := traefikBinary(t)
	if web == 0 {
		web = freePort(t)
	}
	if websecure == 0 {
		websecure = freePort(t)
	}
	tp := &traefikProcess{web: web, websecure: websecure, api: freePort(t), log: &syncBuffer{}}
	dir := t.TempDir()
	kc, err := kubetest.Kubeconfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	static := fmt.Sprintf(`global:
  checkNewVersion: false
  sendAnonymousUsage: false
log:
  level: %s
entryPoints:
  web:
    address: "127.0.0.1:%d"
  websecure:
    address: "127.0.0.1:%d"
  traefik:
    address: "127.0.0.1:%d"
api:
  insecure: true
providers:
%s`, traefikLogLevel(), tp.web, tp.websecure, tp.api, providers)
	config := filepath.Join(dir, "traefik.yaml")
	if err := os.WriteFile(config, []byte(static), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--configFile="+config)
	cmd.Dir = dir // plugins-storage and the like stay in the temporary directory
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdout, cmd.Stderr = tp.log, tp.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start traefik: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("traefik log:\n%s", tp.log.tail(8000))
			// Errors may have scrolled out of the tail; proxy errors are
			// logged at DEBUG only (BUDNET_TRAEFIK_LOG=DEBUG).
			for l := range strings.Lines(tp.log.tail(1 << 30)) {
				if strings.Contains(l, " ERR ") || strings.Contains(l, "ReverseProxy") {
					t.Logf("traefik: %s", strings.TrimSpace(l))
				}
			}
		}
	})
	return tp
}

// traefikRouter is one router of Traefik's API (/api/http/routers).
type traefikRouter struct {
	Name        string   `json:"name"`
	Provider    string   `json:"provider"`
	Status      string   `json:"status"`
	Rule        string   `json:"rule"`
	EntryPoints []string `json:"entryPoints"`
	Middlewares []string `json:"middlewares"`
	Error       []string `json:"error"`
}

// routers reads the HTTP routers Traefik has built from provider (all
// providers when empty).
func (tp *traefikProcess) routers(ctx context.Context, provider string) ([]traefikRouter, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/api/http/routers?per_page=1000", tp.api), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var all []traefikRouter
	if err := json.NewDecoder(resp.Body).Decode(&all); err != nil {
		return nil, fmt.Errorf("decode routers: %w", err)
	}
	var out []traefikRouter
	for _, r := range all {
		if provider == "" || r.Provider == provider {
			out = append(out, r)
		}
	}
	return out, nil
}

// syncBuffer collects a process's output for the test log.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return s
}

// edgeCA is a test CA and one server certificate for the edge's hosts.
type edgeCA struct {
	pool            *x509.CertPool
	certPEM, keyPEM []byte
}

func newEdgeCA(t *testing.T, hosts []string) *edgeCA {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "budnet test edge CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(90 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: hosts[0]}, DNSNames: hosts,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(90 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})...)
	return &edgeCA{pool: pool, certPEM: chain,
		keyPEM: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})}
}

// secret is the kubernetes.io/tls Secret cert-manager would write for a
// Certificate: tls.crt, tls.key and ca.crt.
func (ca *edgeCA) secret(namespace, name string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: ca.certPEM, corev1.TLSPrivateKeyKey: ca.keyPEM},
	}
}

// loopbackEndpointSlice points Service ns/svc's port named portName at
// 127.0.0.1:port, as the EndpointSlice controller would point it at the
// backend pods. Its address type is FQDN: the API server refuses loopback
// IPv4 and IPv6 endpoint addresses (k8s.io/kubernetes
// pkg/apis/discovery/validation, ValidateEndpointIP), and takes
// "127.0.0.1" as an FQDN of four labels. Traefik's providers do not look at
// the address type; they put each address into the server URL
// (pkg/provider/kubernetes/crd kubernetes_http.go loadServers, gateway
// kubernetes.go getBackendAddresses).
func loopbackEndpointSlice(ns, svc, portName string, port int) *discoveryv1.EndpointSlice {
	p := int32(port)
	tcp := corev1.ProtocolTCP
	yes := true
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: svc + "-loopback",
			Labels: map[string]string{discoveryv1.LabelServiceName: svc, discoveryv1.LabelManagedBy: "budnet-test"}},
		AddressType: discoveryv1.AddressTypeFQDN,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"127.0.0.1"},
			Conditions: discoveryv1.EndpointConditions{Ready: &yes, Serving: &yes}}},
		Ports: []discoveryv1.EndpointPort{{Name: &portName, Port: &p, Protocol: &tcp}},
	}
}

// servicePortName is the name of Service svc's port number port among the
// reference install's objects.
func servicePortName(t *testing.T, objs []*unstructured.Unstructured, ns, svc string, port int64) string {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() != "Service" || o.GetNamespace() != ns || o.GetName() != svc {
			continue
		}
		ports, _, _ := unstructured.NestedSlice(o.Object, "spec", "ports")
		for _, p := range ports {
			m, _ := p.(map[string]any)
			// Decoded YAML numbers may be int64 or float64.
			if fmt.Sprint(m["port"]) == strconv.FormatInt(port, 10) {
				name, _ := m["name"].(string)
				return name
			}
		}
	}
	t.Fatalf("the reference install has no Service %s/%s with port %d", ns, svc, port)
	return ""
}

// backend is a loopback HTTP server standing in for one workload. It
// answers every path with its name and the request's path, and has the
// endpoints the tests need:
//
//	/upload           reads the body and answers its length
//	/v1/stream?wait=D streams two server-sent events: the first at once,
//	                  the second when the client has read the first
//	                  (ack), or after D; it records which happened
type backend struct {
	name string
	port int

	mu    sync.Mutex
	paths []string
	acks  map[string]chan struct{}
	// streams records per stream id whether the first event reached the
	// client before the stream ended (true) or the wait ran out (false).
	streams map[string]bool
}

func startBackend(t *testing.T, name string) *backend {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{name: name, port: l.Addr().(*net.TCPAddr).Port, acks: map[string]chan struct{}{}, streams: map[string]bool{}}
	srv := &http.Server{Handler: b, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return b
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	b.paths = append(b.paths, r.URL.Path)
	b.mu.Unlock()
	switch r.URL.Path {
	case "/upload":
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%s received %d bytes", b.name, n)
	case "/v1/stream":
		b.stream(w, r)
	default:
		_, _ = io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%s %s", b.name, r.URL.Path)
	}
}

// stream writes the first event, flushes, and waits for the client's ack
// (the client read it while the stream was open) or for the wait to run
// out (something between them holds the response back).
func (b *backend) stream(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	wait, err := time.ParseDuration(r.URL.Query().Get("wait"))
	if err != nil {
		http.Error(w, "wait: "+err.Error(), http.StatusBadRequest)
		return
	}
	// An inference server reads the whole request (the prompt) before it
	// streams the completion.
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		http.Error(w, "read the request: "+err.Error(), http.StatusBadRequest)
		return
	}
	ack := b.ackChan(id)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"first\"}}]}\n\n")
	http.NewResponseController(w).Flush()
	delivered := false
	select {
	case <-ack:
		delivered = true
	case <-time.After(wait):
	case <-r.Context().Done():
	}
	b.mu.Lock()
	b.streams[id] = delivered
	b.mu.Unlock()
	fmt.Fprint(w, "data: [DONE]\n\n")
}

func (b *backend) ackChan(id string) chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.acks[id] == nil {
		b.acks[id] = make(chan struct{})
	}
	return b.acks[id]
}

// ack tells stream id that the client has its first event.
func (b *backend) ack(id string) { close(b.ackChan(id)) }

// streamDelivered reports what stream id recorded.
func (b *backend) streamDelivered(id string) (delivered, ended bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delivered, ended = b.streams[id]
	return delivered, ended
}

// seen reports whether the backend was asked for path.
func (b *backend) seen(path string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.paths {
		if p == path {
			return true
		}
	}
	return false
}

// edgeClient is an HTTP client that connects from the loopback address
// source to Traefik's entry points, whatever host the URL names (port 80
// to web, 443 to websecure), and trusts the test CA. It does not follow
// redirects: the redirect is under test.
func edgeClient(tp *traefikProcess, ca *edgeCA, source string) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			to := tp.web
			if port == "443" {
				to = tp.websecure
			}
			return dialer.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", strconv.Itoa(to)))
		},
		TLSClientConfig:     &tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS12},
		Proxy:               nil,
		MaxIdleConnsPerHost: 4,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// do sends a request and returns the response with its body read.
func do(t *testing.T, c *http.Client, method, url string, body io.Reader, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp, strings.TrimSpace(string(data))
}

// traefikLogLevel is Traefik's log level in the tests: INFO, or
// BUDNET_TRAEFIK_LOG (DEBUG shows the reverse proxy's copy errors).
func traefikLogLevel() string {
	if l := os.Getenv("BUDNET_TRAEFIK_LOG"); l != "" {
		return l
	}
	return "INFO"
}
