package egress

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/budnet/budnet/internal/egress/allowlist"
	"github.com/budnet/budnet/internal/egress/guard"
	"github.com/budnet/budnet/internal/egress/identity"
)

// fakeResolver answers from a table keyed by names without their final dot;
// a name with several answer sets returns them in turn (the last one
// repeats), which models DNS rebinding. It refuses relative names.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][][]netip.Addr
	calls   map[string]int
}

func newResolver(m map[string][]string) *fakeResolver {
	r := &fakeResolver{answers: map[string][][]netip.Addr{}, calls: map[string]int{}}
	for name, addrs := range m {
		r.set(name, addrs)
	}
	return r
}

func (r *fakeResolver) set(name string, sets ...[]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answers[name] = nil
	for _, set := range sets {
		var as []netip.Addr
		for _, a := range set {
			as = append(as, netip.MustParseAddr(a))
		}
		r.answers[name] = append(r.answers[name], as)
	}
}

func (r *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// The gateway must only ever hand over absolute names (issue 11): a
	// relative one lets resolv.conf's search list pick the answer.
	name, ok := strings.CutSuffix(host, ".")
	if !ok {
		return nil, fmt.Errorf("fakeResolver: relative name %q handed to the resolver", host)
	}
	host = name
	sets, ok := r.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	i := min(r.calls[host], len(sets)-1)
	r.calls[host]++
	return append([]netip.Addr(nil), sets[i]...), nil
}

func (r *fakeResolver) count(host string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[host]
}

// testGuardDenied is the production list without loopback, so a test upstream
// on 127.0.0.1 plays a public server. Only tests use it.
func testGuardDenied() []guard.Range {
	var out []guard.Range
	for _, r := range guard.DefaultDenied() {
		if r.Prefix != netip.MustParsePrefix("127.0.0.0/8") {
			out = append(out, r)
		}
	}
	return out
}

// syncBuffer collects audit lines from concurrent connections.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if l == "" {
			continue
		}
		m := map[string]any{}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("audit line is not JSON: %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// waitAudit waits for an audit line whose requested field equals requested.
func (s *syncBuffer) waitAudit(t *testing.T, requested string) map[string]any {
	t.Helper()
	return s.waitAuditSince(t, 0, requested)
}

// count is how many audit lines have been written, a mark for waitAuditSince.
func (s *syncBuffer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), "\n")
}

// waitAuditSince waits for an audit line after the first mark lines whose
// requested field equals requested. The gateway writes the line after its
// answer, so without the mark a test that reads the answer can find an
// earlier request's line for the same authority.
func (s *syncBuffer) waitAuditSince(t *testing.T, mark int, requested string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		lines := s.lines(t)
		for i := len(lines) - 1; i >= mark; i-- {
			if lines[i][AuditRequested] == requested {
				return lines[i]
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no audit line for %q after line %d; have %v", requested, mark, s.lines(t))
	return nil
}

type proxyEnv struct {
	addr     string
	srv      *Server
	audit    *syncBuffer
	resolver *fakeResolver
	cancel   context.CancelFunc
	done     chan error
}

type proxyOpts struct {
	spec     PolicySpec
	cfg      Config
	resolver *fakeResolver
	metrics  Metrics
	listener func(net.Listener) net.Listener
	// wrapResolver, if set, puts something (the DNS cache) between the
	// server and resolver.
	wrapResolver func(Resolver) Resolver
}

func resolverFor(o proxyOpts) Resolver {
	if o.wrapResolver != nil {
		return o.wrapResolver(o.resolver)
	}
	return o.resolver
}

// startProxy runs a Server on a loopback port until the test ends.
func startProxy(t testing.TB, o proxyOpts) *proxyEnv {
	t.Helper()
	pol, err := NewPolicy(o.spec)
	if err != nil {
		t.Fatalf("NewPolicy: %v", err)
	}
	if o.resolver == nil {
		o.resolver = newResolver(nil)
	}
	audit := &syncBuffer{}
	srv, err := NewServer(o.cfg, pol, Deps{
		Audit:    audit,
		Resolver: resolverFor(o),
		Metrics:  o.metrics,
	})
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if o.listener != nil {
		ln = o.listener(ln)
	}
	ctx, cancel := context.WithCancel(context.Background())
	env := &proxyEnv{addr: addr, srv: srv, audit: audit, resolver: o.resolver, cancel: cancel, done: make(chan error, 1)}
	go func() { env.done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-env.done:
		case <-time.After(10 * time.Second):
			t.Errorf("proxy did not stop")
		}
	})
	return env
}

