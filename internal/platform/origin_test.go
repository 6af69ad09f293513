package platform

import (
	"strings"
	"testing"
)

func TestParseOrigin(t *testing.T) {
	tests := []struct {
		name, in, want, err string
	}{
		{name: "https", in: "https://api.bud.example.com", want: "https://api.bud.example.com"},
		{name: "wss with port", in: "wss://notify.example.com:8443", want: "wss://notify.example.com:8443"},
		{name: "wildcard", in: "https://*.example.com", want: "https://*.example.com"},
		{name: "plain http", in: "http://api.example.com", err: "expected https or wss"},
		{name: "plain ws", in: "ws://api.example.com", err: "expected https or wss"},
		{name: "no scheme", in: "api.example.com", err: "no scheme"},
		{name: "path", in: "https://api.example.com/v1", err: "without path"},
		{name: "query", in: "https://api.example.com?x=1", err: "without path"},
		{name: "user info", in: "https://me@api.example.com", err: "without path"},
		{name: "IP address", in: "https://10.0.0.1", err: "IP address"},
		{name: "port zero", in: "https://api.example.com:0", err: "port"},
		{name: "port too large", in: "https://api.example.com:65536", err: "port"},
		{name: "port with sign", in: "https://api.example.com:+443", err: "port"},
		{name: "port leading zero", in: "https://api.example.com:0443", err: "port"},
		{name: "empty host", in: "https://", err: "host"},
		{name: "upper case", in: "https://API.example.com", err: "lower case"},
		{name: "CSP keyword smuggled", in: "https://a.example.com 'unsafe-inline'", err: "without path"},
		{name: "directive smuggled", in: "https://a.example.com;script-src", err: "host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := ParseOrigin(tt.in)
			switch {
			case tt.err != "":
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("ParseOrigin(%q) = %v, %v; want error with %q", tt.in, o, err, tt.err)
				}
			case err != nil || o.String() != tt.want:
				t.Errorf("ParseOrigin(%q) = %v, %v; want %s", tt.in, o, err, tt.want)
			}
		})
	}
}

// FuzzParseOrigin: an accepted origin round-trips through String and can
// carry nothing that would end or extend a CSP directive.
func FuzzParseOrigin(f *testing.F) {
	for _, s := range []string{"https://api.example.com", "wss://a.example.com:8443", "https://*.example.com",
		"http://x.example.com", "https://a.example.com;script-src *", "https://a.example.com 'unsafe-eval'", "https://[::1]:443"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := ParseOrigin(s)
		if err != nil {
			return
		}
		if strings.ContainsAny(o.String(), " ;,'\"\n\t") {
			t.Fatalf("ParseOrigin(%q) accepted %q, which could alter the CSP", s, o)
		}
		again, err := ParseOrigin(o.String())
		if err != nil || again != o {
			t.Fatalf("%q does not round-trip: %v, %v", o, again, err)
		}
	})
}
