package egress

import (
	"bufio"
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// requestHeadCase builds the upstream request the forwarder would send for
// raw (a client's head in absolute form), or reports false when the gateway
// would refuse raw before sending anything.
func requestHeadCase(raw string) (*http.Request, bool) {
	h, err := parseRaw(raw, 1<<16)
	if err != nil || h.Method == "CONNECT" {
		return nil, false
	}
	u, _, reason := parseAbsoluteTarget(h)
	if reason != 0 {
		return nil, false
	}
	out, err := buildOutgoing(h, u, bufio.NewReader(strings.NewReader("")))
	if err != nil {
		return nil, false
	}
	return out, true
}

// checkRequestHead compares appendRequestHead with Request.Write for out.
// It returns whether appendRequestHead took the request.
func checkRequestHead(t *testing.T, name string, out *http.Request) bool {
	t.Helper()
	got, _, ok := appendRequestHead(nil, out, nil)
	var want bytes.Buffer
	err := out.Write(&want)
	if !ok {
		return false
	}
	if err != nil {
		t.Fatalf("%s: appendRequestHead wrote %q where Request.Write fails: %v", name, got, err)
	}
	if string(got) != want.String() {
		t.Fatalf("%s: appendRequestHead wrote\n%q\nRequest.Write writes\n%q", name, got, want.String())
	}
	return true
}

func TestRequestHeadMatchesNetHTTP(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		fast bool // whether appendRequestHead must take it (else Request.Write does)
	}{
		{name: "bare get", raw: "GET http://a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n", fast: true},
		{name: "browser-like get", raw: "GET http://a.example:8080/p/a%20th?q=1&r=%2F HTTP/1.1\r\nHost: a.example:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\nAccept-Encoding: gzip\r\nCookie: a=1\r\nCookie: b=2\r\nX-Empty:\r\n\r\n", fast: true},
		{name: "head", raw: "HEAD http://a.example HTTP/1.1\r\nAccept:  spaced \t\r\n\r\n", fast: true},
		{name: "http/1.0 keep-alive", raw: "GET http://a.example/ HTTP/1.0\r\nProxy-Connection: keep-alive\r\n\r\n", fast: true},
		{name: "empty user agent", raw: "GET http://a.example/ HTTP/1.1\r\nUser-Agent:\r\n\r\n", fast: true},
		{name: "hop-by-hop and connection-listed", raw: "GET http://a.example/ HTTP/1.1\r\nConnection: X-Secret, keep-alive\r\nX-Secret: 1\r\nKeep-Alive: 5\r\nTe: trailers\r\nProxy-Authorization: Basic x\r\nX-Kept: 2\r\n\r\n", fast: true},
		{name: "ipv6 host", raw: "GET http://[2001:db8::1]:8080/ HTTP/1.1\r\n\r\n", fast: true},
		{name: "odd path bytes", raw: "GET http://a.example/%C3%A9/;p/%2f?a=%zz&b=%00 HTTP/1.1\r\n\r\n", fast: true},
		{name: "http/1.0 closes", raw: "GET http://a.example/ HTTP/1.0\r\n\r\n"},
		{name: "delete", raw: "DELETE http://a.example/x HTTP/1.1\r\n\r\n"},
		{name: "post with body", raw: "POST http://a.example/ HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"},
		{name: "get with body", raw: "GET http://a.example/ HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"},
		{name: "chunked", raw: "PUT http://a.example/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{name: "zone in host", raw: "GET http://[fe80::1%25eth0]/ HTTP/1.1\r\n\r\n"},
	}
	for _, tt := range tests {
		out, ok := requestHeadCase(tt.raw)
		if !ok {
			t.Fatalf("%s: the gateway would refuse this head", tt.name)
		}
		if fast := checkRequestHead(t, tt.name, out); fast != tt.fast {
			t.Errorf("%s: appendRequestHead took it: %v, want %v", tt.name, fast, tt.fast)
		}
	}
	// Shapes buildOutgoing does not produce today, so that a change there
	// cannot make appendRequestHead write what Request.Write would not.
	direct := []struct {
		name string
		req  *http.Request
	}{
		{name: "non-ascii host", req: &http.Request{Method: "GET", Host: "bücher.example", URL: &url.URL{Path: "/"}, Header: http.Header{}}},
		{name: "invalid host", req: &http.Request{Method: "GET", Host: "a.example/x y", URL: &url.URL{Path: "/"}, Header: http.Header{}}},
		{name: "no user agent key", req: &http.Request{Method: "GET", Host: "a.example", URL: &url.URL{Path: "/"}, Header: http.Header{"X-A": {"1"}}}},
		{name: "newline in value", req: &http.Request{Method: "GET", Host: "a.example", URL: &url.URL{Path: "/"}, Header: http.Header{"X-A": {" a\r\nb "}, "User-Agent": {"u\nv"}}}},
		{name: "invalid field name", req: &http.Request{Method: "GET", Host: "a.example", URL: &url.URL{Path: "/"}, Header: http.Header{"Bad Name": {"1"}, "X-Ok": {"2"}}}},
		{name: "excluded names", req: &http.Request{Method: "GET", Host: "a.example", URL: &url.URL{Path: "/"}, Header: http.Header{"Host": {"b"}, "Content-Length": {"9"}, "Trailer": {"X"}, "Transfer-Encoding": {"gzip"}}}},
		{name: "control in path", req: &http.Request{Method: "GET", Host: "a.example", URL: &url.URL{Path: "/\x01", RawPath: "/\x01"}, Header: http.Header{}}},
		{name: "opaque", req: &http.Request{Method: "GET", Host: "a.example", URL: &url.URL{Opaque: "//a.example/x"}, Header: http.Header{}}},
		{name: "closing", req: &http.Request{Method: "GET", Host: "a.example", URL: &url.URL{Path: "/"}, Header: http.Header{}, Close: true}},
	}
	for _, tt := range direct {
		checkRequestHead(t, tt.name, tt.req)
	}
}

// FuzzRequestHeadMatchesNetHTTP: for any head the gateway would forward,
// appendRequestHead writes what Request.Write writes, or declines.
func FuzzRequestHeadMatchesNetHTTP(f *testing.F) {
	for _, s := range []string{
		"GET http://a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n",
		"GET http://a.example:8080/p?q=1 HTTP/1.1\r\nUser-Agent: x\r\nAccept: */*\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n",
		"HEAD http://[::1]:80/%41 HTTP/1.0\r\nProxy-Connection: keep-alive\r\nConnection: X-A\r\nX-A: 1\r\n\r\n",
		"POST http://a.example/ HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if out, ok := requestHeadCase(raw); ok {
			checkRequestHead(t, "fuzz", out)
		}
	})
}
