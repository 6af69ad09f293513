package allowlist

import (
	"testing"

	"github.com/budnet/budnet/internal/platform"
)

// agreementPatterns and agreementHosts are the table both readings of a
// host pattern are held to: wildcards at and below their domain, IDN in
// both forms, trailing dots, upper case, Cilium's "**." (not a model
// pattern), look-alikes and numeric spellings.
var (
	agreementPatterns = []string{
		"api.openai.com", "API.OpenAI.com.", "*.openai.azure.com", "*.OpenAI.Azure.com.", "bücher.example",
		"*.bücher.example", "xn--bcher-kva.example", "*.xn--bcher-kva.example", "**.openai.azure.com",
		"*.*.openai.azure.com", "api.*.openai.com", "*", "*.", "*.com", "*.co.uk", "*.s3.amazonaws.com",
		"openai", "10.0.0.1", "a.example.0x7f", "a..example.com", "a_b.example.com", "api.openai.com:443",
	}
	agreementHosts = []string{
		"api.openai.com", "API.OPENAI.COM.", "x.api.openai.com", "openai.com", "api.openai.com.evil.net",
		"x.openai.azure.com", "a.b.c.d.openai.azure.com", "openai.azure.com", "evil-openai.azure.com",
		"evilopenai.azure.com", "x.openai.azure.com.evil.net", "bücher.example", "BÜCHER.example.",
		"xn--bcher-kva.example", "www.bücher.example", "www.xn--bcher-kva.example", "ａｐｉ.openai.com",
		"a.b.s3.amazonaws.com", "2130706433", "openai.azure.com.2130706433", "10.0.0.1", "*.openai.azure.com",
	}
)

// TestAgreesWithPlatform: the gateway's fast matcher refuses the patterns
// the model's host pattern refuses, and allows a host exactly when the
// model's pattern matches it.
func TestAgreesWithPlatform(t *testing.T) {
	for _, pattern := range agreementPatterns {
		t.Run(pattern, func(t *testing.T) {
			agree(t, pattern, agreementHosts...)
		})
	}
}

// FuzzAgreesWithPlatform is TestAgreesWithPlatform on any pattern and host.
func FuzzAgreesWithPlatform(f *testing.F) {
	for _, p := range agreementPatterns {
		for _, h := range agreementHosts {
			f.Add(p, h)
		}
	}
	f.Fuzz(func(t *testing.T, pattern, host string) { agree(t, pattern, host) })
}

func agree(t *testing.T, pattern string, hosts ...string) {
	t.Helper()
	hp, perr := platform.ParseHostPattern(pattern)
	pol, cerr := Compile([]Rule{{Source: "s", Hosts: []string{pattern}, Ports: []PortRange{{From: 1, To: 65535}}}})
	if (perr == nil) != (cerr == nil) {
		t.Fatalf("pattern %q: the model says %v, the gateway %v", pattern, perr, cerr)
	}
	for _, host := range hosts {
		h, err := NormalizeHost(host)
		if err != nil || h.IsIP() {
			if hp.Matches(host) {
				t.Errorf("pattern %q: the model matches %q, which the gateway refuses (%v)", pattern, host, err)
			}
			continue
		}
		if n, err := platform.ReadHostPattern(host); err != nil || n.Wildcard() || n.Domain() != h.Name {
			t.Errorf("host %q: the gateway reads %q, the model %q, %v", host, h.Name, n, err)
		}
		if cerr != nil {
			continue
		}
		if got, want := pol.Check("s", h, 443).Allowed(), hp.Matches(host); got != want {
			t.Errorf("pattern %q host %q: the gateway allows %v, the model matches %v", pattern, host, got, want)
		}
	}
}
