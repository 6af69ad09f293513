// Package addrset is the one home of the address sets budnet's layers share:
// the special-purpose ranges that are not the public internet. It is a
// bottom package (standard library only), so the runtime gateway's guard,
// the engines and the generator read the same set without importing one
// another.
package addrset

import "net/netip"

// Range is a prefix with the name audit lines and reports give it.
type Range struct {
	Prefix netip.Prefix
	Name   string
}

// SpecialPurpose returns the ranges that are not public internet addresses:
// the egress gateway refuses them unless the model names one, reach and
// generate keep them out of "the internet". Sources: the IANA IPv4
// and IPv6 Special-Purpose Address Registries
// (https://www.iana.org/assignments/iana-ipv4-special-registry,
// https://www.iana.org/assignments/iana-ipv6-special-registry), RFC 6598 (CGNAT),
// RFC 6052 and RFC 8215 (NAT64), RFC 7526 (6to4 relay), RFC 9637 (3fff::/20).
// Beyond smokescreen's defaults it covers all of 0.0.0.0/8, 192.0.0.0/24 (where
// Oracle Cloud's 192.0.0.192 metadata service lives), IPv4-compatible and
// IPv4-translated IPv6, 64:ff9b:1::/48, 198.18.0.0/15 and 240.0.0.0/4.
// It returns a fresh slice each call, so callers may append.
func SpecialPurpose() []Range {
	specs := []struct{ cidr, name string }{
		{"0.0.0.0/8", "this-network"},
		{"10.0.0.0/8", "private"},
		{"100.64.0.0/10", "cgnat"},
		{"127.0.0.0/8", "loopback"},
		{"169.254.0.0/16", "link-local"}, // includes 169.254.169.254 (AWS, GCP, Azure metadata)
		{"172.16.0.0/12", "private"},
		{"192.0.0.0/24", "ietf-protocol"}, // includes 192.0.0.192 (Oracle Cloud metadata)
		{"192.0.2.0/24", "documentation"},
		{"192.88.99.0/24", "6to4-relay"},
		{"192.168.0.0/16", "private"},
		{"198.18.0.0/15", "benchmarking"},
		{"198.51.100.0/24", "documentation"},
		{"203.0.113.0/24", "documentation"},
		{"224.0.0.0/4", "multicast"},
		{"240.0.0.0/4", "reserved"}, // includes 255.255.255.255 broadcast
		{"::/128", "unspecified"},
		{"::1/128", "loopback"},
		{"::/96", "ipv4-compatible"},
		{"::ffff:0:0/96", "ipv4-mapped"},
		{"::ffff:0:0:0/96", "ipv4-translated"},
		{"64:ff9b:1::/48", "nat64-local"},
		{"100::/64", "discard-only"},
		{"2001::/32", "teredo"},
		{"2001:2::/48", "benchmarking"},
		{"2001:10::/28", "orchid"},
		{"2001:20::/28", "orchid-v2"},
		{"2001:db8::/32", "documentation"},
		{"3fff::/20", "documentation"},
		{"5f00::/16", "srv6-sid"},
		{"fc00::/7", "unique-local"}, // includes fd00:ec2::254 (AWS metadata over IPv6)
		{"fe80::/10", "link-local"},
		{"fec0::/10", "site-local"},
		{"ff00::/8", "multicast"},
	}
	out := make([]Range, len(specs))
	for i, s := range specs {
		out[i] = Range{Prefix: netip.MustParsePrefix(s.cidr), Name: s.name}
	}
	return out
}
