package allowlist

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/egress/verdict"
	"github.com/budnet/budnet/internal/platform"
)

func TestNormalizeHost(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   string
		reason verdict.Reason // ReasonNone: success
	}{
		{name: "lower case", in: "API.OpenAI.COM", want: "api.openai.com"},
		{name: "trailing dot", in: "api.openai.com.", want: "api.openai.com"},
		{name: "unicode to punycode", in: "bücher.example", want: "xn--bcher-kva.example"},
		{name: "punycode stays", in: "xn--bcher-kva.example", want: "xn--bcher-kva.example"},
		{name: "fullwidth maps to ascii", in: "ａｐｉ.openai.com", want: "api.openai.com"},
		{name: "ipv4", in: "8.8.8.8", want: "8.8.8.8"},
		{name: "ipv6", in: "2001:4860::8888", want: "2001:4860::8888"},
		{name: "empty", in: "", reason: verdict.ReasonInvalidHost},
		{name: "double dot", in: "a..example", reason: verdict.ReasonInvalidHost},
		{name: "two trailing dots", in: "a.example..", reason: verdict.ReasonInvalidHost},
		{name: "underscore", in: "a_b.example", reason: verdict.ReasonInvalidHost},
		{name: "leading hyphen", in: "-a.example", reason: verdict.ReasonInvalidHost},
		{name: "zone", in: "fe80::1%eth0", reason: verdict.ReasonInvalidHost},
		{name: "userinfo", in: "u@example.com", reason: verdict.ReasonInvalidHost},
		{name: "bad punycode", in: "xn--zz.example", reason: verdict.ReasonInvalidHost},
		{name: "label too long", in: strings.Repeat("a", 64) + ".example", reason: verdict.ReasonInvalidHost},
		{name: "decimal", in: "2130706433", reason: verdict.ReasonNonCanonicalIP},
		{name: "octal", in: "0177.0.0.1", reason: verdict.ReasonNonCanonicalIP},
		{name: "hex", in: "0x7f.1", reason: verdict.ReasonNonCanonicalIP},
		{name: "numeric last label", in: "foo.123", reason: verdict.ReasonNonCanonicalIP},
		{name: "too many parts", in: "1.2.3.4.5", reason: verdict.ReasonNonCanonicalIP},
		{name: "letters then digits is a name", in: "host1.example", want: "host1.example"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := NormalizeHost(tc.in)
			if tc.reason != verdict.ReasonNone {
				var he *HostError
				if !errors.As(err, &he) || he.Reason != tc.reason {
					t.Fatalf("NormalizeHost(%q) = %v, %v; want reason %s", tc.in, h, err, tc.reason)
				}
				return
			}
			if err != nil || h.String() != tc.want {
				t.Fatalf("NormalizeHost(%q) = %q, %v; want %q", tc.in, h, err, tc.want)
			}
		})
	}
}

