package egress

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/budnet/budnet/internal/egress/verdict"
)

// The keep-alive loop sets no header deadline for a head already whole in
// its buffer, and leaves the idle deadline in place for a body-less request
// (serveRequests). These tests try to get past the deadlines that remain.

// keepAliveProxy starts an origin echoing method, path and body, and a
// gateway with short header and idle timeouts in front of it.
func keepAliveProxy(t *testing.T, header, idle time.Duration) (env *proxyEnv, c net.Conn, br *bufio.Reader, port uint16) {
	t.Helper()
	port = startOrigin(t, &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s body=%q", r.Method, r.URL.Path, b)
	})})
	res := newResolver(map[string][]string{"plain.example": {"127.0.0.1"}})
	env = startProxy(t, proxyOpts{spec: baseSpec(port, testGuardDenied()), resolver: res,
		cfg: Config{HeaderTimeout: header, IdleTimeout: idle}})
	c, err := net.Dial("tcp", env.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return env, c, bufio.NewReader(c), port
}

func readStatusBody(t *testing.T, br *bufio.Reader) (int, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

// TestKeepAliveSlowHead drips the second request's head on a keep-alive
// connection: the header timeout still applies to a head that is not whole
// in the buffer when its first byte arrives.
func TestKeepAliveSlowHead(t *testing.T) {
	env, c, br, port := keepAliveProxy(t, 200*time.Millisecond, time.Minute)
	if _, err := fmt.Fprintf(c, "GET http://plain.example:%d/one HTTP/1.1\r\nHost: plain.example:%d\r\n\r\n", port, port); err != nil {
		t.Fatal(err)
	}
	if code, body := readStatusBody(t, br); code != 200 || body != `GET /one body=""` {
		t.Fatalf("first request: %d %q", code, body)
	}
	head := fmt.Sprintf("GET http://plain.example:%d/two HTTP/1.1\r\nX-Slow: ", port)
	start := time.Now()
	for i := 0; i < len(head) && time.Since(start) < 3*time.Second; i++ {
		if _, err := io.WriteString(c, head[i:i+1]); err != nil {
			break // the gateway gave up on us: what we want
		}
		time.Sleep(25 * time.Millisecond)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	code, _ := readStatusBody(t, br)
	if code != http.StatusRequestTimeout {
		t.Fatalf("dripped keep-alive head got %d, want 408; audit %v", code, env.audit.lines(t))
	}
	found := false
	for _, l := range env.audit.lines(t) {
		found = found || l[AuditReason] == verdict.ReasonHeaderTimeout.String()
	}
	if !found {
		t.Fatalf("no header_timeout audit line: %v", env.audit.lines(t))
	}
}

// TestKeepAliveBufferedHeads sends requests whose heads arrive whole
// (pipelined, so the second is in the buffer before the first is answered),
// then one whose body follows its head after longer than the header
// timeout: no header deadline may be left on the body's read. (The idle
// timeout bounds each exchange with the origin, body included, so it is not
// what this test can vary.)
func TestKeepAliveBufferedHeads(t *testing.T) {
	_, c, br, port := keepAliveProxy(t, 100*time.Millisecond, 5*time.Second)
	req := func(method, path, extra string) string {
		return fmt.Sprintf("%s http://plain.example:%d%s HTTP/1.1\r\nHost: plain.example:%d\r\n%s\r\n", method, port, path, port, extra)
	}
	if _, err := io.WriteString(c, req("GET", "/a", "")+req("GET", "/b", "")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`GET /a body=""`, `GET /b body=""`} {
		if code, body := readStatusBody(t, br); code != 200 || body != want {
			t.Fatalf("pipelined: %d %q, want %q", code, body, want)
		}
	}
	// The head of a POST arrives whole behind a GET; its body comes late.
	if _, err := io.WriteString(c, req("GET", "/c", "")+req("POST", "/d", "Content-Length: 5\r\n")); err != nil {
		t.Fatal(err)
	}
	if code, body := readStatusBody(t, br); code != 200 || body != `GET /c body=""` {
		t.Fatalf("before the late body: %d %q", code, body)
	}
	time.Sleep(400 * time.Millisecond)
	if _, err := io.WriteString(c, "hello"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if code, body := readStatusBody(t, br); code != 200 || body != `POST /d body="hello"` {
		t.Fatalf("late body: %d %q", code, body)
	}
}

// TestRequestHeadReuse parses heads one after another into one requestHead,
// as a keep-alive connection does, and compares each with a fresh parse: the
// reused header map and value slices must carry nothing over, and a repeated
// field must not overwrite the field after it.
func TestRequestHeadReuse(t *testing.T) {
	heads := []struct {
		name string
		raw  string
	}{
		{name: "three fields", raw: "GET http://a.example/ HTTP/1.1\r\nHost: a.example\r\nAccept: */*\r\nX-One: 1\r\n\r\n"},
		{name: "repeated field between others", raw: "GET http://a.example/ HTTP/1.1\r\nX-A: 1\r\nX-B: 2\r\nX-A: 3\r\nX-C: 4\r\nX-A: 5\r\n\r\n"},
		{name: "fewer fields", raw: "GET http://b.example/ HTTP/1.0\r\nX-B: only\r\n\r\n"},
		{name: "no fields", raw: "CONNECT c.example:443 HTTP/1.1\r\n\r\n"},
		{name: "bad after good", raw: "GET http://a.example/ HTTP/1.1\r\nX-A: 1\r\n bad fold\r\n\r\n"},
		{name: "good after bad", raw: "POST http://a.example/ HTTP/1.1\r\nContent-Length: 2\r\nX-A: 9\r\nX-A: 8\r\n\r\n"},
	}
	checkReuse(t, func(yield func(string, string)) {
		for _, h := range heads {
			yield(h.name, h.raw)
		}
	})
}

func checkReuse(t *testing.T, each func(func(name, raw string))) {
	t.Helper()
	var reused requestHead
	each(func(name, raw string) {
		fresh, ferr := parseRaw(raw, 4096)
		br, lim := newHeadReader(strings.NewReader(raw), 4096)
		got, err := readRequestHeadInto(br, &reused)
		lim.limited = false
		if (err == nil) != (ferr == nil) {
			t.Fatalf("%s: reused parse error %v, fresh %v", name, err, ferr)
		}
		if err != nil {
			return
		}
		if got.Method != fresh.Method || got.Target != fresh.Target || got.Proto != fresh.Proto ||
			got.Host != fresh.Host || got.HostHeader != fresh.HostHeader || !reflect.DeepEqual(got.Header, fresh.Header) {
			t.Fatalf("%s: reused parse %+v differs from fresh %+v", name, got, fresh)
		}
		// Add to a value slice as buildOutgoingInto's callers may: it must
		// not write into the next field's value.
		for k, saved := range got.Header {
			got.Header[k] = append(saved, "appended")
			for k2, want := range fresh.Header {
				if k2 != k && !slices.Equal(got.Header[k2], want) {
					t.Fatalf("%s: appending to %s changed %s: %q, want %q", name, k, k2, got.Header[k2], want)
				}
			}
			got.Header[k] = saved
		}
	})
}

// FuzzRequestHeadReuse: any sequence of two heads parsed into one
// requestHead gives what fresh parses give.
func FuzzRequestHeadReuse(f *testing.F) {
	f.Add("GET http://a.example/ HTTP/1.1\r\nX-A: 1\r\nX-B: 2\r\n\r\n", "GET http://a.example/ HTTP/1.1\r\nX-B: 3\r\nX-B: 4\r\nX-C: 5\r\n\r\n")
	f.Add("CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n", "GET http://a.example/ HTTP/1.1\r\n\r\n")
	f.Fuzz(func(t *testing.T, a, b string) {
		checkReuse(t, func(yield func(string, string)) {
			yield("first", a)
			yield("second", b)
		})
	})
}
