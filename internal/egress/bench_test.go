package egress

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/budnet/budnet/internal/egress/allowlist"
	"github.com/budnet/budnet/internal/egress/dnscache"
)

// The benchmarks run on loopback only. Clients and origins run in this
// process; the gateway runs both in a child process (this test binary
// re-executed, as deployed: its own process and scheduler) and in this
// process ("-inproc" sub-benchmarks, for profiling), with the production path
// described at benchServer. Run them with:
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

// benchServer builds the gateway the benchmarks measure, with the production
// path: the DNS cache, JSON audit lines, Prometheus metrics on a private registry, the
// allowlist and the guard (loopback exempted, as in all tests). The
// benchmark names resolve to loopback and every port in ports is allowed.
func benchServer(relay RelayMode, copyBuffers int, ports ...uint16) (*Server, error) {
	spec := baseSpec(ports[0], testGuardDenied())
	for _, p := range ports[1:] {
		spec.Rules[0].Ports = append(spec.Rules[0].Ports, allowlist.PortRange{From: p, To: p})
	}
	spec.Rules[0].Hosts = append(spec.Rules[0].Hosts, "sink.example")
	pol, err := NewPolicy(spec)
	if err != nil {
		return nil, err
	}
	m, err := NewPromMetrics(prometheus.NewRegistry())
	if err != nil {
		return nil, err
	}
	return NewServer(Config{MaxTunnels: 20000, MaxTunnelsPerSource: 20000, Relay: relay, CopyBuffers: copyBuffers}, pol, Deps{
		Audit:   io.Discard,
		Metrics: m,
		// Behind the DNS cache, as internal/cli/egress.go deploys it.
		Resolver: dnscache.New(newResolver(map[string][]string{"sink.example": {"127.0.0.1"}, "plain.example": {"127.0.0.1"}}), 5*time.Second, 1024),
	})
}

// Where the benchmarked gateway runs. "process" is how it is deployed and
// how the issue measured smokescreen and squid: its own process, with its
// own Go scheduler. "inproc" shares this process (and GOMAXPROCS) with the
// benchmark's clients and origin, which suits profiling but lets the
// client's and origin's goroutines hold the proxy's Ps.
var proxyPlacements = []string{"process", "inproc"}

// benchProxy starts the gateway in the given placement, or a floor helper
// ("floor-connect", "floor-relay") or the gateway with another relay
// ("proxy-splice", "proxy-copy"), and returns its listening address and,
// unless in process, the child, whose CPU time measureProxyCPU reports per
// operation.
func benchProxy(b *testing.B, placement string, ports ...uint16) (string, *benchChild) {
	b.Helper()
	if placement != "inproc" {
		list := make([]string, len(ports))
		for i, p := range ports {
			list[i] = strconv.Itoa(int(p))
		}
		mode := "proxy"
		if placement != "process" {
			mode = placement // a floor-* helper
		}
		child := startBenchChild(b, mode, benchPortsEnv+"="+strings.Join(list, ","))
		return child.addr, child
	}
	srv, err := benchServer("", 0, ports...)
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Serve(ctx, ln); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String(), nil
}

// measureProxyCPU runs f and, for a gateway in its own process, reports the
// gateway's CPU time per operation (user and system, and user alone): unlike rates and
// latencies on a shared two-core machine, it hardly depends on what else runs.
//
// Every row also reports the machine's 1-minute load average as it starts
// ("load1"), so a table carries the load it was measured under, and the
// benchmark process's own CPU per operation ("peers-cpu-µs/op": the clients
// and origins, including the kernel's loopback receive work that runs in
// their system calls), so a relay that saves its own CPU by moving kernel
// work onto the other side of a hop shows it.
func measureProxyCPU(b *testing.B, m cpuMeter, f func()) {
	if l, ok := loadAvg1(); ok {
		b.ReportMetric(l, "load1")
	}
	peersBefore, _ := cpuMicros()
	defer func() {
		if peersBefore >= 0 {
			peersAfter, _ := cpuMicros()
			b.ReportMetric(float64(peersAfter-peersBefore)/float64(b.N), "peers-cpu-µs/op")
		}
	}()
	before, userBefore := int64(-1), int64(-1)
	if m != nil {
		before, userBefore = m.cpuMicros(b)
	}
	if before < 0 {
		f()
		return
	}
	child, _ := m.(*benchChild)
	gcs := 0
	if child != nil {
		gcs = child.last["gcs"]
	}
	f()
	b.StopTimer()
	after, userAfter := m.cpuMicros(b)
	b.ReportMetric(float64(after-before)/float64(b.N), "proxy-cpu-µs/op")
	b.ReportMetric(float64(userAfter-userBefore)/float64(b.N), "proxy-user-µs/op")
	if child != nil {
		// The gateway's own collections per thousand operations (not the
		// ones the first stats request forced): a latency tail that garbage
		// collection causes cannot be more frequent than this.
		b.ReportMetric(float64(child.last["gcs"]-gcs-statsGCs)*1000/float64(b.N), "proxy-gc/1k-op")
	}
}

