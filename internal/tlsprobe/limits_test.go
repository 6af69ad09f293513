package tlsprobe_test

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/budnet/budnet/internal/tlsprobe"
	"github.com/budnet/budnet/internal/tlsprobe/internal/testserver"
)

// inFlight wraps the real dialer and records how many distinct targets had
// connections open at the same time.
type inFlight struct {
	mu     sync.Mutex
	open   map[string]int
	maxTgt int
}

func (f *inFlight) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.open[addr]++
	f.maxTgt = max(f.maxTgt, len(f.open))
	f.mu.Unlock()
	return &countedConn{Conn: c, done: func() {
		f.mu.Lock()
		if f.open[addr]--; f.open[addr] == 0 {
			delete(f.open, addr)
		}
		f.mu.Unlock()
	}}, nil
}

type countedConn struct {
	net.Conn
	once sync.Once
	done func()
}

func (c *countedConn) Close() error {
	c.once.Do(c.done)
	return c.Conn.Close()
}

func TestConcurrencyBound(t *testing.T) {
	ca := testserver.NewCA(t, "test ca")
	cert := testserver.Issue(t, ca, testserver.Leaf{IPs: loopback})
	var targets []tlsprobe.Target
	for range 6 {
		addr := testserver.StartTLS(t, &tls.Config{Certificates: []tls.Certificate{cert.TLS}})
		tg, err := tlsprobe.ParseTarget("tls://" + addr)
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, tg)
	}
	for _, limit := range []int{1, 2} {
		f := &inFlight{open: map[string]int{}}
		p, err := tlsprobe.New(tlsprobe.Options{RootCAs: ca.Pool(), Concurrency: limit, Dial: f.dial})
		if err != nil {
			t.Fatal(err)
		}
		rs := p.CheckAll(context.Background(), targets)
		for i, r := range rs {
			if r.Error != "" || r.Target != targets[i].String() {
				t.Fatalf("result %d = %s (%s), want %s in order", i, r.Target, r.Error, targets[i])
			}
		}
		if f.maxTgt > limit || f.maxTgt == 0 {
			t.Errorf("concurrency %d: %d targets had connections open at once", limit, f.maxTgt)
		}
	}
}

// blackHole accepts connections and never answers, like a firewall that
// completes the TCP handshake (or a server stuck before its first byte).
func blackHole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

func TestTimeoutsAndCancellation(t *testing.T) {
	addr := blackHole(t)
	t.Run("every exchange times out", func(t *testing.T) {
		for _, scheme := range []string{"tls", "postgres"} {
			r := probe(t, nil, scheme+"://"+addr, func(o *tlsprobe.Options) { o.Timeout = 100 * time.Millisecond })
			if r.Error == "" || !strings.Contains(r.Error, "deadline") && !strings.Contains(r.Error, "timeout") {
				t.Errorf("%s: error %q, want a timeout before any TLS", scheme, r.Error)
			}
		}
	})
	t.Run("cancellation ends a probe in flight", func(t *testing.T) {
		p, err := tlsprobe.New(tlsprobe.Options{Timeout: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		// postgres:// blocks in the SSLRequest read, a plain socket read.
		for _, scheme := range []string{"tls", "postgres"} {
			target, _ := tlsprobe.ParseTarget(scheme + "://" + addr)
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			r := p.Check(ctx, target)
			if !strings.Contains(r.Error, "context canceled") {
				t.Errorf("%s: error %q, want context canceled", scheme, r.Error)
			}
		}
	})
}