func TestLooseIPv4Values(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "decimal", in: "2130706433", want: "127.0.0.1"},
		{name: "octal", in: "0177.0.0.1", want: "127.0.0.1"},
		{name: "hex two parts", in: "0x7f.1", want: "127.0.0.1"},
		{name: "three parts", in: "127.0.1", want: "127.0.0.1"},
		{name: "metadata decimal", in: "2852039166", want: "169.254.169.254"},
		{name: "hex whole", in: "0xa9fea9fe", want: "169.254.169.254"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, numeric := parseLooseIPv4(tc.in)
			if !numeric || a != netip.MustParseAddr(tc.want) {
				t.Fatalf("parseLooseIPv4(%q) = %v %v, want %s", tc.in, a, numeric, tc.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	p, err := Compile([]Rule{
		{Name: "llm", Source: "budgateway", Hosts: []string{"API.OpenAI.com.", "*.openai.azure.com", "bücher.example"}},
		{Name: "alt", Source: "budgateway", Hosts: []string{"api.openai.com"}, Ports: []PortRange{{From: 8443, To: 8444}}},
		{Name: "ips", Source: "budgateway", CIDRs: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		source  string
		host    string
		port    uint16
		rule    string
		pattern string
		reason  verdict.Reason
	}{
		{name: "exact", source: "budgateway", host: "api.openai.com", port: 443, rule: "llm", pattern: "api.openai.com"},
		{name: "second rule's port", source: "budgateway", host: "api.openai.com", port: 8444, rule: "alt", pattern: "api.openai.com"},
		{name: "wildcard one level", source: "budgateway", host: "x.openai.azure.com", port: 443, rule: "llm", pattern: "*.openai.azure.com"},
		{name: "wildcard two levels", source: "budgateway", host: "a.b.openai.azure.com", port: 443, rule: "llm", pattern: "*.openai.azure.com"},
		{name: "idn", source: "budgateway", host: "xn--bcher-kva.example", port: 443, rule: "llm", pattern: "xn--bcher-kva.example"},
		{name: "wildcard apex", source: "budgateway", host: "openai.azure.com", port: 443, reason: verdict.ReasonHostNotAllowed},
		{name: "lookalike", source: "budgateway", host: "evil-openai.azure.com", port: 443, reason: verdict.ReasonHostNotAllowed},
		{name: "suffix trick", source: "budgateway", host: "api.openai.com.evil.net", port: 443, reason: verdict.ReasonHostNotAllowed},
		{name: "port", source: "budgateway", host: "api.openai.com", port: 80, reason: verdict.ReasonPortNotAllowed},
		{name: "other source", source: "budapp", host: "api.openai.com", port: 443, reason: verdict.ReasonHostNotAllowed},
		{name: "ip in cidr", source: "budgateway", host: "203.0.113.9", port: 443, rule: "ips", pattern: "203.0.113.0/24"},
		{name: "ip outside", source: "budgateway", host: "198.51.100.1", port: 443, reason: verdict.ReasonIPNotAllowed},
		{name: "mapped ip is not the v4 ip", source: "budgateway", host: "::ffff:203.0.113.9", port: 443, reason: verdict.ReasonIPNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := NormalizeHost(tc.host)
			if err != nil {
				t.Fatal(err)
			}
			m := p.Check(tc.source, h, tc.port)
			if tc.rule != "" {
				if !m.Allowed() || m.Rule.Name != tc.rule || m.Pattern != tc.pattern {
					t.Fatalf("got %+v, want rule %s pattern %s", m, tc.rule, tc.pattern)
				}
				return
			}
			if m.Allowed() || m.Reason != tc.reason {
				t.Fatalf("got %+v, want %s", m, tc.reason)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name string
		rule Rule
		want string
	}{
		{name: "no source", rule: Rule{Hosts: []string{"a.example"}}, want: "empty source"},
		{name: "tld wildcard", rule: Rule{Source: "s", Hosts: []string{"*.com"}}, want: "public suffix"},
		{name: "public suffix wildcard", rule: Rule{Source: "s", Hosts: []string{"*.co.uk"}}, want: "public suffix"},
		{name: "inner wildcard", rule: Rule{Source: "s", Hosts: []string{"api.*.com"}}, want: "other than a leading"},
		{name: "cilium's any-depth wildcard", rule: Rule{Source: "s", Hosts: []string{"**.example.com"}}, want: "other than a leading"},
		{name: "ip as host", rule: Rule{Source: "s", Hosts: []string{"10.0.0.1"}}, want: "put addresses in cidrs"},
		{name: "single label", rule: Rule{Source: "s", Hosts: []string{"openai"}}, want: "single label"},
		{name: "numeric last label", rule: Rule{Source: "s", Hosts: []string{"a.example.0x7f"}}, want: "numeric label"},
		{name: "empty rule", rule: Rule{Source: "s"}, want: "no hosts and no CIDRs"},
		{name: "bad port", rule: Rule{Source: "s", Hosts: []string{"a.example"}, Ports: []PortRange{{From: 10, To: 5}}}, want: "bad port range"},
		{name: "bad host", rule: Rule{Source: "s", Hosts: []string{"a..b"}}, want: "invalid label"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile([]Rule{tc.rule})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Compile error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseHostPort(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{name: "name", in: "api.openai.com:443", ok: true},
		{name: "v6", in: "[2001:db8::1]:443", ok: true},
		{name: "no port", in: "api.openai.com", ok: false},
		{name: "zero port", in: "a.example:0", ok: false},
		{name: "leading zero port", in: "a.example:0443", ok: false},
		{name: "big port", in: "a.example:65536", ok: false},
		{name: "signed port", in: "a.example:+443", ok: false},
		{name: "bare v6", in: "2001:db8::1:443", ok: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ParseHostPort(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("ParseHostPort(%q) err = %v, want ok=%v", tc.in, err, tc.ok)
			}
		})
	}
}

// FuzzNormalizeHost checks that normalisation never panics, is idempotent,
// and only yields LDH names or valid addresses.
func FuzzNormalizeHost(f *testing.F) {
	for _, s := range []string{"api.openai.com", "API.OPENAI.COM.", "bücher.example", "xn--bcher-kva.example",
		"2130706433", "0x7f.1", "0177.0.0.1", "::ffff:127.0.0.1", "fe80::1%eth0", "ａｐｉ.openai.com", "a..b", "1.2.3.4.5", "0x", "09", "192.0.2.1", "127.0.0.1."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := NormalizeHost(s)
		// digitsAndDots only skips ParseAddr where it cannot succeed: every
		// address ParseAddr reads without a zone must come back as that address.
		if a, perr := netip.ParseAddr(s); perr == nil && a.Zone() == "" {
			if err != nil || h.Addr != a {
				t.Fatalf("%q parses as %v but normalised to %v, %v", s, a, h, err)
			}
		}
		if err != nil {
			return
		}
		if h.IsIP() {
			if !h.Addr.IsValid() || h.Addr.Zone() != "" {
				t.Fatalf("%q normalised to bad address %v", s, h.Addr)
			}
			return
		}
		if n, err := platform.NormalizeName(h.Name); err != nil || n != h.Name {
			t.Fatalf("%q normalised to %q which the model's normalisation reads as %q, %v", s, h.Name, n, err)
		}
		again, err := NormalizeHost(h.Name)
		if err != nil || again != h {
			t.Fatalf("not idempotent: %q -> %q -> %v, %v", s, h.Name, again, err)
		}
	})
}

// atonPartByParseUint is parseAtonPart as it was before digitsIn answered
// non-numeric labels early: the reference the fast path must agree with.
func atonPartByParseUint(p string) (uint64, bool) {
	if p == "" {
		return 0, false
	}
	base := 10
	switch {
	case len(p) >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'):
		base, p = 16, p[2:]
		if p == "" {
			return 0, true
		}
	case len(p) > 1 && p[0] == '0':
		base, p = 8, p[1:]
	}
	v, err := strconv.ParseUint(p, base, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return 1 << 40, true
		}
		return 0, false
	}
	return min(v, 1<<40), true
}

// TestParseAtonPartMatchesParseUint compares every string of up to four
// characters over an alphabet of digits, hex letters, base prefixes, signs
// and separators, plus long and overflowing spellings.
func TestParseAtonPartMatchesParseUint(t *testing.T) {
	const alphabet = "0179afgAFxX+-_ ."
	inputs := []string{"99999999999999999999999", "0x1ffffffffffffffffff", "0777777777777777777777777",
		"4294967296", "0xffffffff", "037777777777", "openai", "api", "example", "127", "0x7f", "0177"}
	var gen func(prefix string, n int)
	gen = func(prefix string, n int) {
		inputs = append(inputs, prefix)
		if n == 0 {
			return
		}
		for i := 0; i < len(alphabet); i++ {
			gen(prefix+alphabet[i:i+1], n-1)
		}
	}
	gen("", 4)
	for _, in := range inputs {
		gv, gok := parseAtonPart(in)
		wv, wok := atonPartByParseUint(in)
		if gv != wv || gok != wok {
			t.Errorf("parseAtonPart(%q) = %d, %v; ParseUint reference %d, %v", in, gv, gok, wv, wok)
		}
	}
}

// TestHostAbsolute: every spelling of a name reaches the resolver as one
// absolute name, so no resolv.conf search domain can apply (issue 11).
func TestHostAbsolute(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{name: "plain", in: "api.openai.com", want: "api.openai.com."},
		{name: "upper case and trailing dot", in: "API.OPENAI.COM.", want: "api.openai.com."},
		{name: "single label", in: "openai", want: "openai."},
		{name: "idna", in: "bücher.example", want: "xn--bcher-kva.example."},
		{name: "ip literal has none", in: "162.159.140.245", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := NormalizeHost(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := h.Absolute(); got != tc.want {
				t.Fatalf("Absolute(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
