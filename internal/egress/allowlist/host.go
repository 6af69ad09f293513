// Package allowlist decides whether a source workload may reach a destination
// host and port. Host names are normalised (case, trailing dot, IDNA/punycode)
// before matching, so a pattern and a request that name the same DNS host always
// compare equal, and spellings a resolver would read as an IP address are caught
// before any lookup.
package allowlist

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/budnet/budnet/internal/egress/verdict"
	"github.com/budnet/budnet/internal/platform"
)

// Host is a normalised destination: either a DNS name in lower-case ASCII (A-label)
// form without a trailing dot, or an IP address.
type Host struct {
	Name string     // normalised DNS name; empty for an IP literal
	Addr netip.Addr // set for an IP literal
}

// IsIP reports whether the host is an IP literal.
func (h Host) IsIP() bool { return h.Addr.IsValid() }

// Absolute is the name as an absolute DNS name (with its final dot), the only
// form the gateway hands to a resolver. A relative name lets the resolver try
// resolv.conf's search domains first (ndots:5 in every Kubernetes pod), so a
// record such as api.openai.com.svc.cluster.local, which anyone who can create
// a namespace "com" can make, would answer for api.openai.com. Both Go's
// resolver and glibc's treat a name ending in a dot as absolute and skip the
// search list (Go: dnsConfig.nameList in net/dnsclient_unix.go; glibc:
// res_nsearch in resolv/res_query.c). Empty for an IP literal.
func (h Host) Absolute() string {
	if h.IsIP() {
		return ""
	}
	return h.Name + "."
}

func (h Host) String() string {
	if h.IsIP() {
		return h.Addr.String()
	}
	return h.Name
}

// HostError says why a host was refused before any lookup. Addr is set when the
// host was a non-canonical spelling of an IPv4 address (2130706433, 0x7f.1,
// 0177.0.0.1), so the caller can name the address it would have reached.
type HostError struct {
	Input  string
	Reason verdict.Reason
	Addr   netip.Addr
	Err    error
}

func (e *HostError) Error() string {
	if e.Addr.IsValid() {
		return fmt.Sprintf("host %q is a non-canonical spelling of %s", e.Input, e.Addr)
	}
	if e.Err != nil {
		return fmt.Sprintf("invalid host %q: %v", e.Input, e.Err)
	}
	return fmt.Sprintf("invalid host %q", e.Input)
}

func (e *HostError) Unwrap() error { return e.Err }

// ParseHostPort splits an authority ("host:port", "[v6]:port") and normalises the
// host. The port must be present and in 1..65535.
func ParseHostPort(authority string) (Host, uint16, error) {
	h, p, err := net.SplitHostPort(authority)
	if err != nil {
		return Host{}, 0, &HostError{Input: authority, Reason: verdict.ReasonInvalidHost, Err: err}
	}
	port, err := ParsePort(p)
	if err != nil {
		return Host{}, 0, &HostError{Input: authority, Reason: verdict.ReasonInvalidHost, Err: err}
	}
	host, err := NormalizeHost(h)
	if err != nil {
		return Host{}, 0, err
	}
	return host, port, nil
}

// ParsePort reads a decimal TCP port in 1..65535 without signs or leading zeros
// beyond a single digit, so "0443" and "+443" are not silently accepted.
func ParsePort(s string) (uint16, error) {
	if s == "" || len(s) > 5 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("invalid port %q", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("invalid port %q", s)
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("invalid port %q", s)
	}
	return uint16(n), nil
}

