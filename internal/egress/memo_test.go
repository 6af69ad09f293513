package egress

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/budnet/budnet/internal/egress/dnscache"
	"github.com/budnet/budnet/internal/egress/guard"
	"github.com/budnet/budnet/internal/egress/verdict"
)

// cachedFake is a CachedResolver whose cache always has the fake resolver's
// current answer: every request takes decideAddress's no-context fast path.
// Cached hands out its own slice, which the gateway must not modify.
type cachedFake struct {
	*fakeResolver
	hits  atomic.Int64
	given [][]netip.Addr // every slice Cached returned, with a copy to compare
	kept  [][]netip.Addr
}

func (c *cachedFake) Cached(network, host string) ([]netip.Addr, bool) {
	addrs, err := c.fakeResolver.LookupNetIP(context.Background(), network, host)
	if err != nil || len(addrs) == 0 {
		return nil, false
	}
	c.hits.Add(1)
	c.fakeResolver.mu.Lock()
	c.given, c.kept = append(c.given, addrs), append(c.kept, slices.Clone(addrs))
	c.fakeResolver.mu.Unlock()
	return addrs, true
}

var _ CachedResolver = (*cachedFake)(nil)

// TestKeepAliveDecisionMemoIsNotABypass attacks the per-connection host
// decision a keep-alive connection keeps (forwarder.decideHost) and the DNS
// cache's no-context answer (CachedResolver): after a first allowed request,
// something changes, and the next request on the same connection must be
// decided on the change. Every case runs with a plain lookup, with a cache
// hit on every request, and (where the change is not a DNS answer, which the
// real cache deliberately keeps for its TTL) behind the real DNS cache.
func TestKeepAliveDecisionMemoIsNotABypass(t *testing.T) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })}
	port := startOrigin(t, srv)
	authority := fmt.Sprintf("plain.example:%d", port)
	get := func(auth, host string) string {
		return fmt.Sprintf("GET http://%s/ HTTP/1.1\r\nHost: %s\r\n\r\n", auth, host)
	}
	cases := []struct {
		name string
		dns  bool // the change is a DNS answer
		// change runs between the two requests and returns the second.
		change     func(t *testing.T, env *proxyEnv) string
		wantStatus int
		wantReason verdict.Reason
	}{
		{name: "reload drops the host from the allowlist", change: func(t *testing.T, env *proxyEnv) string {
			spec := baseSpec(port, testGuardDenied())
			spec.Rules[0].Hosts = []string{"api.openai.com"}
			env.srv.SetPolicy(mustPolicy(t, spec))
			return get(authority, authority)
		}, wantStatus: 403, wantReason: verdict.ReasonHostNotAllowed},
		{name: "reload drops the port", change: func(t *testing.T, env *proxyEnv) string {
			spec := baseSpec(443, testGuardDenied())
			spec.Rules = spec.Rules[:1]
			env.srv.SetPolicy(mustPolicy(t, spec))
			return get(authority, authority)
		}, wantStatus: 403, wantReason: verdict.ReasonPortNotAllowed},
		{name: "reload denies loopback: the kept answer is checked again", change: func(t *testing.T, env *proxyEnv) string {
			env.srv.SetPolicy(mustPolicy(t, baseSpec(port, guard.DefaultDenied())))
			return get(authority, authority)
		}, wantStatus: 403, wantReason: verdict.ReasonDeniedAddress},
		{name: "reload to report mode keeps the guard", change: func(t *testing.T, env *proxyEnv) string {
			spec := baseSpec(port, guard.DefaultDenied())
			spec.Mode = verdict.Report
			env.srv.SetPolicy(mustPolicy(t, spec))
			return get(authority, authority)
		}, wantStatus: 403, wantReason: verdict.ReasonDeniedAddress},
		{name: "Host header changes, same authority", change: func(*testing.T, *proxyEnv) string {
			return get(authority, fmt.Sprintf("metadata.example:%d", port))
		}, wantStatus: 400, wantReason: verdict.ReasonHostMismatch},
		{name: "Host header dropped port, same authority", change: func(*testing.T, *proxyEnv) string {
			return get(authority, "plain.example")
		}, wantStatus: 400, wantReason: verdict.ReasonHostMismatch},
		{name: "authority changes to an unlisted name", change: func(*testing.T, *proxyEnv) string {
			a := fmt.Sprintf("evil.example:%d", port)
			return get(a, a)
		}, wantStatus: 403, wantReason: verdict.ReasonHostNotAllowed},
		{name: "authority changes to the metadata address", change: func(*testing.T, *proxyEnv) string {
			a := "169.254.169.254:80"
			return get(a, a)
		}, wantStatus: 403, wantReason: verdict.ReasonDeniedAddress},
		{name: "authority changes to a non-canonical loopback spelling", change: func(t *testing.T, env *proxyEnv) string {
			env.srv.SetPolicy(mustPolicy(t, baseSpec(port, guard.DefaultDenied())))
			a := fmt.Sprintf("2130706433:%d", port)
			return get(a, a)
		}, wantStatus: 403, wantReason: verdict.ReasonDeniedAddress},
		{name: "answer rebinds to the metadata address", dns: true, change: func(_ *testing.T, env *proxyEnv) string {
			env.resolver.set("plain.example", []string{"169.254.169.254"})
			return get(authority, authority)
		}, wantStatus: 403, wantReason: verdict.ReasonDeniedAddress},
		{name: "answer rebinds to a 4in6-mapped private address", dns: true, change: func(_ *testing.T, env *proxyEnv) string {
			env.resolver.set("plain.example", []string{"::ffff:10.0.0.7"})
			return get(authority, authority)
		}, wantStatus: 403, wantReason: verdict.ReasonDeniedAddress},
		{name: "answer adds a private address", dns: true, change: func(_ *testing.T, env *proxyEnv) string {
			env.resolver.set("plain.example", []string{"127.0.0.1", "10.0.0.7"})
			return get(authority, authority)
		}, wantStatus: 403, wantReason: verdict.ReasonMixedAddresses},
		{name: "answer disappears", dns: true, change: func(_ *testing.T, env *proxyEnv) string {
			env.resolver.set("plain.example", []string{})
			return get(authority, authority)
		}, wantStatus: 502, wantReason: verdict.ReasonResolveFailed},
	}
	resolvers := []struct {
		name string
		wrap func(Resolver) Resolver
		real bool // the real DNS cache: keeps answers for its TTL by design
	}{
		{name: "lookup"},
		{name: "cache-hit", wrap: func(r Resolver) Resolver { return &cachedFake{fakeResolver: r.(*fakeResolver)} }},
		{name: "dnscache", real: true, wrap: func(r Resolver) Resolver { return dnscache.New(r, time.Hour, 100) }},
	}
	for _, rs := range resolvers {
		for _, tc := range cases {
			if tc.dns && rs.real {
				continue
			}
			t.Run(rs.name+"/"+tc.name, func(t *testing.T) {
				res := newResolver(map[string][]string{"plain.example": {"127.0.0.1"}, "metadata.example": {"127.0.0.1"}})
				env := startProxy(t, proxyOpts{spec: baseSpec(port, testGuardDenied()), resolver: res, wrapResolver: rs.wrap})
				c, err := net.Dial("tcp", env.addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				br := newResponseReader(c)
				for i := 0; i < 2; i++ { // two allowed requests: the second one from the memo
					if resp := br.exchange(t, get(authority, authority)); resp.StatusCode != 200 {
						t.Fatalf("request %d before the change got %d %s", i, resp.StatusCode, resp.Header.Get("X-Budnet-Egress-Reason"))
					}
				}
				resp := br.exchange(t, tc.change(t, env))
				if resp.StatusCode != tc.wantStatus || resp.Header.Get("X-Budnet-Egress-Reason") != tc.wantReason.String() {
					t.Fatalf("after the change got %d %q, want %d %s", resp.StatusCode,
						resp.Header.Get("X-Budnet-Egress-Reason"), tc.wantStatus, tc.wantReason)
				}
				if cf, ok := env.srv.resolver.(*cachedFake); ok {
					if cf.hits.Load() == 0 {
						t.Fatal("the cache-hit path was never taken")
					}
					cf.mu.Lock()
					for i := range cf.given {
						if !slices.Equal(cf.given[i], cf.kept[i]) {
							t.Errorf("the gateway modified the cache's answer: %v, was %v", cf.given[i], cf.kept[i])
						}
					}
					cf.mu.Unlock()
				}
			})
		}
	}
}

func mustPolicy(t *testing.T, spec PolicySpec) *Policy {
	t.Helper()
	pol, err := NewPolicy(spec)
	if err != nil {
		t.Fatal(err)
	}
	return pol
}

// responseReader sends raw requests on one connection and reads each answer.
type responseReader struct {
	c  net.Conn
	br *bufio.Reader
}

func newResponseReader(c net.Conn) *responseReader {
	return &responseReader{c: c, br: bufio.NewReader(c)}
}

func (r *responseReader) exchange(t *testing.T, raw string) *http.Response {
	t.Helper()
	if _, err := io.WriteString(r.c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(r.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// TestKeepAliveCountersFollowTheDecision: a keep-alive connection counts its
// requests in counters it keeps with the host decision; they must add up as
// the label lookups did, and a request decided differently on the same
// connection (here: refused after a reload) is counted under its own labels.
func TestKeepAliveCountersFollowTheDecision(t *testing.T) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })}
	port := startOrigin(t, srv)
	m, err := NewPromMetrics(prometheus.NewPedanticRegistry())
	if err != nil {
		t.Fatal(err)
	}
	res := newResolver(map[string][]string{"plain.example": {"127.0.0.1"}})
	env := startProxy(t, proxyOpts{spec: baseSpec(port, testGuardDenied()), resolver: res, metrics: m})
	c, err := net.Dial("tcp", env.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rr := newResponseReader(c)
	authority := fmt.Sprintf("plain.example:%d", port)
	req := fmt.Sprintf("GET http://%s/ HTTP/1.1\r\nHost: %s\r\n\r\n", authority, authority)
	const n = 5
	for i := 0; i < n; i++ {
		if resp := rr.exchange(t, req); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
	}
	env.srv.SetPolicy(mustPolicy(t, baseSpec(port, guard.DefaultDenied())))
	if resp := rr.exchange(t, req); resp.StatusCode != 403 {
		t.Fatalf("after the reload: %d", resp.StatusCode)
	}
	env.audit.waitAuditSince(t, n, authority) // the refusal's line (the sixth) is written after its counters
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{name: "allowed", labels: []string{"budgateway", "plain.example", "allow", "rule"}, want: n},
		{name: "refused", labels: []string{"budgateway", "plain.example", "deny", "denied_address"}, want: 1},
	} {
		if got := testutil.ToFloat64(m.requests.WithLabelValues(tc.labels...)); got != tc.want {
			t.Errorf("%s: requests_total%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	sent := testutil.ToFloat64(m.bytes.WithLabelValues("budgateway", "plain.example", "sent"))
	recv := testutil.ToFloat64(m.bytes.WithLabelValues("budgateway", "plain.example", "received"))
	if sent < n*float64(len("GET / HTTP/1.1\r\n")) || recv < n*float64(len("HTTP/1.1 200 OK\r\n")) {
		t.Errorf("bytes sent %v received %v for %d exchanges", sent, recv, n)
	}
}
