package platform

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/crds"
)

// TestReadHostPattern: every spelling of one host reads as one pattern, and
// what is not a host name is refused, with the message model validation
// prints.
func TestReadHostPattern(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // the normal form; empty: refused
		hint string // part of the refusal
	}{
		{name: "plain", in: "api.openai.com", want: "api.openai.com"},
		{name: "upper case", in: "API.OpenAI.COM", want: "api.openai.com"},
		{name: "trailing dot", in: "api.openai.com.", want: "api.openai.com"},
		{name: "surrounding space", in: " api.openai.com ", want: "api.openai.com"},
		{name: "unicode to punycode", in: "bücher.example", want: "xn--bcher-kva.example"},
		{name: "unicode upper case", in: "BÜCHER.example", want: "xn--bcher-kva.example"},
		{name: "punycode stays", in: "xn--bcher-kva.example", want: "xn--bcher-kva.example"},
		{name: "punycode upper case", in: "XN--BCHER-KVA.example", want: "xn--bcher-kva.example"},
		{name: "fullwidth maps to ascii", in: "ａｐｉ.openai.com", want: "api.openai.com"},
		{name: "wildcard", in: "*.OpenAI.Azure.com.", want: "*.openai.azure.com"},
		{name: "unicode wildcard", in: "*.bücher.example", want: "*.xn--bcher-kva.example"},
		{name: "single label is a name", in: "localhost", want: "localhost"},
		{name: "empty", in: "", hint: "empty"},
		{name: "dot alone", in: ".", hint: "empty"},
		{name: "star alone", in: "*", hint: "wildcard"},
		{name: "star dot alone", in: "*.", hint: "empty"},
		{name: "double star", in: "**.example.com", hint: "wildcard"},
		{name: "inner wildcard", in: "api.*.example.com", hint: "wildcard"},
		{name: "partial wildcard", in: "api-*.example.com", hint: "wildcard"},
		{name: "two wildcards", in: "*.*.example.com", hint: "wildcard"},
		{name: "ipv4", in: "10.0.0.1", hint: "IP address"},
		{name: "ipv6", in: "2001:db8::1", hint: "IP address"},
		{name: "bracketed ipv6", in: "[2001:db8::1]", hint: "IP address"},
		{name: "decimal address", in: "2130706433", hint: "numeric label"},
		{name: "hex address", in: "0x7f.1", hint: "numeric label"},
		{name: "numeric last label", in: "foo.123", hint: "numeric label"},
		{name: "hex last label", in: "foo.0x1f", hint: "numeric label"},
		{name: "letters after 0x are a name", in: "foo.0xg", want: "foo.0xg"},
		{name: "port", in: "api.example.com:443", hint: "ports go in ports"},
		{name: "url", in: "https://api.example.com", hint: "not a bare host"},
		{name: "userinfo", in: "u@example.com", hint: "not a bare host"},
		{name: "zone", in: "host%eth0.example.com", hint: "not a bare host"},
		{name: "underscore", in: "my_host.example.com", hint: "invalid label"},
		{name: "empty label", in: "api..example.com", hint: "invalid label"},
		{name: "two trailing dots", in: "api.example.com..", hint: "invalid label"},
		{name: "leading hyphen", in: "-api.example.com", hint: "invalid label"},
		{name: "label too long", in: strings.Repeat("a", 64) + ".example.com", hint: "invalid label"},
		{name: "name too long", in: strings.Repeat("a.", 130) + "com", hint: "longer than 253"},
		{name: "bad punycode", in: "xn--zz.example", hint: "internationalised"},
		{name: "inner space", in: "api example.com", hint: "invalid label"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ReadHostPattern(tt.in)
			if tt.want != "" {
				if err != nil || h.String() != tt.want {
					t.Fatalf("ReadHostPattern(%q) = %q, %v; want %q", tt.in, h, err, tt.want)
				}
				return
			}
			var pe *HostPatternError
			if !errors.As(err, &pe) || !strings.Contains(pe.Msg, tt.hint) {
				t.Fatalf("ReadHostPattern(%q) = %q, %v; want a refusal containing %q", tt.in, h, err, tt.hint)
			}
		})
	}
}

// TestHostPatternMatches: the attack table. A wildcard is every name below
// its domain at any depth, never the domain itself; nothing matches by
// suffix of a label or by appending to the name.
func TestHostPatternMatches(t *testing.T) {
	tests := []struct {
		name, pattern, host string
		want                bool
	}{
		{name: "exact", pattern: "api.openai.com", host: "api.openai.com", want: true},
		{name: "exact in upper case, fully qualified", pattern: "api.openai.com", host: "API.OPENAI.COM.", want: true},
		{name: "exact is not a subdomain", pattern: "api.openai.com", host: "x.api.openai.com"},
		{name: "exact is not its parent", pattern: "api.openai.com", host: "openai.com"},
		{name: "suffix trick", pattern: "api.openai.com", host: "api.openai.com.evil.net"},
		{name: "wildcard one level", pattern: "*.openai.azure.com", host: "x.openai.azure.com", want: true},
		{name: "wildcard four levels", pattern: "*.openai.azure.com", host: "a.b.c.d.openai.azure.com", want: true},
		{name: "wildcard apex", pattern: "*.openai.azure.com", host: "openai.azure.com"},
		{name: "wildcard apex fully qualified", pattern: "*.openai.azure.com", host: "openai.azure.com."},
		{name: "wildcard look-alike label", pattern: "*.openai.azure.com", host: "evil-openai.azure.com"},
		{name: "wildcard glued label", pattern: "*.openai.azure.com", host: "evilopenai.azure.com"},
		{name: "wildcard suffix trick", pattern: "*.openai.azure.com", host: "x.openai.azure.com.evil.net"},
		{name: "wildcard is not a name", pattern: "*.openai.azure.com", host: "*.openai.azure.com"},
		{name: "idn host against punycode pattern", pattern: "xn--bcher-kva.example", host: "BÜCHER.example", want: true},
		{name: "idn under wildcard", pattern: "*.xn--bcher-kva.example", host: "www.bücher.example", want: true},
		{name: "fullwidth host", pattern: "api.openai.com", host: "ａｐｉ.openai.com", want: true},
		{name: "numeric spelling never matches", pattern: "*.example.com", host: "a.example.com.2130706433"},
		{name: "underscore never matches", pattern: "*.example.com", host: "a_b.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ReadHostPattern(tt.pattern)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Matches(tt.host); got != tt.want {
				t.Fatalf("%s matches %q: %v, want %v", p, tt.host, got, tt.want)
			}
		})
	}
}

func TestHostPatternCovers(t *testing.T) {
	tests := []struct {
		name, p, o string
		want       bool
	}{
		{name: "same name", p: "api.openai.com", o: "API.openai.com.", want: true},
		{name: "name under a wildcard", p: "*.openai.com", o: "api.openai.com", want: true},
		{name: "the same wildcard", p: "*.openai.com", o: "*.openai.com", want: true},
		{name: "a deeper wildcard", p: "*.openai.com", o: "*.eu.openai.com", want: true},
		{name: "a shallower wildcard", p: "*.eu.openai.com", o: "*.openai.com"},
		{name: "a name does not cover a wildcard", p: "api.openai.com", o: "*.api.openai.com"},
		{name: "a wildcard does not cover its apex", p: "*.openai.com", o: "openai.com"},
		{name: "a sibling wildcard", p: "*.openai.com", o: "*.evilopenai.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err1 := ReadHostPattern(tt.p)
			o, err2 := ReadHostPattern(tt.o)
			if err := errors.Join(err1, err2); err != nil {
				t.Fatal(err)
			}
			if got := p.Covers(o); got != tt.want {
				t.Fatalf("%s covers %s: %v, want %v", p, o, got, tt.want)
			}
		})
	}
}

// TestCiliumSelectors: the selectors a model host becomes, per Cilium
// version, and that reading them back admits the host exactly when they
// mean all of it: "**." does from v1.19; per-depth patterns admit each name
// they reach but never the wildcard as a whole. What Cilium itself matches
// is proven in generate's TestCiliumMatchPatterns (hack/cilium-matchpattern).
func TestCiliumSelectors(t *testing.T) {
	tests := []struct {
		name   string
		host   string
		minor  int
		want   []FQDNSelector
		admits bool
	}{
		{name: "name", host: "api.openai.com", minor: 20, want: []FQDNSelector{{MatchName: "api.openai.com"}}, admits: true},
		{name: "name before 1.19", host: "api.openai.com", minor: 18, want: []FQDNSelector{{MatchName: "api.openai.com"}}, admits: true},
		{name: "wildcard from 1.19", host: "*.openai.azure.com", minor: 19, want: []FQDNSelector{{MatchPattern: "**.openai.azure.com"}}, admits: true},
		{name: "wildcard before 1.19", host: "*.openai.azure.com", minor: 18, want: []FQDNSelector{
			{MatchPattern: "*.openai.azure.com"}, {MatchPattern: "*.*.openai.azure.com"},
			{MatchPattern: "*.*.*.openai.azure.com"}, {MatchPattern: "*.*.*.*.openai.azure.com"}}},
		{name: "idn", host: "*.bücher.example", minor: 20, want: []FQDNSelector{{MatchPattern: "**.xn--bcher-kva.example"}}, admits: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseHostPattern(tt.host)
			if err != nil {
				t.Fatal(err)
			}
			got := h.CiliumSelectors(tt.minor)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("CiliumSelectors(%d) = %v, want %v", tt.minor, got, tt.want)
			}
			if a := FQDNSelectors(got).Admits(h); a != tt.admits {
				t.Errorf("selectors admit %s: %v, want %v", h, a, tt.admits)
			}
			if h.wildcard {
				for _, n := range []string{"a.", "a.b.", "a.b.c.", "a.b.c.d."} {
					name, _ := ReadHostPattern(n + h.domain)
					if !FQDNSelectors(got).Admits(name) {
						t.Errorf("selectors do not admit %s", name)
					}
				}
				for _, n := range []string{h.domain, "evil" + h.domain, "a." + h.domain + ".evil.io"} {
					name, _ := ReadHostPattern(n)
					if FQDNSelectors(got).Admits(name) {
						t.Errorf("selectors admit %s", name)
					}
				}
			}
		})
	}
}

// TestFQDNSelectorsAdmit: Cilium's selectors read against model hosts,
// attack cases included: "*." is one label to Cilium, "**." any depth.
func TestFQDNSelectorsAdmit(t *testing.T) {
	tests := []struct {
		name string
		sel  FQDNSelector
		host string
		want bool
	}{
		{name: "matchName", sel: FQDNSelector{MatchName: "API.Stripe.com."}, host: "api.stripe.com", want: true},
		{name: "matchName is literal", sel: FQDNSelector{MatchName: "*.stripe.com"}, host: "api.stripe.com"},
		{name: "matchName is not a wildcard", sel: FQDNSelector{MatchName: "api.stripe.com"}, host: "*.stripe.com"},
		{name: "one label's *", sel: FQDNSelector{MatchPattern: "*.openai.azure.com"}, host: "x.openai.azure.com", want: true},
		{name: "* does not cross a dot", sel: FQDNSelector{MatchPattern: "*.azure.com"}, host: "x.openai.azure.com"},
		{name: "* is not a model wildcard", sel: FQDNSelector{MatchPattern: "*.amazonaws.com"}, host: "*.amazonaws.com"},
		{name: "* within a label", sel: FQDNSelector{MatchPattern: "api-*.stripe.com"}, host: "api-eu.stripe.com", want: true},
		{name: "** any depth", sel: FQDNSelector{MatchPattern: "**.amazonaws.com"}, host: "s3.us-east-1.amazonaws.com", want: true},
		{name: "** not the apex", sel: FQDNSelector{MatchPattern: "**.amazonaws.com"}, host: "amazonaws.com"},
		{name: "** not a glued label", sel: FQDNSelector{MatchPattern: "**.amazonaws.com"}, host: "evilamazonaws.com"},
		{name: "** covers the model wildcard", sel: FQDNSelector{MatchPattern: "**.amazonaws.com"}, host: "*.amazonaws.com", want: true},
		{name: "** covers a deeper wildcard", sel: FQDNSelector{MatchPattern: "**.amazonaws.com"}, host: "*.s3.amazonaws.com", want: true},
		{name: "** of a child is not the parent wildcard", sel: FQDNSelector{MatchPattern: "**.s3.amazonaws.com"}, host: "*.amazonaws.com"},
		{name: "** of a top-level domain", sel: FQDNSelector{MatchPattern: "**.com"}, host: "*.example.com", want: true},
		{name: "match all", sel: FQDNSelector{MatchPattern: "*"}, host: "*.example.com", want: true},
		{name: "empty selector", sel: FQDNSelector{}, host: "api.stripe.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ReadHostPattern(tt.host)
			if err != nil {
				t.Fatal(err)
			}
			if got := (FQDNSelectors{tt.sel}).Admits(h); got != tt.want {
				t.Fatalf("%+v admits %s: %v, want %v", tt.sel, h, got, tt.want)
			}
		})
	}
}

// FuzzFQDNAdmits checks that reading Cilium's "**." as the model's "*."
// agrees with Cilium's own regular expression for the pattern
// (CiliumPatternRegexp, a transcription of ToAnchoredRegexp) on every exact
// host name, and that a matchName admits its own name.
func FuzzFQDNAdmits(f *testing.F) {
	for _, seed := range [][2]string{
		{"**.amazonaws.com", "s3.us-east-1.amazonaws.com"},
		{"**.amazonaws.com", "amazonaws.com"},
		{"**.amazonaws.com", "evilamazonaws.com"},
		{"*.openai.azure.com", "x.openai.azure.com"},
		{"api-*.stripe.com", "api-eu.stripe.com"},
		{"***.example.com", "a.b.example.com"},
		{"**.com", "example.com"},
		{"*", "example.com"},
		{"**.EXAMPLE.com.", "Www.Example.COM"},
		{"**.xn--bcher-kva.example", "www.bücher.example"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, pattern, host string) {
		set := FQDNSelectors{{MatchPattern: pattern}}
		h, err := ReadHostPattern(host)
		if err != nil || h.wildcard {
			return
		}
		p := strings.ToLower(strings.TrimSpace(pattern))
		if p == "" || ciliumMatchAll.MatchString(p) || strings.ContainsFunc(p, func(r rune) bool {
			return !(r == '-' || r == '.' || r == '*' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z')
		}) {
			return
		}
		re, err := regexp.Compile(CiliumPatternRegexp(p))
		if err != nil {
			t.Fatalf("pattern %q: %v", p, err)
		}
		if got, want := set.Admits(h), re.MatchString(h.domain); got != want {
			t.Errorf("pattern %q host %q: Admits %v, Cilium's expression %v", pattern, host, got, want)
		}
		if !(FQDNSelectors{{MatchName: host}}).Admits(h) {
			t.Errorf("matchName %q does not admit itself", host)
		}
	})
}

// TestDomainNameCRD: a model host's domainNames entry is what the pinned
// ClusterNetworkPolicy CRD (network-policy-api v0.3.1) accepts, and what it
// means there is the model's meaning (the CRD's own examples).
func TestDomainNameCRD(t *testing.T) {
	all, err := crds.Decode("network-policy-api")
	if err != nil {
		t.Fatal(err)
	}
	var pattern string
	for _, c := range all {
		if c.Spec.Names.Kind != "ClusterNetworkPolicy" {
			continue
		}
		for _, v := range c.Spec.Versions {
			if v.Name != "v1alpha2" || v.Schema == nil {
				continue
			}
			peer := v.Schema.OpenAPIV3Schema.Properties["spec"].Properties["egress"].Items.Schema.Properties["to"].Items.Schema
			pattern = peer.Properties["domainNames"].Items.Schema.Pattern
		}
	}
	if pattern == "" {
		t.Fatal("no v1alpha2 ClusterNetworkPolicy egress domainNames pattern in the pinned CRDs")
	}
	re := regexp.MustCompile(pattern)
	for _, in := range []string{"api.openai.com", "*.openai.azure.com", "*.bücher.example", "API.Example.com.", "a.b.c.d.e.example.com", "*.example.co.uk", "1password.com"} {
		h, err := ParseHostPattern(in)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if d := h.DomainName(); !re.MatchString(d) {
			t.Errorf("%s: domainNames entry %q is refused by the CRD's pattern %s", in, d, pattern)
		}
	}
	// The CRD's examples of what "*.kubernetes.io" matches.
	k8s, err := ParseHostPattern("*.kubernetes.io")
	if err != nil {
		t.Fatal(err)
	}
	for n, want := range map[string]bool{"www.kubernetes.io": true, "blog.kubernetes.io": true, "latest.blog.kubernetes.io": true, "kubernetes.io": false, "wikipedia.org": false} {
		if got := k8s.Matches(n); got != want {
			t.Errorf("%s matches %s: %v, the CRD says %v", k8s, n, got, want)
		}
	}
	// What the CRD refuses, the model refuses too.
	for _, in := range []string{"localhost", "*.com", "api.*.example.com", "*"} {
		if _, err := ParseHostPattern(in); err == nil {
			t.Errorf("ParseHostPattern(%q) accepts what the CRD refuses", in)
		}
	}
}

// FuzzReadHostPattern: reading never panics, the normal form reads back as
// itself, a name matches itself and a wildcard matches a name one label
// below its domain but never the domain; what ParseHostPattern accepts,
// ReadHostPattern reads the same.
func FuzzReadHostPattern(f *testing.F) {
	for _, s := range []string{"api.openai.com", "API.OpenAI.com.", "*.openai.azure.com", "*.Bücher.example.", "xn--bcher-kva.example",
		"ａｐｉ.openai.com", "**.example.com", "*", "*.", ".", "a..b", "2130706433", "foo.0x7f", "[::1]", "a.example:443", "xn--zz.example",
		strings.Repeat("a.", 126) + "com", "a\u200db.example", "ß.example", "*.co.uk"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ReadHostPattern(s)
		if p, perr := ParseHostPattern(s); perr == nil && (err != nil || p != h) {
			t.Fatalf("ParseHostPattern(%q) = %v but ReadHostPattern = %v, %v", s, p, h, err)
		}
		if err != nil {
			return
		}
		again, err := ReadHostPattern(h.String())
		if err != nil || again != h {
			t.Fatalf("%q reads as %q, which reads as %q, %v", s, h, again, err)
		}
		if !h.Wildcard() {
			if !h.Matches(h.Domain()) || !h.Covers(h) {
				t.Fatalf("%q does not match itself", h)
			}
			return
		}
		if h.Matches(h.Domain()) {
			t.Fatalf("%q matches its apex", h)
		}
		if len(h.Domain()) < 250 && !h.Matches("a."+h.Domain()) {
			t.Fatalf("%q does not match a name below it", h)
		}
	})
}

