package egress

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"testing"
)

// startSource accepts connections and writes to each until the reader goes
// away: the origin of a download.
func startSource(tb testing.TB) netip.AddrPort {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	buf := make([]byte, streamChunk) // only read from: shared by all writers
	go acceptEach(ln, func(c net.Conn) {
		for {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	})
	tb.Cleanup(func() { ln.Close() })
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

// openDownload opens a tunnel to the source and reads the CONNECT answer a
// byte at a time, so none of the source's bytes behind it are consumed.
func openDownload(tb testing.TB, proxy string, src netip.AddrPort) net.Conn {
	c, err := net.Dial("tcp", proxy)
	if err != nil {
		tb.Fatal(err)
	}
	authority := net.JoinHostPort("sink.example", strconv.Itoa(int(src.Port())))
	if _, err := io.WriteString(c, "CONNECT "+authority+" HTTP/1.1\r\nHost: "+authority+"\r\n\r\n"); err != nil {
		tb.Fatal(err)
	}
	var head []byte
	var one [1]byte
	for !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
		if _, err := c.Read(one[:]); err != nil || len(head) > 512 {
			tb.Fatalf("CONNECT answer %q: %v", head, err)
		}
		head = append(head, one[0])
	}
	if !connectOK(head) {
		tb.Fatalf("CONNECT answer %q", head)
	}
	return c
}

// BenchmarkRelay compares the gateway's relays, each in its own process:
// "splice" (--relay=splice: splice(2) through a pooled pipe), "copy" (every
// busy tunnel reads and writes through a pooled CopyBufferSize buffer) and
// "default" (--relay=copy with one buffer per CPU: the first busy tunnels
// copy, the rest splice), per
// direction ("up": the client sends, as in BenchmarkThroughput; "down": the
// origin sends and the client reads) over 1 and 16 tunnels. Run it with the
// gateway pinned to a core of its own too:
//
//	BUDNET_EGRESS_BENCH_CHILD_CPUS=1 taskset -c 0 go test ./internal/egress/ -run '^$' -bench Relay
func BenchmarkRelay(b *testing.B) {
	sink, src := startSink(b), startSource(b)
	relays := []string{"splice", "copy", "default"}
	addrs, meters := map[string]string{}, map[string]cpuMeter{}
	addrs["splice"], meters["splice"] = benchProxy(b, "proxy-splice", sink.Port(), src.Port())
	addrs["copy"], meters["copy"] = benchProxy(b, "proxy-copy", sink.Port(), src.Port())
	addrs["default"], meters["default"] = benchProxy(b, "process", sink.Port(), src.Port())
	for _, dir := range []string{"up", "down"} {
		for _, streams := range []int{1, 16} {
			for _, relay := range relays {
				b.Run(fmt.Sprintf("%s/streams=%d/%s", dir, streams, relay), func(b *testing.B) {
					target := sink
					if dir == "down" {
						target = src
					}
					conns := make([]net.Conn, streams)
					bufs := make([][]byte, streams) // one each: downloads read concurrently
					for i := range conns {
						if dir == "down" {
							conns[i] = openDownload(b, addrs[relay], target)
						} else {
							conns[i] = openStream(b, addrs[relay], "sink.example", target)
						}
						bufs[i] = make([]byte, streamChunk)
					}
					b.SetBytes(streamChunk)
					b.ResetTimer()
					measureProxyCPU(b, meters[relay], func() {
						shareAmong(conns, b.N, func(i int, c net.Conn, n int) {
							if dir == "down" {
								defer c.Close()
								for left := int64(n) * streamChunk; left > 0; {
									m, err := c.Read(bufs[i][:min(left, streamChunk)])
									left -= int64(m)
									if err != nil {
										b.Error(err)
										return
									}
								}
								return
							}
							for j := 0; j < n; j++ {
								if _, err := c.Write(bufs[i]); err != nil {
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
}
