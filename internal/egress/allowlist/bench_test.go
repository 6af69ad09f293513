package allowlist

import "testing"

// BenchmarkNormalizeCheck is the gateway's per-request host work: a
// requested host normalised and checked against a compiled allowlist, for
// the common lower-case name, an upper-case spelling, a Unicode name and a
// wildcard match.
func BenchmarkNormalizeCheck(b *testing.B) {
	p, err := Compile([]Rule{{Source: "s", Hosts: []string{"api.openai.com", "*.openai.azure.com", "bücher.example"}}})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, host string }{
		{name: "plain", host: "api.openai.com"},
		{name: "upper case", host: "API.OpenAI.com."},
		{name: "unicode", host: "bücher.example"},
		{name: "wildcard", host: "x.eastus.openai.azure.com"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				h, err := NormalizeHost(bc.host)
				if err != nil || !p.Check("s", h, 443).Allowed() {
					b.Fatal(bc.host, err)
				}
			}
		})
	}
}
