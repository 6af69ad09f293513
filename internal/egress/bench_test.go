package egress

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The benchmarks run on loopback only, in this process, with the production
// code path: JSON audit lines (to io.Discard), Prometheus metrics on a private
// registry, the allowlist and the guard (loopback exempted, as in all tests).
// Run them with:
//
//	go test ./internal/egress/ -run '^$' -bench . -benchtime 3s -count 1
//
// BenchmarkIdleTunnels starts two child processes and is bounded by its own
// tunnel count; the others are bounded by -benchtime.

// startSink accepts connections and discards what they send; on EOF it
// closes, which tells the writer everything was read.
func startSink(tb testing.TB) netip.AddrPort {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	// Pooled read buffers: a fresh 256 KiB buffer per accepted connection
	// made the sink, not the proxy, 97% of BenchmarkConnectLatency's
	// allocations, and the garbage collection it forced landed in the p99.
	bufs := sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				bp := bufs.Get().(*[]byte)
				for {
					if _, err := c.Read(*bp); err != nil {
						break
					}
				}
				bufs.Put(bp)
				c.Close()
			}()
		}
	}()
	tb.Cleanup(func() { ln.Close() })
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

func benchProxy(tb testing.TB, port uint16) *proxyEnv {
	res := newResolver(map[string][]string{"sink.example": {"127.0.0.1"}, "plain.example": {"127.0.0.1"}})
	spec := baseSpec(port, testGuardDenied())
	spec.Rules[0].Hosts = append(spec.Rules[0].Hosts, "sink.example")
	m, err := NewPromMetrics(prometheus.NewRegistry())
	if err != nil {
		tb.Fatal(err)
	}
	env := startProxy(tb, proxyOpts{spec: spec, resolver: res, metrics: m,
		cfg: Config{MaxTunnels: 20000, MaxTunnelsPerSource: 20000}})
	env.srv.audit = slog.New(slog.NewJSONHandler(io.Discard, nil))
	return env
}

// openStream returns a connection to the sink, direct or through a tunnel.
func openStream(tb testing.TB, proxy string, sink netip.AddrPort) net.Conn {
	if proxy == "" {
		c, err := net.Dial("tcp", sink.String())
		if err != nil {
			tb.Fatal(err)
		}
		return c
	}
	c, resp := connectVia(tb, proxy, fmt.Sprintf("sink.example:%d", sink.Port()), "")
	if resp.StatusCode != 200 {
		tb.Fatalf("CONNECT %d", resp.StatusCode)
	}
	return c
}

// finish half-closes and waits for the sink's close, so the timing includes
// every byte arriving at the far end.
func finish(c net.Conn) {
	_ = c.(*net.TCPConn).CloseWrite()
	_, _ = io.Copy(io.Discard, c)
	c.Close()
}

const streamChunk = 256 << 10

// BenchmarkThroughput streams to a discarding sink over 1 and 16 parallel
// connections, directly and through CONNECT tunnels.
func BenchmarkThroughput(b *testing.B) {
	sink := startSink(b)
	env := benchProxy(b, sink.Port())
	for _, streams := range []int{1, 16} {
		for _, via := range []string{"direct", "tunnel"} {
			b.Run(fmt.Sprintf("%s/streams=%d", via, streams), func(b *testing.B) {
				proxy := ""
				if via == "tunnel" {
					proxy = env.addr
				}
				conns := make([]net.Conn, streams)
				for i := range conns {
					conns[i] = openStream(b, proxy, sink)
				}
				buf := make([]byte, streamChunk)
				b.SetBytes(streamChunk)
				b.ResetTimer()
				var wg sync.WaitGroup
				per := b.N / streams
				for i, c := range conns {
					n := per
					if i == 0 {
						n += b.N % streams
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						for j := 0; j < n; j++ {
							if _, err := c.Write(buf); err != nil {
								b.Error(err)
								return
							}
						}
						finish(c)
					}()
				}
				wg.Wait()
			})
		}
	}
}

// BenchmarkConnectLatency measures CONNECT-to-200 on fresh client
// connections (the proxy resolves, checks, dials the sink and answers) and
// reports the median and 99th percentile.
func BenchmarkConnectLatency(b *testing.B) {
	sink := startSink(b)
	env := benchProxy(b, sink.Port())
	req := []byte(fmt.Sprintf("CONNECT sink.example:%d HTTP/1.1\r\nHost: sink.example:%d\r\n\r\n", sink.Port(), sink.Port()))
	durs := make([]time.Duration, 0, b.N)
	buf := make([]byte, 128)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := net.Dial("tcp", env.addr)
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		n, err := io.ReadAtLeast(c, buf, len(connectEstablished))
		d := time.Since(t0)
		if err != nil || string(buf[:n]) != connectEstablished {
			b.Fatalf("CONNECT answer %q %v", buf[:n], err)
		}
		durs = append(durs, d)
		c.Close()
	}
	b.StopTimer()
	slices.Sort(durs)
	b.ReportMetric(float64(durs[len(durs)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(durs[len(durs)*99/100].Nanoseconds())/1e3, "p99-µs")
}

// BenchmarkPlainHTTP sends keep-alive GETs over 16 client connections,
// directly to an origin (origin-form) and through the proxy (absolute form).
func BenchmarkPlainHTTP(b *testing.B) {
	body := []byte("ok\n")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) })}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { srv.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	env := benchProxy(b, uint16(port))
	for _, via := range []string{"direct", "proxy"} {
		b.Run(via+"/conns=16", func(b *testing.B) {
			target, dial, req := ln.Addr().String(), ln.Addr().String(), "GET / HTTP/1.1\r\nHost: plain.example\r\n\r\n"
			if via == "proxy" {
				dial = env.addr
				req = fmt.Sprintf("GET http://plain.example:%d/ HTTP/1.1\r\nHost: plain.example:%d\r\n\r\n", port, port)
			}
			_ = target
			b.SetParallelism(max(1, 16/runtimeProcs()))
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				c, err := net.Dial("tcp", dial)
				if err != nil {
					b.Error(err)
					return
				}
				defer c.Close()
				br := bufio.NewReader(c)
				rb := []byte(req)
				for pb.Next() {
					if _, err := c.Write(rb); err != nil {
						b.Error(err)
						return
					}
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
		})
	}
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }
