package egress

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/budnet/budnet/internal/egress/verdict"
)

// TestHostile sends requests an attacker inside the cluster would try and
// checks each is refused with the expected reason, both in the response and in
// the audit line. The proxy runs with the production guard: nothing here needs
// to reach an upstream.
func TestHostile(t *testing.T) {
	res := newResolver(map[string][]string{
		"private.example":   {"10.1.2.3"},
		"metadata.example":  {"169.254.169.254"},
		"mixed.example":     {"8.8.8.8", "10.0.0.1"},
		"nat64.example":     {"64:ff9b::a9fe:a9fe"},
		"mapped.example":    {"::ffff:10.0.0.1"},
		"loopback6.example": {"::1"},
		"api.openai.com":    {"8.8.8.8"},
	})
	env := startProxy(t, proxyOpts{
		spec:     baseSpec(443, nil),
		cfg:      Config{HeaderTimeout: 300 * time.Millisecond, MaxHeaderBytes: 4096},
		resolver: res,
	})
	connect := func(a string) string { return "CONNECT " + a + " HTTP/1.1\r\nHost: " + a + "\r\n\r\n" }
	stranger := netip.MustParseAddr("127.0.0.2")
	tests := []struct {
		name      string
		raw       string
		requested string
		from      netip.Addr
		want      verdict.Reason
		status    int
	}{
		{name: "loopback literal", raw: connect("127.0.0.1:443"), want: verdict.ReasonDeniedAddress},
		{name: "metadata literal", raw: connect("169.254.169.254:80"), want: verdict.ReasonDeniedAddress},
		{name: "aws metadata ipv6", raw: connect("[fd00:ec2::254]:80"), want: verdict.ReasonDeniedAddress},
		{name: "oracle metadata", raw: connect("192.0.0.192:80"), want: verdict.ReasonDeniedAddress},
		{name: "rfc1918 10/8", raw: connect("10.0.0.1:443"), want: verdict.ReasonDeniedAddress},
		{name: "rfc1918 172.16/12", raw: connect("172.16.5.4:443"), want: verdict.ReasonDeniedAddress},
		{name: "rfc1918 192.168/16", raw: connect("192.168.1.1:443"), want: verdict.ReasonDeniedAddress},
		{name: "cgnat", raw: connect("100.64.0.1:443"), want: verdict.ReasonDeniedAddress},
		{name: "this network", raw: connect("0.1.2.3:443"), want: verdict.ReasonDeniedAddress},
		{name: "unspecified v4", raw: connect("0.0.0.0:443"), want: verdict.ReasonDeniedAddress},
		{name: "benchmarking", raw: connect("198.18.0.1:443"), want: verdict.ReasonDeniedAddress},
		{name: "class e", raw: connect("240.0.0.1:443"), want: verdict.ReasonDeniedAddress},
		{name: "broadcast", raw: connect("255.255.255.255:443"), want: verdict.ReasonDeniedAddress},
		{name: "multicast", raw: connect("224.0.0.251:443"), want: verdict.ReasonDeniedAddress},
		{name: "pod cidr from model", raw: connect("44.0.3.4:443"), want: verdict.ReasonDeniedAddress},
		{name: "ipv4-mapped loopback", raw: connect("[::ffff:127.0.0.1]:443"), want: verdict.ReasonDeniedAddress},
		{name: "ipv4-mapped public", raw: connect("[::ffff:8.8.8.8]:443"), want: verdict.ReasonDeniedAddress},
		{name: "ipv4-compatible", raw: connect("[::127.0.0.1]:443"), want: verdict.ReasonDeniedAddress},
		{name: "ipv4-translated", raw: connect("[::ffff:0:7f00:1]:443"), want: verdict.ReasonDeniedAddress},
		{name: "nat64 embedding metadata", raw: connect("[64:ff9b::a9fe:a9fe]:80"), want: verdict.ReasonDeniedAddress},
		{name: "nat64 local-use", raw: connect("[64:ff9b:1::1]:443"), want: verdict.ReasonDeniedAddress},
		{name: "6to4 embedding loopback", raw: connect("[2002:7f00:1::1]:443"), want: verdict.ReasonDeniedAddress},
		{name: "teredo", raw: connect("[2001::1]:443"), want: verdict.ReasonDeniedAddress},
		{name: "ipv6 loopback", raw: connect("[::1]:443"), want: verdict.ReasonDeniedAddress},
		{name: "ipv6 unspecified", raw: connect("[::]:443"), want: verdict.ReasonDeniedAddress},
		{name: "ipv6 link-local", raw: connect("[fe80::1]:443"), want: verdict.ReasonDeniedAddress},
		{name: "ipv6 unique-local", raw: connect("[fc00::1]:443"), want: verdict.ReasonDeniedAddress},
		{name: "ipv6 zone", raw: connect("[fe80::1%25eth0]:443"), want: verdict.ReasonInvalidHost, status: 400},
		{name: "decimal ipv4", raw: connect("2130706433:443"), requested: "2130706433:443", want: verdict.ReasonDeniedAddress},
		{name: "octal ipv4", raw: connect("0177.0.0.1:443"), want: verdict.ReasonDeniedAddress},
		{name: "hex short ipv4", raw: connect("0x7f.1:443"), want: verdict.ReasonDeniedAddress},
		{name: "hex ipv4", raw: connect("0x7f000001:443"), want: verdict.ReasonDeniedAddress},
		{name: "short ipv4", raw: connect("127.1:443"), want: verdict.ReasonDeniedAddress},
		{name: "decimal metadata", raw: connect("2852039166:80"), want: verdict.ReasonDeniedAddress},
		{name: "octal public is still refused", raw: connect("010.010.010.010:443"), want: verdict.ReasonNonCanonicalIP},
		{name: "hex public is still refused", raw: connect("0x8.0x8.0x8.0x8:443"), want: verdict.ReasonNonCanonicalIP},
		{name: "name to private", raw: connect("private.example:443"), want: verdict.ReasonDeniedAddress},
		{name: "name to metadata", raw: connect("metadata.example:443"), want: verdict.ReasonDeniedAddress},
		{name: "name to mixed answers", raw: connect("mixed.example:443"), want: verdict.ReasonMixedAddresses},
		{name: "name to nat64 metadata", raw: connect("nat64.example:443"), want: verdict.ReasonDeniedAddress},
		{name: "name to mapped private", raw: connect("mapped.example:443"), want: verdict.ReasonDeniedAddress},
		{name: "name to ipv6 loopback", raw: connect("loopback6.example:443"), want: verdict.ReasonDeniedAddress},
		{name: "wildcard lookalike prefix", raw: connect("evil-openai.com:443"), want: verdict.ReasonHostNotAllowed},
		{name: "allowed name as subdomain of evil", raw: connect("openai.com.evil.net:443"), want: verdict.ReasonHostNotAllowed},
		{name: "wildcard does not match apex", raw: connect("openai.com:443"), want: verdict.ReasonHostNotAllowed},
		{name: "port not on the list", raw: connect("api.openai.com:22"), want: verdict.ReasonPortNotAllowed},
		{name: "unidentified caller", raw: connect("api.openai.com:443"), from: stranger, want: verdict.ReasonUnidentified},
		{name: "connect host header mismatch", raw: "CONNECT api.openai.com:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n",
			requested: "api.openai.com:443", want: verdict.ReasonHostMismatch, status: 400},
		{name: "absolute uri vs host header", raw: "GET http://api.openai.com/v1 HTTP/1.1\r\nHost: evil.example\r\n\r\n",
			requested: "api.openai.com:80", want: verdict.ReasonHostMismatch, status: 400},
		{name: "userinfo in authority", raw: connect("user@api.openai.com:443"), want: verdict.ReasonInvalidHost, status: 400},
		{name: "https in absolute form", raw: "GET https://api.openai.com/ HTTP/1.1\r\nHost: api.openai.com\r\n\r\n",
			requested: "https://api.openai.com/", want: verdict.ReasonBadRequest, status: 400},
		{name: "origin form is not a proxy request", raw: "GET /latest/meta-data HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n",
			requested: "/latest/meta-data", want: verdict.ReasonMethodNotAllowed, status: 405},
		{name: "smuggling cl and te", raw: "POST http://api.openai.com/ HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
			requested: "api.openai.com:80", want: verdict.ReasonBadRequest, status: 400},
		{name: "http/2 preface refused", raw: connect("api.openai.com:443")[:len("CONNECT api.openai.com:443 ")] + "HTTP/2.0\r\n\r\n",
			requested: "", want: verdict.ReasonBadRequest, status: 400},
		{name: "oversize headers", raw: "CONNECT api.openai.com:443 HTTP/1.1\r\nX-Pad: " + strings.Repeat("a", 8000) + "\r\n\r\n",
			requested: "", want: verdict.ReasonHeaderTooLarge, status: 431},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			from := tc.from
			if !from.IsValid() {
				from = netip.MustParseAddr("127.0.0.1")
			}
			mark := env.audit.count()
			resp := rawExchange(t, env.addr, tc.raw, from)
			status := tc.status
			if status == 0 {
				status = http.StatusForbidden
			}
			if resp.StatusCode != status || resp.Header.Get("X-Budnet-Egress-Reason") != tc.want.String() {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, resp.Header.Get("X-Budnet-Egress-Reason"), status, tc.want)
			}
			requested := tc.requested
			if requested == "" && strings.HasPrefix(tc.raw, "CONNECT ") && tc.want != verdict.ReasonBadRequest && tc.want != verdict.ReasonHeaderTooLarge {
				requested = strings.Fields(tc.raw)[1]
			}
			if requested != "" {
				line := env.audit.waitAuditSince(t, mark, requested)
				if line[AuditDecision] != "deny" || line[AuditReason] != tc.want.String() {
					t.Fatalf("audit line %v, want deny/%s", line, tc.want)
				}
			}
		})
	}
	if n := res.count("api.openai.com"); n != 0 {
		t.Errorf("resolver was asked for api.openai.com %d times, though every request was refused before resolving", n)
	}
}