// startOrigin serves srv on a loopback port until the test ends.
func startOrigin(t testing.TB, srv *http.Server) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// dialPlainProxy starts a proxy that lets budgateway (this test) reach
// plain.example, resolving to loopback, on port, and connects to it.
func dialPlainProxy(t testing.TB, port uint16) (*proxyEnv, net.Conn, *bufio.Reader) {
	t.Helper()
	res := newResolver(map[string][]string{"plain.example": {"127.0.0.1"}})
	env := startProxy(t, proxyOpts{spec: baseSpec(port, testGuardDenied()), resolver: res})
	c, err := net.Dial("tcp", env.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return env, c, bufio.NewReader(c)
}

// testCA issues certificates for test servers and clients.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "budnet egress test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

func (ca *testCA) issue(t testing.TB, cn string, dns []string, uris []string, client bool) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	usage := x509.ExtKeyUsageServerAuth
	if client {
		usage = x509.ExtKeyUsageClientAuth
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: dns, ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	for _, u := range uris {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, pu)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// startTLSUpstream serves HTTPS on loopback; the handler reports the SNI it saw.
func startTLSUpstream(t testing.TB, ca *testCA, names ...string) netip.AddrPort {
	t.Helper()
	cert := ca.issue(t, names[0], names, nil, false)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello %s via %s", r.TLS.ServerName, r.URL.Path)
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ErrorLog:  log.New(io.Discard, "", 0), // refused tunnels end in aborted handshakes by design
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

// connectVia opens a CONNECT tunnel and returns the connection and the
// proxy's response (with its reason header).
func connectVia(t testing.TB, proxy, authority string, extra string) (net.Conn, *http.Response) {
	t.Helper()
	c, err := net.Dial("tcp", proxy)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\n%s\r\n", authority, extra)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: "CONNECT"})
	if err != nil {
		c.Close()
		t.Fatalf("read CONNECT response for %s: %v", authority, err)
	}
	if resp.StatusCode == 200 && br.Buffered() > 0 {
		t.Fatalf("proxy sent bytes after its CONNECT response")
	}
	return c, resp
}

// rawExchange sends raw bytes and returns the proxy's parsed response.
func rawExchange(t testing.TB, proxy string, raw string, local netip.Addr) *http.Response {
	t.Helper()
	d := net.Dialer{}
	if local.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: local.AsSlice()}
	}
	c, err := d.Dial("tcp", proxy)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	resp.Body.Close()
	return resp
}

// baseSpec allows budgateway (callers from 127.0.0.1) to reach a few hosts on
// port, and any IP on any port, so that the guard, not the allowlist, has to
// refuse IP literals.
func baseSpec(port uint16, denied []guard.Range) PolicySpec {
	return PolicySpec{
		Denied:        denied,
		ClusterRanges: []netip.Prefix{netip.MustParsePrefix("44.0.0.0/16")},
		Rules: []allowlist.Rule{
			{Name: "llm", Source: "budgateway", Ports: []allowlist.PortRange{{From: port, To: port}, {From: 443, To: 443}, {From: 80, To: 80}},
				Hosts: []string{"api.openai.com", "*.openai.com", "private.example", "metadata.example", "mixed.example",
					"nat64.example", "mapped.example", "loopback6.example", "rebind.example", "plain.example"}},
			{Name: "any-ip", Source: "budgateway", CIDRs: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")},
				Ports: []allowlist.PortRange{{From: 1, To: 65535}}},
		},
		Identity: identity.Config{
			TrustDomain: "cluster.local",
			Workloads:   []identity.Workload{{Name: "budgateway", Namespace: "bud-system", ServiceAccount: "budgateway"}},
			Sources:     []identity.SourceCIDR{{Prefix: netip.MustParsePrefix("127.0.0.1/32"), Workload: "budgateway"}},
		},
	}
}