// TestEgressVerdictOf: what resolved egress flows say about a workload, a
// host and a port, refusals named as the egress gateway names them.
func TestEgressVerdictOf(t *testing.T) {
	api, job := &Workload{Name: "api"}, &Workload{Name: "job"}
	tcp := func(from, to int32) PortRange { return PortRange{Protocol: "TCP", Port: from, EndPort: to} }
	flows := []ResolvedFlow{
		{Kind: FlowEgress, Name: "llm", From: []*Workload{api}, Hosts: []string{"api.openai.com", "*.openai.azure.com"}, Ports: []PortRange{tcp(443, 443)}},
		{Kind: FlowEgress, Name: "ntp", From: []*Workload{api}, Hosts: []string{"pool.ntp.org"}, Ports: []PortRange{{Protocol: "UDP", Port: 123, EndPort: 123}}},
		{Kind: FlowEgress, Name: "range", From: []*Workload{job}, Hosts: []string{"*.example.io"}, Ports: []PortRange{tcp(8000, 8100)}},
		{Kind: FlowEgress, Name: "no ports", From: []*Workload{job}, Hosts: []string{"legacy.example.net"}},
		// Validation refuses these; the gateway cannot hold them and skips
		// the flow, and so does the verdict (ResolvedFlow.EgressPorts).
		{Kind: FlowEgress, Name: "bad range", From: []*Workload{job}, Hosts: []string{"bad.example.net"}, Ports: []PortRange{tcp(443, 70000), tcp(0, 0)}},
		{Kind: FlowInternal, Name: "not egress", From: []*Workload{job}, Hosts: []string{"api.openai.com"}, Ports: []PortRange{tcp(443, 443)}},
	}
	tests := []struct {
		name, source, host string
		port               PortRange
		want               EgressVerdict
	}{
		{name: "exact", source: "api", host: "API.OpenAI.com.", port: tcp(443, 443), want: EgressAllowed},
		{name: "under a wildcard", source: "api", host: "x.eastus.openai.azure.com", port: tcp(443, 443), want: EgressAllowed},
		{name: "a wildcard under a wildcard", source: "api", host: "*.eastus.openai.azure.com", port: tcp(443, 443), want: EgressAllowed},
		{name: "wildcard apex", source: "api", host: "openai.azure.com", port: tcp(443, 443), want: EgressHostNotAllowed},
		{name: "look-alike", source: "api", host: "api.openai.com.evil.io", port: tcp(443, 443), want: EgressHostNotAllowed},
		{name: "other port", source: "api", host: "api.openai.com", port: tcp(80, 80), want: EgressPortNotAllowed},
		{name: "other source", source: "job", host: "api.openai.com", port: tcp(443, 443), want: EgressHostNotAllowed},
		{name: "udp flow for udp", source: "api", host: "pool.ntp.org", port: PortRange{Protocol: "UDP", Port: 123, EndPort: 123}, want: EgressAllowed},
		{name: "a udp-only flow allows no tcp", source: "api", host: "pool.ntp.org", port: tcp(123, 123), want: EgressHostNotAllowed},
		{name: "inside a range", source: "job", host: "a.example.io", port: tcp(8050, 8060), want: EgressAllowed},
		{name: "across a range's end", source: "job", host: "a.example.io", port: tcp(8090, 8200), want: EgressPortNotAllowed},
		{name: "a flow without ports is 443", source: "job", host: "legacy.example.net", port: PortRange{Port: 443, EndPort: 443}, want: EgressAllowed},
		{name: "a flow without ports is only 443", source: "job", host: "legacy.example.net", port: tcp(80, 80), want: EgressPortNotAllowed},
		{name: "a flow without ports opens no udp", source: "job", host: "legacy.example.net", port: PortRange{Protocol: "UDP", Port: 443, EndPort: 443}, want: EgressPortNotAllowed},
		{name: "a range beyond 65535 opens nothing", source: "job", host: "bad.example.net", port: tcp(443, 443), want: EgressHostNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ReadHostPattern(tt.host)
			if err != nil {
				t.Fatal(err)
			}
			if got := EgressVerdictOf(flows, tt.source, h, tt.port); got != tt.want {
				t.Fatalf("EgressVerdictOf(%s, %s, %v) = %s, want %s", tt.source, h, tt.port, got, tt.want)
			}
		})
	}
}
