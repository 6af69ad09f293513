package egress

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/budnet/budnet/internal/egress/verdict"
)

// TestIdleFloodDoesNotStarveOthers (issue 11 §2): one source holding every
// connection slot with connections that never send a head, and more queued
// in the listen backlog, must not keep a fresh source waiting for the flood's
// header timeout. The header timeout is an hour, so the fresh source being
// answered at all shows the gateway reclaimed the flood's waiting
// connections; an established tunnel is never reclaimed.
func TestIdleFloodDoesNotStarveOthers(t *testing.T) {
	const limit = 8
	origin := startOrigin(t, &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "origin")
	})})
	res := newResolver(map[string][]string{"plain.example": {"127.0.0.1"}})
	env := startProxy(t, proxyOpts{spec: baseSpec(origin, testGuardDenied()), resolver: res, cfg: Config{
		MaxConnections: limit, MaxConnsPerAddress: limit, MaxTunnels: limit, MaxTunnelsPerSource: limit,
		HeaderTimeout: time.Hour,
	}})
	dialFrom := func(ip string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		c, err := d.Dial("tcp", env.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// A busy connection: an established tunnel from the identified caller.
	tunnel, resp := connectVia(t, env.addr, fmt.Sprintf("plain.example:%d", origin), "")
	defer tunnel.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("tunnel: %s", resp.Status)
	}
	// The flood: the rest of the slots, and as many again waiting in the
	// backlog ahead of the fresh source, none of them ever sending a byte.
	var flood []net.Conn
	for i := 0; i < 4*limit; i++ {
		flood = append(flood, dialFrom("127.0.0.2"))
	}
	mark := env.audit.count()
	fresh := dialFrom("127.0.0.1")
	fmt.Fprintf(fresh, "CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n")
	// Not a timing assertion: without reclaiming, the answer would come after
	// the hour-long header timeout; the deadline only stops a broken run.
	_ = fresh.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, err := http.ReadResponse(bufio.NewReader(fresh), nil)
	if err != nil {
		t.Fatalf("a fresh source was not served while another flooded: %v", err)
	}
	got.Body.Close()
	if got.Header.Get("X-Budnet-Egress-Reason") != verdict.ReasonHostNotAllowed.String() {
		t.Fatalf("fresh source got %s %q, want its own decision (host_not_allowed)", got.Status, got.Header.Get("X-Budnet-Egress-Reason"))
	}
	// The first flood connections were reclaimed with a 408 saying why.
	_ = flood[0].SetReadDeadline(time.Now().Add(30 * time.Second))
	r0, err := http.ReadResponse(bufio.NewReader(flood[0]), nil)
	if err != nil {
		t.Fatalf("oldest flood connection: %v", err)
	}
	r0.Body.Close()
	if r0.StatusCode != http.StatusRequestTimeout || r0.Header.Get("X-Budnet-Egress-Reason") != verdict.ReasonHeaderTimeout.String() {
		t.Fatalf("oldest flood connection got %s %q, want 408 header_timeout", r0.Status, r0.Header.Get("X-Budnet-Egress-Reason"))
	}
	reclaimed := 0
	for _, l := range env.audit.lines(t)[mark:] {
		if l[AuditReason] == verdict.ReasonHeaderTimeout.String() {
			reclaimed++
			if d, _ := l[AuditDetail].(string); !strings.Contains(d, "connection limit") || l[AuditSourceAddr] == nil ||
				!strings.HasPrefix(l[AuditSourceAddr].(string), "127.0.0.2:") {
				t.Errorf("reclaim audit line %v: want the flooding address and a detail naming the connection limit", l)
			}
		}
	}
	if reclaimed == 0 {
		t.Error("no audit line for a reclaimed connection")
	}
	// The tunnel survived the pressure.
	_ = tunnel.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(tunnel, "GET / HTTP/1.1\r\nHost: plain.example\r\n\r\n")
	tr, err := http.ReadResponse(bufio.NewReader(tunnel), nil)
	if err != nil {
		t.Fatalf("the established tunnel was cut: %v", err)
	}
	b, _ := io.ReadAll(tr.Body)
	if string(b) != "origin" {
		t.Fatalf("through the tunnel: %q", b)
	}
}
