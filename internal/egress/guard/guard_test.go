package guard

import (
	"net/netip"
	"testing"

	"github.com/budnet/budnet/internal/egress/verdict"
)

func TestDefaultDenied(t *testing.T) {
	g, err := New(Config{Denied: DefaultDenied(), Allowed: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		addr   string
		denied string // expected range name; empty means allowed
	}{
		{name: "public v4", addr: "8.8.8.8"},
		{name: "public v6", addr: "2001:4860:4860::8888"},
		{name: "explicitly allowed private", addr: "10.20.1.1"},
		{name: "loopback", addr: "127.0.0.1", denied: "loopback"},
		{name: "metadata", addr: "169.254.169.254", denied: "link-local"},
		{name: "aws v6 metadata", addr: "fd00:ec2::254", denied: "unique-local"},
		{name: "oracle metadata", addr: "192.0.0.192", denied: "ietf-protocol"},
		{name: "cgnat", addr: "100.64.0.1", denied: "cgnat"},
		{name: "this network", addr: "0.255.0.1", denied: "this-network"},
		{name: "benchmark", addr: "198.19.255.255", denied: "benchmarking"},
		{name: "broadcast", addr: "255.255.255.255", denied: "reserved"},
		{name: "mapped", addr: "::ffff:8.8.8.8", denied: "ipv4-mapped"},
		{name: "compatible", addr: "::8.8.8.8", denied: "ipv4-compatible"},
		{name: "translated", addr: "::ffff:0:808:808", denied: "ipv4-translated"},
		{name: "nat64 local", addr: "64:ff9b:1::808:808", denied: "nat64-local"},
		{name: "nat64 private", addr: "64:ff9b::a00:1", denied: "nat64:private"},
		{name: "nat64 public", addr: "64:ff9b::808:808"},
		{name: "6to4 private", addr: "2002:c0a8:101::1", denied: "6to4:private"},
		{name: "6to4 public", addr: "2002:808:808::1"},
		{name: "teredo", addr: "2001:0:4136:e378::1", denied: "teredo"},
		{name: "documentation v6", addr: "2001:db8::1", denied: "documentation"},
		{name: "multicast v6", addr: "ff02::1", denied: "multicast"},
		{name: "zone", addr: "fe80::1%eth0", denied: "invalid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name, denied := g.DeniedRange(netip.MustParseAddr(tc.addr), nil)
			if denied != (tc.denied != "") || name != tc.denied {
				t.Fatalf("DeniedRange(%s) = %q %v, want %q", tc.addr, name, denied, tc.denied)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	g, err := New(Config{Denied: DefaultDenied()})
	if err != nil {
		t.Fatal(err)
	}
	addrs := func(ss ...string) []netip.Addr {
		var out []netip.Addr
		for _, s := range ss {
			out = append(out, netip.MustParseAddr(s))
		}
		return out
	}
	tests := []struct {
		name   string
		addrs  []netip.Addr
		reason verdict.Reason
		dial   string
	}{
		{name: "all public dials the first", addrs: addrs("8.8.8.8", "8.8.4.4"), dial: "8.8.8.8"},
		{name: "all denied", addrs: addrs("10.0.0.1", "127.0.0.1"), reason: verdict.ReasonDeniedAddress},
		{name: "mixed is refused, not trimmed", addrs: addrs("8.8.8.8", "10.0.0.1"), reason: verdict.ReasonMixedAddresses},
		{name: "mixed with private first", addrs: addrs("169.254.169.254", "8.8.8.8"), reason: verdict.ReasonMixedAddresses},
		{name: "nothing resolved", addrs: nil, reason: verdict.ReasonResolveFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := g.Check(tc.addrs, nil)
			if r.Reason != tc.reason {
				t.Fatalf("reason %s, want %s", r.Reason, tc.reason)
			}
			if tc.dial != "" && r.Addr != netip.MustParseAddr(tc.dial) {
				t.Fatalf("dial %s, want %s", r.Addr, tc.dial)
			}
		})
	}
}

func TestNormalizeResolved(t *testing.T) {
	got := NormalizeResolved([]netip.Addr{netip.MustParseAddr("::ffff:10.0.0.1"), netip.MustParseAddr("2001:4860::1")})
	if got[0] != netip.MustParseAddr("10.0.0.1") || got[1] != netip.MustParseAddr("2001:4860::1") {
		t.Fatalf("got %v", got)
	}
}

func TestNewRejectsInvalid(t *testing.T) {
	if _, err := New(Config{Denied: []Range{{Name: "zero"}}}); err == nil {
		t.Fatal("invalid prefix accepted")
	}
}
