package egress

import (
	"bufio"
	"errors"
	"net/textproto"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/egress/verdict"
)

func parseRaw(raw string, limit int) (*requestHead, error) {
	br, lim := newHeadReader(strings.NewReader(raw), limit)
	h, err := readRequestHead(br)
	lim.limited = false
	return h, err
}

func TestReadRequestHead(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		method  string
		host    string
		wantErr error
	}{
		{name: "connect", raw: "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n", method: "CONNECT", host: "a.example:443"},
		{name: "bare lf", raw: "GET http://a.example/ HTTP/1.0\n\n", method: "GET"},
		{name: "two host headers", raw: "GET http://a.example/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", wantErr: errBadRequest},
		{name: "double space", raw: "GET  http://a.example/ HTTP/1.1\r\n\r\n", wantErr: errBadRequest},
		{name: "http/2", raw: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", wantErr: errBadRequest},
		{name: "bad method", raw: "G(T http://a/ HTTP/1.1\r\n\r\n", wantErr: errBadRequest},
		{name: "folded header", raw: "GET http://a/ HTTP/1.1\r\nX: a\r\n b\r\n\r\n", wantErr: errBadRequest},
		{name: "bad header name", raw: "GET http://a/ HTTP/1.1\r\nX Y: a\r\n\r\n", wantErr: errBadRequest},
		{name: "too large", raw: "GET http://a/ HTTP/1.1\r\nX: " + strings.Repeat("a", 2000) + "\r\n\r\n", wantErr: errHeaderTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := parseRaw(tc.raw, 1024)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || h.Method != tc.method || h.Host != tc.host {
				t.Fatalf("got %+v, %v", h, err)
			}
		})
	}
}

func TestParseContentLength(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want int64
		ok   bool
	}{
		{name: "one", in: []string{"5"}, want: 5, ok: true},
		{name: "repeated equal", in: []string{"5", "5"}, want: 5, ok: true},
		{name: "list equal", in: []string{"5, 5"}, want: 5, ok: true},
		{name: "conflict", in: []string{"5", "6"}},
		{name: "sign", in: []string{"+5"}},
		{name: "negative", in: []string{"-1"}},
		{name: "leading zero", in: []string{"05"}},
		{name: "junk", in: []string{"5x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := parseContentLength(tc.in)
			if (err == nil) != tc.ok || (tc.ok && n != tc.want) {
				t.Fatalf("got %d %v", n, err)
			}
		})
	}
}

func TestReasonNames(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range verdict.Reasons() {
		s := r.String()
		if s == "" || strings.HasPrefix(s, "reason(") || seen[s] {
			t.Fatalf("reason %d has bad or duplicate name %q", r, s)
		}
		seen[s] = true
	}
}

// FuzzRequestHead feeds arbitrary bytes to the head parser and the target
// checks that follow it: no panics, and whatever parses is well-formed.
func FuzzRequestHead(f *testing.F) {
	for _, s := range []string{
		"CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\n\r\n",
		"GET http://a.example/x?y HTTP/1.1\r\nHost: a.example\r\nContent-Length: 3\r\n\r\nabc",
		"POST http://a.example/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
		"CONNECT [::ffff:127.0.0.1]:443 HTTP/1.1\r\n\r\n",
		"CONNECT 0x7f.1:443 HTTP/1.0\r\nHost: x\r\n\r\n",
		"GET http://u:p@a.example/ HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		h, err := parseRaw(raw, 4096)
		if err != nil {
			return
		}
		if !validMethod(h.Method) || strings.ContainsAny(h.Target, " \r\n\t") || (h.Proto != "HTTP/1.1" && h.Proto != "HTTP/1.0") {
			t.Fatalf("accepted malformed head %+v", h)
		}
		if h.Method == "CONNECT" {
			hostHeaderAgrees(h, h.Target, 0)
			return
		}
		u, authority, reason := parseAbsoluteTarget(h)
		if reason != verdict.ReasonNone {
			return
		}
		if u.Host == "" || authority == "" {
			t.Fatalf("absolute target without host: %q", h.Target)
		}
		hostHeaderAgrees(h, authority, 80)
		_, _ = buildOutgoing(h, u, bufio.NewReader(strings.NewReader("")))
	})
}

// TestNotForwardedCoversHopHeaders keeps buildOutgoing's switch and the
// hop-by-hop list used on responses from drifting apart.
func TestNotForwardedCoversHopHeaders(t *testing.T) {
	for _, h := range append(append([]string(nil), hopHeaders...), "Host", "Content-Length") {
		if !notForwarded(h) {
			t.Errorf("%s would be forwarded upstream", h)
		}
	}
	for _, h := range hopHeaders {
		// exchange deletes them from the response with delete(), not Del.
		if c := textproto.CanonicalMIMEHeaderKey(h); c != h {
			t.Errorf("hop-by-hop header %q is not canonical (%q): delete() would miss it", h, c)
		}
	}
	for _, h := range []string{"Accept", "User-Agent", "Cookie", "Authorization", "X-Forwarded-For"} {
		if notForwarded(h) {
			t.Errorf("%s would be dropped", h)
		}
	}
}