// TestSlowloris drips a request head slower than the header timeout allows.
func TestSlowloris(t *testing.T) {
	env := startProxy(t, proxyOpts{spec: baseSpec(443, nil), cfg: Config{HeaderTimeout: 200 * time.Millisecond}})
	c, err := net.Dial("tcp", env.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	head := "CONNECT api.openai.com:443 HTTP/1.1\r\nX-Slow: "
	for i := 0; i < 40 && time.Since(start) < 2*time.Second; i++ {
		if _, err := io.WriteString(c, head[:1]); err != nil {
			break // the proxy gave up on us: what we want
		}
		if len(head) > 1 {
			head = head[1:]
		}
		time.Sleep(25 * time.Millisecond)
	}
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	b, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(b), fmt.Sprintf("HTTP/1.1 %d ", http.StatusRequestTimeout)) || !strings.Contains(string(b), verdict.ReasonHeaderTimeout.String()) {
		t.Fatalf("slow client got %q, want 408 %s; audit %v", b, verdict.ReasonHeaderTimeout, env.audit.lines(t))
	}
	found := false
	for _, l := range env.audit.lines(t) {
		found = found || l[AuditReason] == verdict.ReasonHeaderTimeout.String()
	}
	if !found {
		t.Fatalf("no header_timeout audit line: %v", env.audit.lines(t))
	}
}

