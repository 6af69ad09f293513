package egress

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/budnet/budnet/internal/egress/allowlist"
	"github.com/budnet/budnet/internal/egress/verdict"
)

// startDigestOrigin accepts connections; for each it reads to EOF, then
// writes back the SHA-256 of what it read followed by reply bytes, and
// closes. A tunnel that drops, reorders or duplicates a byte in either
// direction, or loses a half-close, fails the exchange.
func startDigestOrigin(t *testing.T, reply []byte) uint16 {
	t.Helper()
	return startRawOrigin(t, func(c net.Conn) {
		h := sha256.New()
		if _, err := io.Copy(h, c); err != nil {
			return
		}
		_, _ = c.Write(h.Sum(nil))
		_, _ = c.Write(reply)
	}).Port()
}

// startRawOrigin serves every connection on a loopback port with serve, in
// its own goroutine, until the test ends.
func startRawOrigin(t *testing.T, serve func(net.Conn)) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go acceptEach(ln, serve)
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestRelayModes runs the same tunnels through every relay a gateway can
// use: splice, copy, and copy with a single buffer, where concurrent tunnels
// find it held and splice some bursts instead, mixing both relays within one
// direction. Each tunnel sends megabytes each way with a half-close between,
// and the byte counts in the audit line must be exact.
func TestRelayModes(t *testing.T) {
	const upload, download = 5<<20 + 17, 3<<20 + 5
	reply := randomBytes(1, download)
	port := startDigestOrigin(t, reply)
	res := newResolver(map[string][]string{"relay.example": {"127.0.0.1"}})
	authority := "relay.example:" + strconv.Itoa(int(port))
	for _, tc := range []struct {
		name    string
		relay   RelayMode
		buffers int
	}{
		{"splice", RelaySplice, 0},
		{"copy", RelayCopy, 64},
		{"default", "", 0},
		{"copy-one-buffer", RelayCopy, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := baseSpec(port, testGuardDenied())
			spec.Rules[0].Hosts = append(spec.Rules[0].Hosts, "relay.example")
			m, err := NewPromMetrics(prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			env := startProxy(t, proxyOpts{spec: spec, resolver: res, metrics: m, cfg: Config{Relay: tc.relay, CopyBuffers: tc.buffers}})
			var wg sync.WaitGroup
			errs := make(chan error, 4)
			for i := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- exchangeThrough(t, env.addr, authority, randomBytes(uint64(10+i), upload), reply)
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			// The gateway writes a tunnel's line once both directions end,
			// which may be after the client has read its last byte.
			var lines []map[string]any
			for deadline := time.Now().Add(5 * time.Second); len(lines) < 4 && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				lines = env.audit.lines(t)
			}
			if len(lines) != 4 {
				t.Fatalf("%d audit lines for 4 tunnels: %v", len(lines), lines)
			}
			for _, line := range lines {
				// JSON numbers decode as float64; the sizes are exact in one.
				if line[AuditDecision] != verdict.Allow.String() || line[AuditSent] != float64(upload) || line[AuditReceived] != float64(sha256.Size+download) {
					t.Errorf("audit line %v: want %d bytes sent, %d received", line, upload, sha256.Size+download)
				}
			}
			// budnet_egress_relay_bursts_total says which relay moved the bytes.
			copied := testutil.ToFloat64(m.relay.WithLabelValues(string(RelayCopy)))
			spliced := testutil.ToFloat64(m.relay.WithLabelValues(string(RelaySplice)))
			if tc.relay == RelaySplice && (copied != 0 || spliced == 0) || tc.relay != RelaySplice && copied == 0 || tc.buffers == 64 && spliced != 0 {
				t.Errorf("relay bursts: %v copied, %v spliced", copied, spliced)
			}
			if bp := env.srv.relay.bufs; bp != nil {
				made := tc.buffers - int(bp.left.Load())
				if tc.buffers == 0 {
					made = runtime.GOMAXPROCS(0) - int(bp.left.Load())
				}
				if made == 0 || len(bp.free) != made {
					t.Errorf("copy buffers: %d made, %d back in the pool after every tunnel closed", made, len(bp.free))
				}
			}
		})
	}
}

// exchangeThrough opens a tunnel, sends up and half-closes, then reads the
// origin's digest of what it received and its reply.
func exchangeThrough(t *testing.T, proxy, authority string, up, wantReply []byte) error {
	c, resp := connectVia(t, proxy, authority, "")
	defer c.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("CONNECT %s: %d", authority, resp.StatusCode)
	}
	go func() {
		_, _ = c.Write(up)
		_ = c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		return fmt.Errorf("read through the tunnel: %w", err)
	}
	sum := sha256.Sum256(up)
	if len(got) < sha256.Size || !bytes.Equal(got[:sha256.Size], sum[:]) {
		return fmt.Errorf("origin received other bytes than were sent (%d bytes back)", len(got))
	}
	if !bytes.Equal(got[sha256.Size:], wantReply) {
		return fmt.Errorf("client received %d reply bytes, not the origin's %d", len(got)-sha256.Size, len(wantReply))
	}
	return nil
}