// openStream returns a connection to the sink, direct or through a tunnel
// to host (the sink's name as the proxy is asked for it).
func openStream(tb testing.TB, proxy, host string, sink netip.AddrPort) net.Conn {
	if proxy == "" {
		c, err := net.Dial("tcp", sink.String())
		if err != nil {
			tb.Fatal(err)
		}
		return c
	}
	c, resp := connectVia(tb, proxy, net.JoinHostPort(host, strconv.Itoa(int(sink.Port()))), "")
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
// connections, directly and through CONNECT tunnels ("tunnel": the gateway
// in its own process; "tunnel-inproc": in this one; then the peers).
func BenchmarkThroughput(b *testing.B) {
	sink := startSink(b)
	proxies, children, hosts := map[string]string{"direct": ""}, map[string]cpuMeter{}, map[string]string{}
	for _, pl := range proxyPlacements {
		via := viaName("tunnel", pl)
		proxies[via], children[via] = benchProxy(b, pl, sink.Port())
	}
	proxies["floor"], children["floor"] = benchProxy(b, "floor-connect", sink.Port())
	// "tunnel" relays as deployed by default (copy while one of its
	// per-CPU buffers is free, else splice); "tunnel-splice" always splices
	// (--relay=splice), "tunnel-copy" always copies (every busy tunnel finds
	// one of 64 buffers).
	proxies["tunnel-splice"], children["tunnel-splice"] = benchProxy(b, "proxy-splice", sink.Port())
	proxies["tunnel-copy"], children["tunnel-copy"] = benchProxy(b, "proxy-copy", sink.Port())
	vias := []string{"direct", "floor", "tunnel", "tunnel-splice", "tunnel-copy", "tunnel-inproc"}
	for _, p := range startPeers(b) {
		proxies[p.name], children[p.name], hosts[p.name] = p.addr, p.meter, p.host
		vias = append(vias, p.name)
	}
	for _, streams := range []int{1, 16} {
		for _, via := range vias {
			b.Run(fmt.Sprintf("%s/streams=%d", via, streams), func(b *testing.B) {
				proxy, host := proxies[via], cmp.Or(hosts[via], "sink.example")
				conns := make([]net.Conn, streams)
				for i := range conns {
					conns[i] = openStream(b, proxy, host, sink)
				}
				buf := make([]byte, streamChunk)
				b.SetBytes(streamChunk)
				b.ResetTimer()
				measureProxyCPU(b, children[via], func() {
					shareAmong(conns, b.N, func(_ int, c net.Conn, n int) {
						for j := 0; j < n; j++ {
							if _, err := c.Write(buf); err != nil {
								b.Error(err)
								return
							}
						}
						finish(c)
					})
				})
			})
		}
	}
}

// shareAmong runs work on every connection at once, each with its share of
// total operations (the first also takes the remainder), and waits for all:
// how the multi-stream benchmarks split b.N.
func shareAmong(conns []net.Conn, total int, work func(i int, c net.Conn, n int)) {
	var wg sync.WaitGroup
	per := total / len(conns)
	for i, c := range conns {
		n := per
		if i == 0 {
			n += total % len(conns)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			work(i, c, n)
		}()
	}
	wg.Wait()
}

// viaName names a sub-benchmark: the deployed placement (its own process)
// gets the plain name.
func viaName(via, placement string) string {
	if placement == "process" {
		return via
	}
	return via + "-" + placement
}

// BenchmarkConnectLatency measures CONNECT-to-200 on fresh client
// connections (the proxy resolves, checks, dials the sink and answers) and
// reports the median and 99th percentile.
func BenchmarkConnectLatency(b *testing.B) {
	sink := startSink(b)
	var targets []benchPeer
	for _, pl := range append([]string{"floor-connect"}, proxyPlacements...) {
		addr, child := benchProxy(b, pl, sink.Port())
		name := viaName("tunnel", pl)
		if pl == "floor-connect" {
			name = "floor"
		}
		targets = append(targets, benchPeer{name: name, addr: addr, host: "sink.example", meter: child})
	}
	targets = append(targets, startPeers(b)...)
	for _, tg := range targets {
		addr, child := tg.addr, tg.meter
		authority := net.JoinHostPort(tg.host, strconv.Itoa(int(sink.Port())))
		req := []byte("CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n")
		b.Run(tg.name, func(b *testing.B) {
			durs := make([]time.Duration, 0, b.N)
			buf := make([]byte, 128)
			b.ResetTimer()
			measureProxyCPU(b, child, func() {
				for i := 0; i < b.N; i++ {
					c, err := net.Dial("tcp", addr)
					if err != nil {
						b.Fatal(err)
					}
					t0 := time.Now()
					if _, err := c.Write(req); err != nil {
						b.Fatal(err)
					}
					n, err := readHead(c, buf)
					d := time.Since(t0)
					if err != nil || !connectOK(buf[:n]) {
						b.Fatalf("CONNECT answer %q %v", buf[:n], err)
					}
					durs = append(durs, d)
					c.Close()
				}
			})
			b.StopTimer()
			slices.Sort(durs)
			b.ReportMetric(float64(durs[len(durs)/2].Nanoseconds())/1e3, "p50-µs")
			b.ReportMetric(float64(durs[len(durs)*99/100].Nanoseconds())/1e3, "p99-µs")
		})
	}
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
	proxies, children, hosts := map[string]string{"direct": ln.Addr().String()}, map[string]cpuMeter{}, map[string]string{}
	for _, pl := range proxyPlacements {
		via := viaName("proxy", pl)
		proxies[via], children[via] = benchProxy(b, pl, uint16(port))
	}
	proxies["floor"], children["floor"] = benchProxy(b, "floor-relay", uint16(port))
	vias := []string{"direct", "floor", "proxy", "proxy-inproc"}
	for _, p := range startPeers(b) {
		proxies[p.name], children[p.name], hosts[p.name] = p.addr, p.meter, p.host
		vias = append(vias, p.name)
	}
	for _, via := range vias {
		b.Run(via+"/conns=16", func(b *testing.B) {
			dial, req := proxies[via], "GET / HTTP/1.1\r\nHost: plain.example\r\n\r\n"
			if via != "direct" && via != "floor" {
				host := net.JoinHostPort(cmp.Or(hosts[via], "plain.example"), strconv.Itoa(port))
				req = "GET http://" + host + "/ HTTP/1.1\r\nHost: " + host + "\r\n\r\n"
			}
			b.SetParallelism(max(1, 16/runtimeProcs()))
			start := time.Now()
			measureProxyCPU(b, children[via], func() {
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
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
		})
	}
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }

// loadAvg1 is the 1-minute load average (/proc/loadavg): runnable and
// uninterruptible tasks, including those a shielded run keeps waiting.
func loadAvg1() (float64, bool) {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(raw))
	if len(f) == 0 {
		return 0, false
	}
	l, err := strconv.ParseFloat(f[0], 64)
	return l, err == nil
}

// readHead reads a response head (up to its blank line) into buf.
func readHead(c net.Conn, buf []byte) (int, error) {
	n := 0
	for !bytes.Contains(buf[:n], []byte("\r\n\r\n")) {
		if n == len(buf) {
			return n, fmt.Errorf("response head over %d bytes", len(buf))
		}
		m, err := c.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// connectOK reports whether a CONNECT answer is a 200 (the peers word it
// differently and some answer HTTP/1.0).
func connectOK(head []byte) bool {
	return bytes.HasPrefix(head, []byte("HTTP/1.1 200 ")) || bytes.HasPrefix(head, []byte("HTTP/1.0 200 "))
}
