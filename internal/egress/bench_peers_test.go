package egress

import (
	"fmt"
	"github.com/budnet/budnet/internal/testenv"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Peer proxies run beside the gateway in the same benchmarks, each in its own
// process, so one run gives the comparison the table asks for (issue
// 11 §3):
//
//   - smokescreen, Stripe's egress proxy, built from its Go module by
//     hack/ci-egress-peers.sh (found through $BUDNET_SMOKESCREEN, else in
//     ${BUDNET_CACHE:-/var/cache/budnet}/smokescreen-*/smokescreen);
//   - squid, Debian's package, where /usr/sbin/squid is installed.
//
// A missing peer is left out of the run, or fails it under CI=true. The
// peers are asked for 127.0.0.1:PORT: neither can be told that the
// benchmark's names resolve to loopback without changing the machine's
// /etc/hosts, and each is configured to allow loopback, which both refuse by
// default. The gateway keeps its production path (a name, answered from its
// resolver). Smokescreen logs each request as a JSON line and squid writes
// its access log, both to /dev/null; the gateway formats its audit line into
// io.Discard.

// peerProc is a peer proxy process; it reports its CPU time from /proc.
type peerProc struct {
	name string
	addr string
	cmd  *exec.Cmd
}

// cpuMeter reports a proxy process's CPU time so far (user plus system, and
// user alone), or -1 when the proxy shares this process.
type cpuMeter interface {
	cpuMicros(b *testing.B) (total, user int64)
}

func (c *benchChild) cpuMicros(b *testing.B) (total, user int64) {
	if c == nil {
		return -1, -1
	}
	st := c.stats(b)
	return int64(st["cpu_us"]), int64(st["user_us"])
}

// cpuMicros reads utime and stime (fields 14 and 15, in clock ticks of 10 ms
// on Linux: USER_HZ is 100) from /proc/PID/stat.
func (p *peerProc) cpuMicros(b *testing.B) (total, user int64) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		b.Fatalf("%s: %v", p.name, err)
	}
	// The command name (field 2) may hold spaces; count from after it.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return (ut + st) * 10000, ut * 10000
}

// benchPeer is one proxy in a comparison: where to send requests, how to
// name the destination, and whose CPU time to read.
type benchPeer struct {
	name  string
	addr  string
	host  string // the destination host as this proxy is asked for it
	meter cpuMeter
}

// startPeers starts every installed peer proxy; ports are the destinations
// on 127.0.0.1 they will be asked for.
func startPeers(b *testing.B) []benchPeer {
	b.Helper()
	var out []benchPeer
	if bin := smokescreenBinary(); bin != "" {
		out = append(out, startSmokescreen(b, bin))
	} else {
		peerMissing(b, "smokescreen: build it with BUDNET_SMOKESCREEN=$(bash hack/ci-egress-peers.sh)")
	}
	if _, err := os.Stat("/usr/sbin/squid"); err == nil {
		out = append(out, startSquid(b, "/usr/sbin/squid"))
	} else {
		peerMissing(b, "squid: apt-get install squid")
	}
	return out
}

func peerMissing(b *testing.B, what string) {
	b.Helper()
	if testenv.CI() {
		b.Fatalf("peer proxy missing (CI=true forbids leaving it out): %s", what)
	}
	b.Logf("peer proxy left out: %s", what)
}

func smokescreenBinary() string {
	if p := os.Getenv("BUDNET_SMOKESCREEN"); p != "" {
		return p
	}
	cache := os.Getenv("BUDNET_CACHE")
	if cache == "" {
		cache = "/var/cache/budnet"
	}
	m, _ := filepath.Glob(filepath.Join(cache, "smokescreen-*", "smokescreen"))
	if len(m) == 0 {
		return ""
	}
	return m[len(m)-1]
}

func startSmokescreen(b *testing.B, bin string) benchPeer {
	b.Helper()
	port := freePort(b)
	// No --egress-acl-file: every host is allowed and only its address
	// classifier applies, which --allow-range opens for loopback.
	p := startPeerProc(b, "smokescreen", bin, "--listen-ip", "127.0.0.1", "--listen-port", strconv.Itoa(port),
		"--allow-range", "127.0.0.0/8")
	p.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	waitListening(b, p)
	return benchPeer{name: "smokescreen", addr: p.addr, host: "127.0.0.1", meter: p}
}

// squidConf is a minimal forward proxy: everyone may use it for anything
// (the benchmark's destinations are loopback ports other than 443), nothing
// is cached, one process (-N), logs to /dev/null.
const squidConf = `http_port 127.0.0.1:%d
http_access allow all
cache deny all
cache_mem 8 MB
access_log stdio:/dev/null
cache_log /dev/null
pid_filename none
coredump_dir %s
shutdown_lifetime 0 seconds
max_filedescriptors 32768
`

func startSquid(b *testing.B, bin string) benchPeer {
	b.Helper()
	port := freePort(b)
	dir := b.TempDir()
	_ = os.Chmod(dir, 0o777) // squid drops to its own user
	conf := filepath.Join(dir, "squid.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, squidConf, port, dir), 0o644); err != nil {
		b.Fatal(err)
	}
	p := startPeerProc(b, "squid", bin, "-N", "-f", conf)
	p.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	waitListening(b, p)
	return benchPeer{name: "squid", addr: p.addr, host: "127.0.0.1", meter: p}
}

func startPeerProc(b *testing.B, name, bin string, args ...string) *peerProc {
	b.Helper()
	// Pinned with the gateway's children when BUDNET_EGRESS_BENCH_CHILD_CPUS is set.
	cmd := exec.Command(bin, args...)
	if cpus := os.Getenv("BUDNET_EGRESS_BENCH_CHILD_CPUS"); cpus != "" {
		cmd = exec.Command("taskset", append([]string{"-c", cpus, bin}, args...)...)
	}
	// Without a terminal or a writer these go to /dev/null.
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		b.Fatalf("start %s: %v", name, err)
	}
	p := &peerProc{name: name, cmd: cmd}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return p
}

// freePort finds a loopback port nothing listens on, for a peer that cannot
// report the port it bound.
func freePort(b *testing.B) int {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitListening(b *testing.B, p *peerProc) {
	b.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.Dial("tcp", p.addr)
		if err == nil {
			c.Close()
			// Listening: past any wrapper's exec and the peer's own start-up.
			if err := checkShielded(p.cmd.Process.Pid, p.name); err != nil {
				b.Fatal(err)
			}
			return
		}
		if p.cmd.ProcessState != nil || time.Now().After(deadline) {
			b.Fatalf("%s does not listen on %s: %v", p.name, p.addr, err)
		}
	}
}
