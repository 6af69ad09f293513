package egress

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/budnet/budnet/internal/egress/allowlist"
	"github.com/budnet/budnet/internal/egress/dnscache"
	"github.com/budnet/budnet/internal/egress/guard"
	"github.com/budnet/budnet/internal/egress/identity"
	"github.com/budnet/budnet/internal/egress/metricnames"
	"github.com/budnet/budnet/internal/egress/verdict"
)

// tlsGet runs one HTTPS request with the given SNI over an established tunnel.
func tlsGet(t *testing.T, c net.Conn, ca *testCA, sni string) (string, error) {
	t.Helper()
	tc := tls.Client(c, &tls.Config{ServerName: sni, RootCAs: ca.pool, MinVersion: tls.VersionTLS12})
	_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tc.Handshake(); err != nil {
		return "", err
	}
	fmt.Fprintf(tc, "GET /probe HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", sni)
	resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestConnectTLSUpstream(t *testing.T) {
	ca := newTestCA(t)
	up := startTLSUpstream(t, ca, "api.openai.com", "evil.example")
	res := newResolver(map[string][]string{"api.openai.com": {"127.0.0.1"}, "evil.example": {"127.0.0.1"}})
	reg := prometheus.NewPedanticRegistry()
	m, err := NewPromMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	env := startProxy(t, proxyOpts{spec: baseSpec(up.Port(), testGuardDenied()), resolver: res, metrics: m})
	authority := fmt.Sprintf("api.openai.com:%d", up.Port())

	t.Run("allowed host, TLS passes through", func(t *testing.T) {
		c, resp := connectVia(t, env.addr, authority, "")
		defer c.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("CONNECT status %d", resp.StatusCode)
		}
		body, err := tlsGet(t, c, ca, "api.openai.com")
		if err != nil || body != "hello api.openai.com via /probe" {
			t.Fatalf("through tunnel got %q, %v", body, err)
		}
		c.Close()
		line := env.audit.waitAudit(t, authority)
		if line[AuditDecision] != "allow" || line[AuditRule] != "llm" || line[AuditResolved] != up.String() ||
			line[AuditSource] != "budgateway" || line[AuditSent].(float64) <= 0 || line[AuditReceived].(float64) <= 0 {
			t.Fatalf("audit line %v", line)
		}
	})
	t.Run("SNI is not trusted: allowed CONNECT host with another SNI stays on the allowed address", func(t *testing.T) {
		c, resp := connectVia(t, env.addr, authority, "")
		defer c.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("CONNECT status %d", resp.StatusCode)
		}
		body, err := tlsGet(t, c, ca, "evil.example")
		if err != nil || body != "hello evil.example via /probe" {
			t.Fatalf("got %q, %v", body, err)
		}
	})
	t.Run("SNI is not trusted: CONNECT to an unlisted host with an allowed SNI is refused", func(t *testing.T) {
		c, resp := connectVia(t, env.addr, fmt.Sprintf("evil.example:%d", up.Port()), "")
		defer c.Close()
		if resp.StatusCode != 403 || resp.Header.Get("X-Budnet-Egress-Reason") != "host_not_allowed" {
			t.Fatalf("got %d %s", resp.StatusCode, resp.Header.Get("X-Budnet-Egress-Reason"))
		}
		if _, err := tlsGet(t, c, ca, "api.openai.com"); err == nil {
			t.Fatal("TLS handshake succeeded over a refused CONNECT")
		}
	})
	t.Run("metrics", func(t *testing.T) {
		var got float64
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if got = testutil.ToFloat64(m.requests.WithLabelValues("budgateway", "api.openai.com", "allow", "rule")); got >= 2 {
				break
			}
		}
		if got < 2 {
			t.Errorf("%s allow = %v, want >= 2", metricnames.Requests, got)
		}
		if n := testutil.ToFloat64(m.requests.WithLabelValues("budgateway", metricnames.DestinationUnlisted, "deny", "host_not_allowed")); n != 1 {
			t.Errorf("deny counter = %v, want 1", n)
		}
		if n := testutil.CollectAndCount(m.dial); n != 1 {
			t.Errorf("dial histogram series = %d", n)
		}
		if n := testutil.ToFloat64(m.connMax); n != float64(Defaults().MaxConnections) {
			t.Errorf("%s = %v, want the default %d", metricnames.ConnLimit, n, Defaults().MaxConnections)
		}
		// Every connection of the earlier subtests is closed by now, or soon.
		for deadline := time.Now().Add(5 * time.Second); testutil.ToFloat64(m.conns) != 0; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Errorf("%s = %v after every client closed, want 0", metricnames.ActiveConns, testutil.ToFloat64(m.conns))
				break
			}
		}
		if probs, err := testutil.GatherAndLint(reg); err != nil || len(probs) > 0 {
			t.Errorf("lint: %v %v", probs, err)
		}
	})
}

