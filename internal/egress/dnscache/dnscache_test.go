package dnscache

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/budnet/budnet/internal/dnstest"
)

// stubResolver answers from a table, counts lookups, and can hold lookups
// until release is closed.
type stubResolver struct {
	mu      sync.Mutex
	answers map[string][]netip.Addr
	err     error
	calls   atomic.Int64
	release chan struct{}
	started chan struct{}
}

func (r *stubResolver) LookupNetIP(ctx context.Context, _, host string) ([]netip.Addr, error) {
	r.calls.Add(1)
	if r.started != nil {
		r.started <- struct{}{}
	}
	if r.release != nil {
		select {
		case <-r.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return nil, r.err
	}
	return slices.Clone(r.answers[host]), nil
}

func (r *stubResolver) set(host string, addrs ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answers[host] = nil
	for _, a := range addrs {
		r.answers[host] = append(r.answers[host], netip.MustParseAddr(a))
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestCache(next Resolver, ttl time.Duration, maxEntries int) (*Cache, *fakeClock) {
	clk := &fakeClock{t: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	c := New(next, ttl, maxEntries)
	c.now = clk.now
	return c, clk
}

func lookup(t *testing.T, c *Cache, host string) []netip.Addr {
	t.Helper()
	addrs, err := c.LookupNetIP(context.Background(), "ip", host)
	if err != nil {
		t.Fatalf("lookup %s: %v", host, err)
	}
	return addrs
}

func TestCacheKeepsAnswersForTTL(t *testing.T) {
	r := &stubResolver{answers: map[string][]netip.Addr{}}
	r.set("api.openai.com", "162.159.140.245")
	c, clk := newTestCache(r, 5*time.Second, 100)
	lookup(t, c, "api.openai.com")
	r.set("api.openai.com", "10.0.0.7") // the authority changes its answer (or rebinds)
	clk.advance(4999 * time.Millisecond)
	if got := lookup(t, c, "api.openai.com"); got[0] != netip.MustParseAddr("162.159.140.245") || r.calls.Load() != 1 {
		t.Fatalf("within the TTL got %v after %d lookups, want the cached answer after 1", got, r.calls.Load())
	}
	clk.advance(time.Millisecond)
	if got := lookup(t, c, "api.openai.com"); got[0] != netip.MustParseAddr("10.0.0.7") || r.calls.Load() != 2 {
		t.Fatalf("at the TTL got %v after %d lookups, want a fresh answer after 2", got, r.calls.Load())
	}
}

func TestCacheKeysByNetwork(t *testing.T) {
	r := &stubResolver{answers: map[string][]netip.Addr{}}
	r.set("x.example", "192.0.2.1")
	c, _ := newTestCache(r, time.Minute, 100)
	for _, network := range []string{"ip", "ip4", "ip6", "ip"} {
		if _, err := c.LookupNetIP(context.Background(), network, "x.example"); err != nil {
			t.Fatal(err)
		}
	}
	if n := r.calls.Load(); n != 3 {
		t.Fatalf("%d upstream lookups, want one per network (3)", n)
	}
}

func TestCacheDoesNotKeepFailures(t *testing.T) {
	r := &stubResolver{answers: map[string][]netip.Addr{}, err: &net.DNSError{Err: "no such host", Name: "x.example", IsNotFound: true}}
	c, _ := newTestCache(r, time.Minute, 100)
	if _, err := c.LookupNetIP(context.Background(), "ip", "x.example"); err == nil {
		t.Fatal("want the resolver's error")
	}
	r.mu.Lock()
	r.err = nil
	r.mu.Unlock()
	r.set("x.example", "192.0.2.1")
	if got := lookup(t, c, "x.example"); len(got) != 1 || r.calls.Load() != 2 {
		t.Fatalf("after a failure got %v with %d lookups, want a fresh lookup", got, r.calls.Load())
	}
	// An empty answer is not kept either.
	r.set("empty.example")
	for i := 0; i < 2; i++ {
		if got := lookup(t, c, "empty.example"); len(got) != 0 {
			t.Fatalf("empty answer became %v", got)
		}
	}
	if n := r.calls.Load(); n != 4 {
		t.Fatalf("%d lookups, want empty answers looked up each time (4)", n)
	}
}

func TestCacheResultIsTheCallers(t *testing.T) {
	r := &stubResolver{answers: map[string][]netip.Addr{}}
	r.set("x.example", "192.0.2.1")
	c, _ := newTestCache(r, time.Minute, 100)
	first := lookup(t, c, "x.example")
	first[0] = netip.MustParseAddr("10.0.0.1") // e.g. guard.NormalizeResolved rewrites in place
	if got := lookup(t, c, "x.example"); got[0] != netip.MustParseAddr("192.0.2.1") {
		t.Fatalf("a caller's change leaked into the cache: %v", got)
	}
}

func TestCacheMergesConcurrentLookups(t *testing.T) {
	r := &stubResolver{answers: map[string][]netip.Addr{}, release: make(chan struct{}), started: make(chan struct{}, 100)}
	r.set("x.example", "192.0.2.1")
	c, _ := newTestCache(r, time.Minute, 100)
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addrs, err := c.LookupNetIP(context.Background(), "ip", "x.example")
			if err == nil && (len(addrs) != 1 || addrs[0] != netip.MustParseAddr("192.0.2.1")) {
				err = fmt.Errorf("got %v", addrs)
			}
			errs <- err
		}()
	}
	<-r.started
	time.Sleep(20 * time.Millisecond) // let the other 49 join the lookup in flight
	close(r.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := r.calls.Load(); n != 1 {
		t.Fatalf("%d upstream lookups for 50 concurrent callers, want 1", n)
	}
}

// A caller that gives up must not fail the others, nor cancel the lookup.
func TestCacheCallerCancellation(t *testing.T) {
	r := &stubResolver{answers: map[string][]netip.Addr{}, release: make(chan struct{}), started: make(chan struct{}, 10)}
	r.set("x.example", "192.0.2.1")
	c, _ := newTestCache(r, time.Minute, 100)
	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	leaderErr := make(chan error, 1)
	go func() {
		_, err := c.LookupNetIP(leaderCtx, "ip", "x.example")
		leaderErr <- err
	}()
	<-r.started
	follower := make(chan []netip.Addr, 1)
	go func() {
		addrs, _ := c.LookupNetIP(context.Background(), "ip", "x.example")
		follower <- addrs
	}()
	cancelLeader()
	if err := <-leaderErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller got %v, want context.Canceled", err)
	}
	close(r.release)
	if got := <-follower; len(got) != 1 {
		t.Fatalf("the waiting caller got %v after the first caller gave up", got)
	}
	if n := r.calls.Load(); n != 1 {
		t.Fatalf("%d lookups, want 1", n)
	}
}

func TestCacheIsBounded(t *testing.T) {
	r := &stubResolver{answers: map[string][]netip.Addr{}}
	c, clk := newTestCache(r, time.Minute, 10)
	for i := 0; i < 100; i++ {
		name := fmt.Sprintf("n%d.example", i)
		r.set(name, "192.0.2.1")
		lookup(t, c, name)
		clk.advance(time.Millisecond)
	}
	c.mu.Lock()
	n := len(c.entries)
	c.mu.Unlock()
	if n > 10 {
		t.Fatalf("%d entries kept, want at most 10", n)
	}
}

// dnsServer answers every name the tests ask with 192.0.2.1 over UDP on
// loopback, so they use the real Go resolver speaking real DNS.
func dnsServer(tb testing.TB) (addr string, queries *atomic.Int64) {
	s := dnstest.Start(tb, map[string][]netip.Addr{"api.openai.com": {netip.MustParseAddr("192.0.2.1")}})
	return s.Addr, &s.Queries
}

func goResolver(server string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", server)
	}}
}

