package egress

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/budnet/budnet/internal/dnstest"
	"github.com/budnet/budnet/internal/egress/dnscache"
	"github.com/budnet/budnet/internal/egress/guard"
	"github.com/budnet/budnet/internal/egress/nstest"
)

// podResolvConf is what the kubelet writes into a pod with the default
// dnsPolicy (ClusterFirst) in namespace ns: the cluster DNS, three search
// domains and ndots:5, so any name with fewer than five dots is first tried
// with each search domain appended.
// https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/#namespaces-of-services
const podResolvConf = `search ns.svc.cluster.local svc.cluster.local cluster.local
nameserver 127.0.0.1
options ndots:5
`

// The real name's address and the one a hostile record in the cluster zone
// (namespace "com", headless Service "openai", endpoint hostname "api")
// names. Both are public, so the address guard passes either: only how the
// name is resolved decides where the connection goes.
const (
	realAddr   = "162.159.140.245"
	hijackAddr = "93.184.215.14"
)

// TestGatewayResolvesAbsoluteNames is the DNS search-list hijack (issue 11):
// inside its own namespaces it installs a pod's resolv.conf, serves DNS on
// 127.0.0.1:53 answering both api.openai.com and
// api.openai.com.svc.cluster.local, and puts an HTTP server on each address.
// Through the real resolvers (Go's and glibc's) and the DNS cache as serve
// wires them, every spelling of the allowed name must reach the name's own
// address, and the DNS server must never see a suffixed question.
func TestGatewayResolvesAbsoluteNames(t *testing.T) {
	if !nstest.Enter(t, "GODEBUG=netdns=go", "GODEBUG=netdns=cgo") {
		return
	}
	nstest.BindFile(t, "/etc/resolv.conf", podResolvConf)
	nstest.BindFile(t, "/etc/hosts", "127.0.0.1 localhost\n")
	nstest.Loopback(t, realAddr+"/32", hijackAddr+"/32")
	dns := dnstest.StartAt(t, "127.0.0.1:53", map[string][]netip.Addr{
		"api.openai.com":                   {netip.MustParseAddr(realAddr)},
		"api.openai.com.svc.cluster.local": {netip.MustParseAddr(hijackAddr)},
	})
	for _, a := range []string{realAddr, hijackAddr} {
		for _, port := range []string{"80", "443"} {
			startNamedOrigin(t, net.JoinHostPort(a, port), a)
		}
	}
	env := startProxy(t, proxyOpts{
		spec: baseSpec(443, guard.DefaultDenied()),
		// What `egress serve` runs: the system resolver behind the cache.
		wrapResolver: func(Resolver) Resolver { return dnscache.New(net.DefaultResolver, time.Minute, 100) },
	})
	tests := []struct {
		name      string
		authority string // CONNECT authority, or the Host of a plain request
		plain     bool
	}{
		{name: "connect", authority: "api.openai.com:443"},
		{name: "connect, upper case and trailing dot", authority: "API.OPENAI.COM.:443"},
		{name: "connect, trailing dot", authority: "api.openai.com.:443"},
		{name: "plain http", authority: "api.openai.com", plain: true},
		{name: "plain http, upper case and trailing dot", authority: "API.OPENAI.COM.", plain: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mark := env.audit.count()
			var got, requested string
			if tc.plain {
				got = plainGetVia(t, env.addr, tc.authority)
				requested = tc.authority + ":80"
			} else {
				got = connectGetVia(t, env.addr, tc.authority)
				requested = tc.authority
			}
			if got != realAddr {
				t.Errorf("%s reached the server on %s, want the name's own address %s", tc.authority, got, realAddr)
			}
			line := env.audit.waitAuditSince(t, mark, requested)
			if r, _ := line[AuditResolved].(string); !strings.HasPrefix(r, realAddr+":") {
				t.Errorf("audit resolved = %q, want %s:port", r, realAddr)
			}
		})
	}
	names := dns.Names()
	if len(names) == 0 {
		t.Fatal("the DNS server got no question: the test did not exercise the resolver")
	}
	for _, n := range names {
		if n != "api.openai.com." {
			t.Errorf("the DNS server was asked %q; want only the absolute name api.openai.com.", n)
		}
	}
}

// startNamedOrigin serves HTTP on addr until the test ends; every response
// body is id, so a client can tell which server it reached.
func startNamedOrigin(t *testing.T, addr, id string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, id)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
}

// connectGetVia opens a CONNECT tunnel to authority and returns the body of
// one GET through it.
func connectGetVia(t *testing.T, proxy, authority string) string {
	t.Helper()
	c, resp := connectVia(t, proxy, authority, "")
	defer c.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT %s: %s (%s)", authority, resp.Status, resp.Header.Get("X-Budnet-Egress-Reason"))
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", authority)
	return readBody(t, bufio.NewReader(c))
}

// plainGetVia sends one absolute-form GET for http://host/ and returns the body.
func plainGetVia(t *testing.T, proxy, host string) string {
	t.Helper()
	c, err := net.Dial("tcp", proxy)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET http://%s/ HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host, host)
	return readBody(t, bufio.NewReader(c))
}

func readBody(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("response %s (%s): %s", resp.Status, resp.Header.Get("X-Budnet-Egress-Reason"), b)
	}
	return string(b)
}