// TestRebinding: the resolver answers public first and private second. The
// first CONNECT must reach the address that was checked, the second must be
// refused, and each request must resolve exactly once.
func TestRebinding(t *testing.T) {
	ca := newTestCA(t)
	up := startTLSUpstream(t, ca, "rebind.example")
	res := newResolver(nil)
	res.set("rebind.example", []string{"127.0.0.1"}, []string{"10.0.0.7"})
	env := startProxy(t, proxyOpts{spec: baseSpec(up.Port(), testGuardDenied()), resolver: res})
	authority := fmt.Sprintf("rebind.example:%d", up.Port())
	c, resp := connectVia(t, env.addr, authority, "")
	defer c.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("first CONNECT %d", resp.StatusCode)
	}
	if body, err := tlsGet(t, c, ca, "rebind.example"); err != nil || !strings.HasPrefix(body, "hello rebind.example") {
		t.Fatalf("first tunnel: %q %v", body, err)
	}
	if n := res.count("rebind.example"); n != 1 {
		t.Fatalf("resolved %d times for one CONNECT", n)
	}
	c2, resp2 := connectVia(t, env.addr, authority, "")
	defer c2.Close()
	if resp2.StatusCode != 403 || resp2.Header.Get("X-Budnet-Egress-Reason") != verdict.ReasonDeniedAddress.String() {
		t.Fatalf("rebound CONNECT got %d %s", resp2.StatusCode, resp2.Header.Get("X-Budnet-Egress-Reason"))
	}
	if line := env.audit.waitAudit(t, authority); line[AuditResolved] != fmt.Sprintf("10.0.0.7:%d", up.Port()) {
		t.Fatalf("audit line %v", line)
	}
	if n := res.count("rebind.example"); n != 2 {
		t.Fatalf("resolved %d times for two CONNECTs", n)
	}
}

// TestDNSCacheKeepsTheGuard runs the gateway with the DNS cache the CLI puts
// in front of the resolver. A changed answer within the TTL is not seen (the
// cached, checked address is dialled), and a cached answer is checked again
// on every request: after a reload that denies its range, it is refused
// without a new lookup.
func TestDNSCacheKeepsTheGuard(t *testing.T) {
	ca := newTestCA(t)
	up := startTLSUpstream(t, ca, "rebind.example")
	res := newResolver(nil)
	res.set("rebind.example", []string{"127.0.0.1"}, []string{"10.0.0.7"})
	env := startProxy(t, proxyOpts{spec: baseSpec(up.Port(), testGuardDenied()), resolver: res,
		wrapResolver: func(r Resolver) Resolver { return dnscache.New(r, time.Hour, 100) }})
	authority := fmt.Sprintf("rebind.example:%d", up.Port())
	for i := 0; i < 2; i++ {
		c, resp := connectVia(t, env.addr, authority, "")
		if resp.StatusCode != 200 {
			t.Fatalf("CONNECT %d got %d", i, resp.StatusCode)
		}
		if body, err := tlsGet(t, c, ca, "rebind.example"); err != nil || !strings.HasPrefix(body, "hello rebind.example") {
			t.Fatalf("tunnel %d: %q %v", i, body, err)
		}
		c.Close()
	}
	if n := res.count("rebind.example"); n != 1 {
		t.Fatalf("resolved %d times for two CONNECTs within the TTL, want 1", n)
	}
	pol, err := NewPolicy(baseSpec(up.Port(), guard.DefaultDenied())) // loopback denied again
	if err != nil {
		t.Fatal(err)
	}
	env.srv.SetPolicy(pol)
	c, resp := connectVia(t, env.addr, authority, "")
	c.Close()
	if resp.StatusCode != 403 || resp.Header.Get("X-Budnet-Egress-Reason") != verdict.ReasonDeniedAddress.String() {
		t.Fatalf("cached loopback answer after the reload got %d %s, want 403 %s", resp.StatusCode,
			resp.Header.Get("X-Budnet-Egress-Reason"), verdict.ReasonDeniedAddress)
	}
	if n := res.count("rebind.example"); n != 1 {
		t.Fatalf("resolved %d times, want the cached answer re-checked (1)", n)
	}
}