func TestCacheWithGoResolver(t *testing.T) {
	server, queries := dnsServer(t)
	c := New(goResolver(server), time.Minute, 100)
	for i := 0; i < 20; i++ {
		addrs, err := c.LookupNetIP(context.Background(), "ip", "api.openai.com")
		if err != nil || len(addrs) != 1 || addrs[0] != netip.MustParseAddr("192.0.2.1") {
			t.Fatalf("lookup %d: %v %v", i, addrs, err)
		}
	}
	// One "ip" lookup asks for A and AAAA once each.
	if q := queries.Load(); q != 2 {
		t.Fatalf("%d DNS queries for 20 lookups, want 2", q)
	}
}

// BenchmarkLookup compares a lookup through the Go resolver to a loopback DNS
// server (the least a cluster DNS round trip costs) with a cache hit.
func BenchmarkLookup(b *testing.B) {
	server, _ := dnsServer(b)
	res := goResolver(server)
	b.Run("uncached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := res.LookupNetIP(context.Background(), "ip", "api.openai.com"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		c := New(res, time.Hour, 100)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.LookupNetIP(context.Background(), "ip", "api.openai.com"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestCachedAnswersOnlyFreshSuccess: Cached, the gateway's no-context path,
// answers only what LookupNetIP would answer from memory: never a name not
// yet looked up, an expired answer, a failure, an empty answer or a lookup
// still in flight.
func TestCachedAnswersOnlyFreshSuccess(t *testing.T) {
	r := &stubResolver{answers: map[string][]netip.Addr{}}
	r.set("api.openai.com", "162.159.140.245")
	c, clk := newTestCache(r, 5*time.Second, 100)
	if got, ok := c.Cached("ip", "api.openai.com"); ok {
		t.Fatalf("before any lookup Cached answered %v", got)
	}
	lookup(t, c, "api.openai.com")
	if got, ok := c.Cached("ip", "api.openai.com"); !ok || !slices.Equal(got, []netip.Addr{netip.MustParseAddr("162.159.140.245")}) {
		t.Fatalf("after a lookup Cached = %v, %v", got, ok)
	}
	if _, ok := c.Cached("ip4", "api.openai.com"); ok {
		t.Fatal("Cached answered another network's entry")
	}
	clk.advance(5 * time.Second)
	if got, ok := c.Cached("ip", "api.openai.com"); ok {
		t.Fatalf("at the TTL Cached still answered %v", got)
	}
	r.set("empty.example")
	lookup(t, c, "empty.example")
	if _, ok := c.Cached("ip", "empty.example"); ok {
		t.Fatal("Cached answered an empty lookup")
	}
	r.mu.Lock()
	r.err = errors.New("servfail")
	r.mu.Unlock()
	_, _ = c.LookupNetIP(context.Background(), "ip", "fail.example")
	if _, ok := c.Cached("ip", "fail.example"); ok {
		t.Fatal("Cached answered a failed lookup")
	}
	r.mu.Lock()
	r.err = nil
	r.mu.Unlock()
	r.release, r.started = make(chan struct{}), make(chan struct{}, 1)
	r.set("slow.example", "192.0.2.1")
	done := make(chan struct{})
	go func() { defer close(done); _, _ = c.LookupNetIP(context.Background(), "ip", "slow.example") }()
	<-r.started
	if _, ok := c.Cached("ip", "slow.example"); ok {
		t.Fatal("Cached answered a lookup still in flight")
	}
	close(r.release)
	<-done
	if _, ok := c.Cached("ip", "slow.example"); !ok {
		t.Fatal("Cached missed the finished lookup")
	}
}
