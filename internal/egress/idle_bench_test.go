package egress

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// benchChildEnv makes the test binary act as a benchmark helper process
// ("proxy" or "sink") instead of running tests. BenchmarkIdleTunnels needs
// separate processes: 10,000 tunnels are 20,000 sockets in the proxy alone,
// and the hard descriptor limit here is about 20,000 per process.
const benchChildEnv = "BUDNET_EGRESS_BENCH_CHILD"

// benchPortsEnv lists, comma-separated, the ports a proxy child allows.
const benchPortsEnv = "BUDNET_EGRESS_BENCH_PORTS"

func TestMain(m *testing.M) {
	if err := shieldFromLoad(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if mode := os.Getenv(benchChildEnv); mode != "" {
		os.Exit(runBenchChild(mode, os.Stdin, os.Stdout))
	}
	if os.Getenv(benchRTEnv) != "" {
		// A configuration line benchstat keeps apart: shielded figures are
		// not to be pooled with ordinary ones.
		throttle, _ := rtThrottle()
		fmt.Printf("egress-bench-sched: SCHED_RR %s (%s)\n", os.Getenv(benchRTEnv), throttle)
	}
	os.Exit(m.Run())
}

// runBenchChild serves until stdin closes, answering "stats" lines with the
// process's resident memory, descriptors and goroutines.
// statsGCs is how many collections a "stats" request forces after reading
// the proxy's CPU time and collection count.
const statsGCs = 3

func runBenchChild(mode string, in io.Reader, out io.Writer) int {
	raiseNoFile()
	// BUDNET_EGRESS_BENCH_CPUPROFILE=FILE profiles each gateway or floor
	// child into FILE.<mode>.<pid> until its benchmark ends.
	if path := os.Getenv("BUDNET_EGRESS_BENCH_CPUPROFILE"); path != "" && mode != "sink" {
		f, err := os.Create(fmt.Sprintf("%s.%s.%d", path, mode, os.Getpid()))
		if err != nil {
			fmt.Fprintln(out, "error", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(out, "error", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(out, "error", err)
		return 1
	}
	var srv *Server
	switch mode {
	case "sink":
		go holdConns(ln)
	case "floor-connect", "floor-relay":
		ports, err := benchPorts()
		if err != nil {
			fmt.Fprintln(out, "error", err)
			return 1
		}
		if mode == "floor-connect" {
			go serveFloorConnect(ln, ports[0])
		} else {
			go serveFloorRelay(ln, ports[0])
		}
	case "proxy", "proxy-splice", "proxy-copy":
		ports, err := benchPorts()
		if err != nil {
			fmt.Fprintln(out, "error", err)
			return 1
		}
		// "proxy" relays with the defaults; BUDNET_EGRESS_BENCH_COPY_BUFFERS
		// sets its --relay-copy-buffers (how many busy tunnels copy before the
		// rest splice).
		var relay RelayMode
		copyBuffers, _ := strconv.Atoi(os.Getenv("BUDNET_EGRESS_BENCH_COPY_BUFFERS"))
		switch mode {
		case "proxy-splice":
			relay, copyBuffers = RelaySplice, 0
		case "proxy-copy":
			relay, copyBuffers = RelayCopy, 64 // every busy tunnel of the benchmarks copies
		}
		srv, err = benchServer(relay, copyBuffers, ports...)
		if err != nil {
			fmt.Fprintln(out, "error", err)
			return 1
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() { _ = srv.Serve(ctx, ln) }()
	default:
		fmt.Fprintln(out, "error unknown mode", mode)
		return 1
	}
	fmt.Fprintln(out, "addr", ln.Addr().String())
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		if sc.Text() != "stats" {
			continue
		}
		cpu, user := cpuMicros() // before the collections below, which are not the proxy's work
		var before runtime.MemStats
		runtime.ReadMemStats(&before) // its NumGC: the proxy's own collections so far
		// A few collections, as a long-running gateway gets between bursts:
		// each one may halve the stacks of parked goroutines.
		for i := 0; i < statsGCs; i++ {
			runtime.GC()
		}
		debug.FreeOSMemory()
		tunnels := 0
		if srv != nil {
			tunnels = srv.ActiveTunnels()
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Fprintf(out, "stats rss_kb=%d fds=%d goroutines=%d tunnels=%d stack_kb=%d heap_kb=%d cpu_us=%d user_us=%d gcs=%d\n", rssKB(), countFDs(),
			runtime.NumGoroutine(), tunnels, ms.StackInuse>>10, ms.HeapInuse>>10, cpu, user, before.NumGC)
	}
	return 0
}

// benchPorts reads the ports a child proxies to from benchPortsEnv.
func benchPorts() ([]uint16, error) {
	var ports []uint16
	for _, f := range strings.Split(os.Getenv(benchPortsEnv), ",") {
		p, err := strconv.ParseUint(f, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", benchPortsEnv, err)
		}
		ports = append(ports, uint16(p))
	}
	return ports, nil
}

func holdConns(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		// Echo until EOF: idleTunnels sends each tunnel 64 KiB and reads
		// it back, so both directions have carried bytes. Not io.Copy(c, c):
		// between TCP sockets it splices through a pipe pair held while it
		// waits, three descriptors per held connection instead of one,
		// which ran this process out of descriptors at 10,000 tunnels.
		go func() {
			buf := make([]byte, 4096)
			_, _ = io.CopyBuffer(struct{ io.Writer }{c}, struct{ io.Reader }{c}, buf)
			c.Close()
		}()
	}
}

func raiseNoFile() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	lim.Cur = lim.Max
	_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	return lim.Cur
}

// cpuMicros is the process's user plus system CPU time so far, and user alone.
func cpuMicros() (total, user int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1, -1
	}
	user = ru.Utime.Sec*1e6 + ru.Utime.Usec
	return user + ru.Stime.Sec*1e6 + ru.Stime.Usec, user
}

func rssKB() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return -1
}

func countFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

type benchChild struct {
	last map[string]int // the last stats answer
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Scanner
	addr string
}

func startBenchChild(b *testing.B, mode string, env ...string) *benchChild {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// BUDNET_EGRESS_BENCH_CHILD_CPUS=LIST pins the children to those CPUs
	// (taskset -c LIST): run the benchmark itself under taskset on the
	// other CPUs to measure a gateway with cores of its own.
	if cpus := os.Getenv("BUDNET_EGRESS_BENCH_CHILD_CPUS"); cpus != "" {
		cmd = exec.Command("taskset", "-c", cpus, os.Args[0], "-test.run=^$")
	}
	cmd.Env = append(append(os.Environ(), benchChildEnv+"="+mode), env...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	c := &benchChild{cmd: cmd, in: in, out: bufio.NewScanner(outPipe)}
	b.Cleanup(func() {
		in.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line := c.next(b)
	addr, ok := strings.CutPrefix(line, "addr ")
	if !ok {
		b.Fatalf("%s child said %q", mode, line)
	}
	c.addr = addr
	if err := checkShielded(cmd.Process.Pid, mode+" child"); err != nil {
		b.Fatal(err)
	}
	return c
}

func (c *benchChild) next(b *testing.B) string {
	if !c.out.Scan() {
		b.Fatalf("child exited: %v", c.out.Err())
	}
	return c.out.Text()
}

func (c *benchChild) stats(b *testing.B) map[string]int {
	fmt.Fprintln(c.in, "stats")
	line := c.next(b)
	out := map[string]int{}
	for _, f := range strings.Fields(strings.TrimPrefix(line, "stats ")) {
		k, v, _ := strings.Cut(f, "=")
		out[k], _ = strconv.Atoi(v)
	}
	c.last = out
	return out
}

// BenchmarkIdleTunnels opens as many idle CONNECT tunnels as the descriptor
// limit allows (at most 10,000) through a proxy in its own process and reports
// the proxy's resident memory, descriptors and goroutines per tunnel: the
// gateway ("gateway"), then each installed peer (resident memory and
// descriptors only, read from /proc; a Go peer is not asked to collect
// garbage first, as the gateway's child is). It runs once whatever b.N is:
// the measurement is a footprint, not a rate.
func BenchmarkIdleTunnels(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("reads /proc")
	}
	hard := raiseNoFile()
	sink := startBenchChild(b, "sink")
	_, sinkPort, _ := net.SplitHostPort(sink.addr)
	// The framework calls a sub-benchmark again with a larger b.N when the
	// first call took less than -benchtime; the footprint is measured once
	// and reported on every call.
	once := func(b *testing.B, done *map[string]float64, measure func() map[string]float64) {
		if *done == nil {
			*done = measure()
		}
		for unit, v := range *done {
			b.ReportMetric(v, unit)
		}
	}
	// "gateway" relays with the defaults (copy), "gateway-splice" with
	// --relay=splice: both hold their buffer or pipe only while bytes move,
	// so both must read the same per idle tunnel.
	gws := map[string]map[string]float64{}
	for _, gwMode := range [][2]string{{"gateway", "proxy"}, {"gateway-splice", "proxy-splice"}} {
		name, mode := gwMode[0], gwMode[1]
		b.Run(name, func(b *testing.B) {
			gw := gws[name]
			once(b, &gw, func() map[string]float64 {
				proxy := startBenchChild(b, mode, benchPortsEnv+"="+sinkPort)
				stats := func() map[string]int { return proxy.stats(b) }
				return idleTunnels(b, proxy.addr, "sink.example:"+sinkPort, hard, stats, func(n int, after map[string]int) {
					if after["tunnels"] != n {
						b.Fatalf("proxy reports %d tunnels, want %d", after["tunnels"], n)
					}
				})
			})
			gws[name] = gw
		})
	}
	for _, p := range startPeers(b) {
		var res map[string]float64
		b.Run(p.name, func(b *testing.B) {
			once(b, &res, func() map[string]float64 {
				return idlePeer(b, p, sinkPort, hard)
			})
		})
	}
}

// idlePeer measures a peer proxy's footprint per idle tunnel.
func idlePeer(b *testing.B, p benchPeer, sinkPort string, hard uint64) map[string]float64 {
	pid := p.meter.(*peerProc).cmd.Process.Pid
	stats := func() map[string]int { return map[string]int{"rss_kb": procRSSKB(pid), "fds": procFDs(pid)} }
	limit := hard
	if p.name == "squid" {
		// Squid stops answering CONNECT well before the descriptor limit
		// (it keeps descriptors in reserve); about 4,000 tunnels fit.
		limit = min(hard, 8200)
	}
	return idleTunnels(b, p.addr, net.JoinHostPort(p.host, sinkPort), limit, stats, nil)
}

// idleTunnels opens the tunnels to authority through proxy, reads stats
// before and after, and returns the differences per tunnel.
func idleTunnels(b *testing.B, proxy, authority string, hard uint64, stats func() map[string]int, check func(int, map[string]int)) map[string]float64 {
	before := stats()
	n := min(10000, (int(hard)-before["fds"]-16)/2, int(hard)-200)
	req := "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n"
	conns := make([]net.Conn, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	next := make(chan int)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 512)
			for i := range next {
				c, err := net.Dial("tcp", proxy)
				if err == nil {
					_ = c.SetDeadline(time.Now().Add(30 * time.Second)) // a proxy that stops answering fails the run
					_, err = io.WriteString(c, req)
				}
				var k int
				if err == nil {
					k, err = readHead(c, buf)
				}
				if err == nil && !connectOK(buf[:k]) {
					err = fmt.Errorf("CONNECT answered %q", buf[:k])
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("tunnel %d: %w", i, err)
				}
				mu.Unlock()
				conns[i] = c
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	for _, c := range conns {
		_ = c.SetDeadline(time.Time{})
	}
	time.Sleep(500 * time.Millisecond) // let the last relays park
	after := stats()
	if check != nil {
		check(n, after)
	}
	out := map[string]float64{"tunnels": float64(n)}
	perTunnel(out, "", before, after, n)
	// Then every tunnel carries 64 KiB each way (the sink echoes) and goes
	// idle again: what a tunnel that has been used keeps (grown stacks,
	// buffers a relay held on to).
	if err := echoAll(conns, 64<<10); err != nil {
		b.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	used := stats()
	if check != nil {
		check(n, used)
	}
	perTunnel(out, "-after-64KiB", before, used, n)
	return out
}

// perTunnel reports the differences between two stats readings per tunnel,
// with suffix after each unit's "tunnel".
func perTunnel(out map[string]float64, suffix string, before, after map[string]int, n int) {
	out["kB/tunnel"+suffix] = float64(after["rss_kb"]-before["rss_kb"]) / float64(n)
	out["fds/tunnel"+suffix] = float64(after["fds"]-before["fds"]) / float64(n)
	if _, ok := after["goroutines"]; ok {
		out["goroutines/tunnel"+suffix] = float64(after["goroutines"]-before["goroutines"]) / float64(n)
		out["stack-kB/tunnel"+suffix] = float64(after["stack_kb"]-before["stack_kb"]) / float64(n)
		out["heap-kB/tunnel"+suffix] = float64(after["heap_kb"]-before["heap_kb"]) / float64(n)
	}
}

// echoAll writes size bytes into every connection and reads them back, 32
// connections at a time, within a deadline (a proxy that stops relaying
// fails the run).
func echoAll(conns []net.Conn, size int) error {
	next := make(chan net.Conn)
	errs := make(chan error, 32)
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, in := make([]byte, size), make([]byte, size)
			for c := range next {
				_ = c.SetDeadline(time.Now().Add(30 * time.Second))
				var werr error
				done := make(chan struct{})
				go func() { _, werr = c.Write(out); close(done) }()
				_, rerr := io.ReadFull(c, in)
				<-done
				_ = c.SetDeadline(time.Time{})
				if err := cmp.Or(werr, rerr); err != nil {
					select {
					case errs <- fmt.Errorf("echo %d bytes: %w", size, err):
					default:
					}
				}
			}
		}()
	}
	for _, c := range conns {
		next <- c
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// procRSSKB and procFDs read another process's resident set and open
// descriptors, as rssKB and countFDs do for this one.
func procRSSKB(pid int) int {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return -1
}

func procFDs(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}