// NormalizeHost turns a host as written by a client (no port, IPv6 without
// brackets) into its canonical form, or says why it cannot be used.
func NormalizeHost(s string) (Host, error) {
	if s == "" {
		return Host{}, &HostError{Input: s, Reason: verdict.ReasonInvalidHost, Err: errors.New("empty host")}
	}
	if !utf8.ValidString(s) {
		return Host{}, &HostError{Input: s, Reason: verdict.ReasonInvalidHost, Err: errors.New("not UTF-8")}
	}
	if strings.ContainsAny(s, "%/\\@ \t") {
		// Zones, paths and userinfo never belong in a destination host.
		return Host{}, &HostError{Input: s, Reason: verdict.ReasonInvalidHost, Err: errors.New("forbidden character")}
	}
	if strings.Contains(s, ":") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return Host{}, &HostError{Input: s, Reason: verdict.ReasonInvalidHost, Err: err}
		}
		return Host{Addr: a}, nil
	}
	// Without a colon only dotted-decimal IPv4 can parse; asking ParseAddr
	// about every host name allocated its error on every request.
	if digitsAndDots(s) {
		if a, err := netip.ParseAddr(s); err == nil {
			return Host{Addr: a}, nil
		}
	}
	// The model's host patterns are normalised by the same function, so a
	// pattern and a request naming one DNS host are one string.
	name, err := platform.NormalizeName(s)
	if err != nil {
		return Host{}, &HostError{Input: s, Reason: verdict.ReasonInvalidHost, Err: err}
	}
	if a, numeric := parseLooseIPv4(name); numeric {
		// Resolvers built on inet_aton (glibc getaddrinfo, curl, many proxies) read
		// these as addresses; refuse them instead of guessing which reading applies.
		return Host{}, &HostError{Input: s, Reason: verdict.ReasonNonCanonicalIP, Addr: a}
	}
	return Host{Name: name}, nil
}

// parseLooseIPv4 applies the WHATWG URL rule: a name whose last label is numeric
// (decimal, 0-octal or 0x-hex) is an IPv4 address, parsed the inet_aton way with
// one to four parts. numeric is true whenever the name must be treated as an
// address; addr is valid only if the parts also fit.
func parseLooseIPv4(name string) (addr netip.Addr, numeric bool) {
	parts := strings.Split(name, ".")
	if lastLabel := parts[len(parts)-1]; !allDigits(lastLabel) {
		if _, ok := parseAtonPart(lastLabel); !ok {
			return netip.Addr{}, false
		}
	}
	if len(parts) > 4 {
		return netip.Addr{}, true
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		v, ok := parseAtonPart(p)
		if !ok {
			return netip.Addr{}, true
		}
		vals[i] = v
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*(5-len(vals))) {
		return netip.Addr{}, true
	}
	v := last
	for i := 0; i < len(vals)-1; i++ {
		if vals[i] > 255 {
			return netip.Addr{}, true
		}
		v |= vals[i] << (8 * (3 - i))
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

func parseAtonPart(p string) (uint64, bool) {
	if p == "" {
		return 0, false
	}
	base := 10
	switch {
	case len(p) >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'):
		base, p = 16, p[2:]
		if p == "" {
			return 0, true // "0x" is zero to inet_aton and WHATWG
		}
	case len(p) > 1 && p[0] == '0':
		base, p = 8, p[1:]
	}
	// Every ordinary host name label reaches this point, and ParseUint's
	// syntax error is two allocations; a label with a character that is not
	// a digit in base is exactly what ParseUint refuses with ErrSyntax, so
	// answer it here and leave ParseUint only the range check.
	if !digitsIn(p, base) {
		return 0, false
	}
	v, err := strconv.ParseUint(p, base, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return 1 << 40, true // numeric but out of range: still an address attempt
		}
		return 0, false
	}
	if v > 1<<40 {
		v = 1 << 40
	}
	return v, true
}

// digitsIn reports whether s is all digits of base 8, 10 or 16.
func digitsIn(s string, base int) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		var d int
		switch {
		case c >= '0' && c <= '9':
			d = int(c - '0')
		case c >= 'a' && c <= 'f':
			d = int(c-'a') + 10
		case c >= 'A' && c <= 'F':
			d = int(c-'A') + 10
		default:
			return false
		}
		if d >= base {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// digitsAndDots reports whether s holds only ASCII digits and dots, the only
// bytes of an IPv4 address netip.ParseAddr accepts.
func digitsAndDots(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '.' && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