// TestPlainHTTP forwards absolute-form requests with keep-alive, a chunked
// body, and checks one upstream connection serves them all.
func TestPlainHTTP(t *testing.T) {
	var conns atomic.Int32
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			w.Header().Set("Connection", "keep-alive")
			fmt.Fprintf(w, "%s %s host=%s body=%q ua=%q proxyauth=%q", r.Method, r.URL.RequestURI(), r.Host, b,
				r.Header.Get("User-Agent"), r.Header.Get("Proxy-Authorization"))
		}),
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		},
	}
	port := startOrigin(t, srv)
	env, c, br := dialPlainProxy(t, port)
	reqs := []struct {
		name, raw, want string
	}{
		{name: "get", raw: fmt.Sprintf("GET http://plain.example:%d/a?b=1 HTTP/1.1\r\nHost: plain.example:%d\r\nProxy-Authorization: secret\r\n\r\n", port, port),
			want: fmt.Sprintf(`GET /a?b=1 host=plain.example:%d body="" ua="" proxyauth=""`, port)},
		{name: "post with length", raw: fmt.Sprintf("POST http://PLAIN.example.:%d/p HTTP/1.1\r\nContent-Length: 5\r\nUser-Agent: t\r\n\r\nhello", port),
			want: fmt.Sprintf(`POST /p host=PLAIN.example.:%d body="hello" ua="t" proxyauth=""`, port)},
		{name: "chunked", raw: fmt.Sprintf("PUT http://plain.example:%d/c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n", port),
			want: fmt.Sprintf(`PUT /c host=plain.example:%d body="abcde" ua="" proxyauth=""`, port)},
	}
	for _, r := range reqs {
		if _, err := io.WriteString(c, r.raw); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != r.want {
			t.Fatalf("%s: got %q want %q", r.name, b, r.want)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("upstream saw %d connections for 3 keep-alive requests, want 1", n)
	}
	c.Close()
	for deadline := time.Now().Add(5 * time.Second); len(env.audit.lines(t)) < 3 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if got := len(env.audit.lines(t)); got != 3 {
		t.Errorf("%d audit lines, want 3", got)
	}
}

// TestKeepAliveReidentifiesAfterReload: identity is kept per connection, but
// a reload that maps the caller's address to another workload applies to the
// next request on an open keep-alive connection.
func TestKeepAliveReidentifiesAfterReload(t *testing.T) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })}
	port := startOrigin(t, srv)
	env, c, br := dialPlainProxy(t, port)
	get := func() *http.Response {
		t.Helper()
		fmt.Fprintf(c, "GET http://plain.example:%d/ HTTP/1.1\r\nHost: plain.example:%d\r\n\r\n", port, port)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := get(); resp.StatusCode != 200 {
		t.Fatalf("first request %d", resp.StatusCode)
	}
	spec := baseSpec(port, testGuardDenied())
	spec.Identity.Workloads = append(spec.Identity.Workloads, identity.Workload{Name: "grafana", Namespace: "bud-monitoring", ServiceAccount: "grafana"})
	spec.Identity.Sources = []identity.SourceCIDR{{Prefix: netip.MustParsePrefix("127.0.0.0/8"), Workload: "grafana"}}
	pol, err := NewPolicy(spec)
	if err != nil {
		t.Fatal(err)
	}
	env.srv.SetPolicy(pol)
	resp := get()
	if resp.StatusCode != 403 || resp.Header.Get("X-Budnet-Egress-Reason") != verdict.ReasonHostNotAllowed.String() {
		t.Fatalf("after the reload the same connection got %d %s, want 403 %s (caller now grafana)", resp.StatusCode,
			resp.Header.Get("X-Budnet-Egress-Reason"), verdict.ReasonHostNotAllowed)
	}
}