// TestRefusalNamesAddress: a refused IP literal or non-canonical IPv4
// spelling carries the address it names in the audit line's resolved field,
// whichever check refused it (issue 11 §2): the allowlist (ip_not_allowed),
// the spelling rule (non_canonical_ip) or the guard (denied_address).
func TestRefusalNamesAddress(t *testing.T) {
	spec := baseSpec(443, nil)
	spec.Rules = spec.Rules[:1] // no CIDR rule: every IP literal is ip_not_allowed
	env := startProxy(t, proxyOpts{spec: spec})
	connect := func(a string) string { return "CONNECT " + a + " HTTP/1.1\r\nHost: " + a + "\r\n\r\n" }
	tests := []struct {
		name, raw, requested, resolved string
		want                           verdict.Reason
		status                         int
	}{
		{name: "public ipv4 literal", raw: connect("8.8.8.8:443"), requested: "8.8.8.8:443", resolved: "8.8.8.8:443", want: verdict.ReasonIPNotAllowed},
		{name: "public ipv6 literal", raw: connect("[2001:4860:4860::8888]:443"), requested: "[2001:4860:4860::8888]:443",
			resolved: "[2001:4860:4860::8888]:443", want: verdict.ReasonIPNotAllowed},
		{name: "metadata literal", raw: connect("169.254.169.254:80"), requested: "169.254.169.254:80", resolved: "169.254.169.254:80", want: verdict.ReasonIPNotAllowed},
		{name: "plain http to a literal", raw: "GET http://8.8.4.4/ HTTP/1.1\r\nHost: 8.8.4.4\r\n\r\n", requested: "8.8.4.4:80",
			resolved: "8.8.4.4:80", want: verdict.ReasonIPNotAllowed},
		{name: "octal public", raw: connect("010.010.010.010:443"), requested: "010.010.010.010:443", resolved: "8.8.8.8:443",
			want: verdict.ReasonNonCanonicalIP},
		{name: "hex public", raw: connect("0x8.0x8.0x8.0x8:8443"), requested: "0x8.0x8.0x8.0x8:8443", resolved: "8.8.8.8:8443",
			want: verdict.ReasonNonCanonicalIP},
		{name: "decimal loopback", raw: connect("2130706433:443"), requested: "2130706433:443", resolved: "127.0.0.1:443",
			want: verdict.ReasonDeniedAddress},
		{name: "short metadata over plain http", raw: "GET http://169.254.43518/ HTTP/1.1\r\nHost: 169.254.43518\r\n\r\n",
			requested: "169.254.43518:80", resolved: "169.254.169.254:80", want: verdict.ReasonDeniedAddress},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mark := env.audit.count()
			resp := rawExchange(t, env.addr, tc.raw, netip.Addr{})
			if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Budnet-Egress-Reason") != tc.want.String() {
				t.Fatalf("got %d %q, want 403 %q", resp.StatusCode, resp.Header.Get("X-Budnet-Egress-Reason"), tc.want)
			}
			line := env.audit.waitAuditSince(t, mark, tc.requested)
			if line[AuditReason] != tc.want.String() || line[AuditResolved] != tc.resolved {
				t.Fatalf("audit line %v, want reason %s and resolved %s", line, tc.want, tc.resolved)
			}
		})
	}
}