// TestRelayIdleHoldsNothing: a tunnel that has moved bytes and gone idle
// holds no copy buffer, and the idle timeout still closes it.
func TestRelayIdleHoldsNothing(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("copy buffers are the Linux relay's")
	}
	port := startRawOrigin(t, func(c net.Conn) { _, _ = io.Copy(c, c) }).Port() // echo
	spec := baseSpec(port, testGuardDenied())
	spec.Rules[0].Hosts = append(spec.Rules[0].Hosts, "relay.example")
	res := newResolver(map[string][]string{"relay.example": {"127.0.0.1"}})
	const idle = 400 * time.Millisecond
	env := startProxy(t, proxyOpts{spec: spec, resolver: res, cfg: Config{Relay: RelayCopy, CopyBuffers: 2, IdleTimeout: idle}})
	c, resp := connectVia(t, env.addr, "relay.example:"+strconv.Itoa(int(port)), "")
	defer c.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %d", resp.StatusCode)
	}
	msg := randomBytes(2, 300<<10)
	go func() { _, _ = c.Write(msg) }()
	back := make([]byte, len(msg))
	if _, err := io.ReadFull(c, back); err != nil || !bytes.Equal(back, msg) {
		t.Fatalf("echo through the tunnel: %v", err)
	}
	bp := env.srv.relay.bufs
	if made := 2 - int(bp.left.Load()); made == 0 {
		t.Fatal("the copy relay made no buffer: the tunnel did not copy")
	}
	// Both pumps park waiting for bytes, and every buffer goes back. A pump
	// returns its buffer just after its write, which may be after the echo
	// arrived here, so allow it a moment.
	held := func() int { return 2 - int(bp.left.Load()) - len(bp.free) }
	for deadline := time.Now().Add(2 * time.Second); held() != 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if n := held(); n != 0 {
		t.Fatalf("idle tunnel holds %d copy buffers", n)
	}
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("idle tunnel: read %d bytes, %v; want EOF when the idle timeout closes it", n, err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("idle timeout of %s closed the tunnel after %s", idle, waited)
	}
}

func TestConfigRelay(t *testing.T) {
	if err := (Config{Relay: "zero-copy"}).Validate(); err == nil || !bytes.Contains([]byte(err.Error()), []byte(`relay must be "copy" or "splice", got "zero-copy"`)) {
		t.Fatalf("unknown relay: %v", err)
	}
	if err := (Config{Relay: RelayCopy, CopyBuffers: -1}).Validate(); err == nil {
		t.Fatal("negative copy buffers accepted")
	}
	if got := (Config{}).withDefaults(); got.Relay != RelayCopy || got.CopyBuffers != runtime.GOMAXPROCS(0) {
		t.Fatalf("defaults: relay %q, %d copy buffers", got.Relay, got.CopyBuffers)
	}
}

// TestRelayStalledReaderCannotStarveOthers: a client that stops reading a
// download keeps the gateway's write to it blocked, holding whatever the
// burst took. With the only copy buffer held that way, other tunnels must
// still move their bytes (their bursts splice), and the gateway's memory
// stays bounded by --relay-copy-buffers.
func TestRelayStalledReaderCannotStarveOthers(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("copy buffers are the Linux relay's")
	}
	// The stalled tunnel's origin floods; the other tunnel's origin digests.
	chunk := randomBytes(3, 1<<20)
	flood := startRawOrigin(t, func(c net.Conn) {
		for {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	})
	floodPort := flood.Port()
	reply := randomBytes(4, 2<<20)
	digestPort := startDigestOrigin(t, reply)
	spec := baseSpec(floodPort, testGuardDenied())
	spec.Rules[0].Ports = append(spec.Rules[0].Ports, allowlist.PortRange{From: digestPort, To: digestPort})
	spec.Rules[0].Hosts = append(spec.Rules[0].Hosts, "relay.example", "sink.example")
	res := newResolver(map[string][]string{"relay.example": {"127.0.0.1"}, "sink.example": {"127.0.0.1"}})
	env := startProxy(t, proxyOpts{spec: spec, resolver: res, cfg: Config{Relay: RelayCopy, CopyBuffers: 1}})

	// openDownload reads the CONNECT answer a byte at a time: the flood
	// follows it at once.
	stalled := openDownload(t, env.addr, flood)
	defer stalled.Close()
	// Read a little so the download is under way, then never again: the
	// gateway's write to this client blocks once the socket buffers fill.
	if _, err := io.ReadFull(stalled, make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	bp := env.srv.relay.bufs
	for deadline := time.Now().Add(5 * time.Second); !(bp.left.Load() == 0 && len(bp.free) == 0) && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if bp.left.Load() != 0 || len(bp.free) != 0 {
		t.Fatalf("the stalled download does not hold the only copy buffer (%d unmade, %d free): the test does not test the fallback", bp.left.Load(), len(bp.free))
	}
	done := make(chan error, 1)
	go func() {
		done <- exchangeThrough(t, env.addr, "relay.example:"+strconv.Itoa(int(digestPort)), randomBytes(5, 3<<20), reply)
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a tunnel waited for the copy buffer a stalled reader holds")
	}
	if made := 1 - int(bp.left.Load()); made != 1 {
		t.Fatalf("%d copy buffers made, bound is 1", made)
	}
}