// TestReportMode lets allowlist denials through as would_deny but keeps the
// address guard.
func TestReportMode(t *testing.T) {
	ca := newTestCA(t)
	up := startTLSUpstream(t, ca, "unlisted.example")
	res := newResolver(map[string][]string{"unlisted.example": {"127.0.0.1"}, "metadata.example": {"169.254.169.254"}})
	spec := baseSpec(up.Port(), testGuardDenied())
	spec.Mode = verdict.Report
	env := startProxy(t, proxyOpts{spec: spec, resolver: res})
	authority := fmt.Sprintf("unlisted.example:%d", up.Port())
	c, resp := connectVia(t, env.addr, authority, "")
	defer c.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("report mode refused an unlisted host: %d", resp.StatusCode)
	}
	c.Close()
	if line := env.audit.waitAudit(t, authority); line[AuditDecision] != "would_deny" || line[AuditReason] != "host_not_allowed" {
		t.Fatalf("audit %v", line)
	}
	c2, resp2 := connectVia(t, env.addr, "metadata.example:443", "")
	defer c2.Close()
	if resp2.StatusCode != 403 || resp2.Header.Get("X-Budnet-Egress-Reason") != "denied_address" {
		t.Fatalf("report mode let the metadata address through: %d", resp2.StatusCode)
	}
}

func TestTunnelLimits(t *testing.T) {
	ca := newTestCA(t)
	up := startTLSUpstream(t, ca, "api.openai.com")
	res := newResolver(map[string][]string{"api.openai.com": {"127.0.0.1"}})
	env := startProxy(t, proxyOpts{spec: baseSpec(up.Port(), testGuardDenied()), resolver: res,
		cfg: Config{MaxTunnels: 2, MaxTunnelsPerSource: 1}})
	authority := fmt.Sprintf("api.openai.com:%d", up.Port())
	c1, r1 := connectVia(t, env.addr, authority, "")
	defer c1.Close()
	if r1.StatusCode != 200 {
		t.Fatalf("first tunnel %d", r1.StatusCode)
	}
	c2, r2 := connectVia(t, env.addr, authority, "")
	defer c2.Close()
	if r2.StatusCode != 429 || r2.Header.Get("X-Budnet-Egress-Reason") != "too_many_from_source" {
		t.Fatalf("second tunnel from the same source: %d %s", r2.StatusCode, r2.Header.Get("X-Budnet-Egress-Reason"))
	}
	c1.Close()
	deadline := time.Now().Add(5 * time.Second)
	for env.srv.ActiveTunnels() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	c3, r3 := connectVia(t, env.addr, authority, "")
	defer c3.Close()
	if r3.StatusCode != 200 {
		t.Fatalf("tunnel after release: %d", r3.StatusCode)
	}
}

// TestReloadKeepsTunnels swaps the policy under an open tunnel: the tunnel
// keeps working, new requests follow the new policy, and a failing reload
// leaves the last good policy in force.
func TestReloadKeepsTunnels(t *testing.T) {
	ca := newTestCA(t)
	up := startTLSUpstream(t, ca, "api.openai.com")
	res := newResolver(map[string][]string{"api.openai.com": {"127.0.0.1"}})
	reg := prometheus.NewRegistry()
	m, _ := NewPromMetrics(reg)
	env := startProxy(t, proxyOpts{spec: baseSpec(up.Port(), testGuardDenied()), resolver: res, metrics: m})
	authority := fmt.Sprintf("api.openai.com:%d", up.Port())
	c, resp := connectVia(t, env.addr, authority, "")
	defer c.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("CONNECT %d", resp.StatusCode)
	}
	tc := tls.Client(c, &tls.Config{ServerName: "api.openai.com", RootCAs: ca.pool})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	empty := baseSpec(up.Port(), testGuardDenied())
	empty.Rules = []allowlist.Rule{{Name: "other", Source: "budgateway", Hosts: []string{"example.org"}}}
	if err := env.srv.Reload(func() (*Policy, error) { return NewPolicy(empty) }); err != nil {
		t.Fatal(err)
	}
	if err := env.srv.Reload(func() (*Policy, error) { return nil, errors.New("broken file") }); err == nil {
		t.Fatal("failing reload reported success")
	}
	if got := env.srv.Policy().Allowlist.Check("budgateway", allowlist.Host{Name: "example.org"}, 443); !got.Allowed() {
		t.Fatal("failed reload replaced the last good policy")
	}
	fmt.Fprintf(tc, "GET /after-reload HTTP/1.1\r\nHost: api.openai.com\r\nConnection: close\r\n\r\n")
	b, err := io.ReadAll(tc)
	if err != nil || !strings.Contains(string(b), "hello api.openai.com via /after-reload") {
		t.Fatalf("established tunnel broke on reload: %q %v", b, err)
	}
	c2, resp2 := connectVia(t, env.addr, authority, "")
	defer c2.Close()
	if resp2.StatusCode != 403 {
		t.Fatalf("new CONNECT after reload: %d", resp2.StatusCode)
	}
	if ok, bad := testutil.ToFloat64(m.reloads.WithLabelValues("success")), testutil.ToFloat64(m.reloads.WithLabelValues("failure")); ok != 1 || bad != 1 {
		t.Fatalf("reload counters success=%v failure=%v", ok, bad)
	}
}