// TestUnsolicitedSwitchingProtocols: an origin that answers a request without
// Upgrade with 101 (and then talks another protocol) breaks HTTP; the gateway
// answers 502 with its own reason, relays none of the origin's bytes, and
// does not send the request again, even on a reused upstream connection.
func TestUnsolicitedSwitchingProtocols(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var requests atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					requests.Add(1)
					if req.URL.Path == "/ok" {
						io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
						continue
					}
					io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nSECRET-FRAME")
					return
				}
			}()
		}
	}()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	env, c, br := dialPlainProxy(t, port)
	get := func(path string) *http.Response {
		t.Helper()
		fmt.Fprintf(c, "GET http://plain.example:%d%s HTTP/1.1\r\nHost: plain.example:%d\r\n\r\n", port, path, port)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("read response: %v", err)
		}
		return resp
	}
	// First a normal exchange, so the second request goes on a reused upstream.
	warm := get("/ok")
	if b, _ := io.ReadAll(warm.Body); warm.StatusCode != 200 || string(b) != "ok" {
		t.Fatalf("warm-up: %s %q", warm.Status, b)
	}
	env.audit.waitAudit(t, fmt.Sprintf("plain.example:%d", port)) // the warm-up's line, written after its answer
	mark := env.audit.count()
	resp := get("/switch")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadGateway || resp.Header.Get("X-Budnet-Egress-Reason") != verdict.ReasonUpstreamProtocol.String() {
		t.Fatalf("got %s %q, want 502 %s", resp.Status, resp.Header.Get("X-Budnet-Egress-Reason"), verdict.ReasonUpstreamProtocol)
	}
	if strings.Contains(string(body), "SECRET") {
		t.Fatalf("origin bytes after its 101 reached the client: %q", body)
	}
	line := env.audit.waitAuditSince(t, mark, fmt.Sprintf("plain.example:%d", port))
	if line[AuditReason] != verdict.ReasonUpstreamProtocol.String() || line[AuditDecision] != "deny" {
		t.Fatalf("audit line %v, want deny/%s", line, verdict.ReasonUpstreamProtocol)
	}
	if n := requests.Load(); n != 2 {
		t.Fatalf("origin got %d requests, want 2: a 101 must not be retried", n)
	}
}