// TestGracefulShutdown: cancelling Serve's context stops new connections and
// waits for open tunnels up to the drain deadline, then cuts them.
func TestGracefulShutdown(t *testing.T) {
	ca := newTestCA(t)
	up := startTLSUpstream(t, ca, "api.openai.com")
	res := newResolver(map[string][]string{"api.openai.com": {"127.0.0.1"}})
	env := startProxy(t, proxyOpts{spec: baseSpec(up.Port(), testGuardDenied()), resolver: res,
		cfg: Config{DrainTimeout: 400 * time.Millisecond}})
	authority := fmt.Sprintf("api.openai.com:%d", up.Port())
	c, resp := connectVia(t, env.addr, authority, "")
	defer c.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("CONNECT %d", resp.StatusCode)
	}
	start := time.Now()
	env.cancel()
	time.Sleep(100 * time.Millisecond)
	if !env.srv.Draining() {
		t.Fatal("server not draining after cancel")
	}
	if _, err := net.DialTimeout("tcp", env.addr, time.Second); err == nil {
		t.Error("listener still accepts during drain")
	}
	// The tunnel still works during the drain window.
	if body, err := tlsGet(t, c, ca, "api.openai.com"); err != nil || !strings.HasPrefix(body, "hello") {
		t.Fatalf("tunnel during drain: %q %v", body, err)
	}
	select {
	case err := <-env.done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
		env.done <- nil // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the drain deadline")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("drain took %v", d)
	}
}

// TestMTLSIdentity identifies the caller by SPIFFE ID even though its source
// address maps to another workload.
func TestMTLSIdentity(t *testing.T) {
	ca := newTestCA(t)
	up := startTLSUpstream(t, ca, "api.openai.com")
	res := newResolver(map[string][]string{"api.openai.com": {"127.0.0.1"}})
	spec := baseSpec(up.Port(), testGuardDenied())
	spec.Identity.Sources = []identity.SourceCIDR{{Prefix: netip.MustParsePrefix("127.0.0.0/8"), Workload: "someone-else"}}
	serverCert := ca.issue(t, "budnet-egress", []string{"budnet-egress"}, nil, false)
	env := startProxy(t, proxyOpts{spec: spec, resolver: res, listener: func(ln net.Listener) net.Listener {
		return tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientCAs: ca.pool,
			ClientAuth: tls.VerifyClientCertIfGiven, MinVersion: tls.VersionTLS12})
	}})
	clientCert := ca.issue(t, "x", nil, []string{"spiffe://cluster.local/ns/bud-system/sa/budgateway"}, true)
	raw, err := tls.Dial("tcp", env.addr, &tls.Config{ServerName: "budnet-egress", RootCAs: ca.pool,
		Certificates: []tls.Certificate{clientCert}})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	authority := fmt.Sprintf("api.openai.com:%d", up.Port())
	fmt.Fprintf(raw, "CONNECT %s HTTP/1.1\r\n\r\n", authority)
	resp, err := http.ReadResponse(bufio.NewReader(raw), &http.Request{Method: "CONNECT"})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT over mTLS: %v %v", resp, err)
	}
	if body, err := tlsGet(t, raw, ca, "api.openai.com"); err != nil || !strings.HasPrefix(body, "hello") {
		t.Fatalf("TLS in TLS: %q %v", body, err)
	}
	raw.Close()
	line := env.audit.waitAudit(t, authority)
	if line[AuditSource] != "budgateway" || line[AuditIDMethod] != "certificate" {
		t.Fatalf("audit %v", line)
	}
}

// TestConnectionLimit: at MaxConnections with every connection busy (here,
// tunnels) the gateway stops accepting, so a further client waits in the
// listen backlog, unanswered, until a slot frees. (Connections only waiting
// for a request head are reclaimed instead: TestIdleFloodDoesNotStarveOthers.)
func TestConnectionLimit(t *testing.T) {
	origin := startOrigin(t, &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})})
	res := newResolver(map[string][]string{"plain.example": {"127.0.0.1"}})
	env := startProxy(t, proxyOpts{spec: baseSpec(origin, testGuardDenied()), resolver: res, cfg: Config{MaxConnections: 2, MaxTunnels: 2, MaxTunnelsPerSource: 2}})
	var idle []net.Conn
	for i := 0; i < 2; i++ {
		c, resp := connectVia(t, env.addr, fmt.Sprintf("plain.example:%d", origin), "")
		defer c.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("tunnel %d: %s", i, resp.Status)
		}
		idle = append(idle, c)
	}
	for deadline := time.Now().Add(5 * time.Second); len(env.srv.slots) < 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 2 busy connections taken", len(env.srv.slots))
		}
	}
	waiting, err := net.Dial("tcp", env.addr) // the kernel completes the handshake; the gateway does not accept
	if err != nil {
		t.Fatal(err)
	}
	defer waiting.Close()
	fmt.Fprintf(waiting, "CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n")
	_ = waiting.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := waiting.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a connection over the limit was served: read %d bytes, err %v", n, err)
	}
	idle[0].Close()
	_ = waiting.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(waiting), nil)
	if err != nil {
		t.Fatalf("after a slot freed: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Budnet-Egress-Reason") != verdict.ReasonHostNotAllowed.String() {
		t.Fatalf("after a slot freed got %d %s", resp.StatusCode, resp.Header.Get("X-Budnet-Egress-Reason"))
	}
}

// TestConnectionLimitPerAddress: one address holding MaxConnsPerAddress idle
// connections gets 429 for more, unread, while another address is served.
func TestConnectionLimitPerAddress(t *testing.T) {
	env := startProxy(t, proxyOpts{spec: baseSpec(443, testGuardDenied()), cfg: Config{MaxConnsPerAddress: 2}})
	from := func(ip string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		c, err := d.Dial("tcp", env.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	reason := func(c net.Conn, send bool) string {
		t.Helper()
		if send {
			fmt.Fprintf(c, "CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n")
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("X-Budnet-Egress-Reason")
	}
	first := from("127.0.0.1")
	from("127.0.0.1")
	loopback := netip.MustParseAddr("127.0.0.1")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		env.srv.mu.Lock()
		n := env.srv.perAddr[loopback]
		env.srv.mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the gateway counts %d connections from %s, want 2", n, loopback)
		}
	}
	// The third is refused before it sends anything.
	if got := reason(from("127.0.0.1"), false); got != verdict.ReasonTooManyFromAddress.String() {
		t.Fatalf("third connection from one address: %q, want %s", got, verdict.ReasonTooManyFromAddress)
	}
	if got := reason(from("127.0.0.2"), true); got != verdict.ReasonUnidentified.String() {
		t.Fatalf("another address: %q, want it served (and refused as %s)", got, verdict.ReasonUnidentified)
	}
	if line := env.audit.waitAudit(t, ""); line[AuditReason] != verdict.ReasonTooManyFromAddress.String() || line[AuditSource] != "budgateway" {
		t.Fatalf("audit line of the refusal: %v", line)
	}
	first.Close()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		got := reason(from("127.0.0.1"), true)
		if got == verdict.ReasonHostNotAllowed.String() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a connection closed, a new one from the address got %q", got)
		}
	}
}
