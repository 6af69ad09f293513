package generate

import (
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/platform"
)

func TestObjectName(t *testing.T) {
	long := strings.Repeat("very-long-workload-name-", 20)
	tests := []struct {
		name  string
		parts []string
		want  string
	}{
		{name: "joins parts", parts: []string{"allow", "bud-system", "to", "postgresql", "5432"}, want: "allow-bud-system-to-postgresql-5432"},
		{name: "drops empty parts", parts: []string{"allow", "", "x"}, want: "allow-x"},
		{name: "lower-cases and replaces", parts: []string{"Allow", "a.b_c/d"}, want: "allow-a-b-c-d"},
		{name: "long names keep a stable hash", parts: []string{"allow", long, "to", long}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := objectName(tt.parts...)
			if tt.want != "" && got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if len(got) > maxNameLen || !isSubdomain(got) {
				t.Errorf("%q (%d characters) is not a DNS-1123 subdomain", got, len(got))
			}
			if again := objectName(tt.parts...); again != got {
				t.Errorf("not stable: %q then %q", got, again)
			}
		})
	}
	a := objectName("allow", long, "a")
	b := objectName("allow", long, "b")
	if a == b || len(a) != maxNameLen {
		t.Errorf("long names: %q and %q, want distinct names of %d characters", a, b, maxNameLen)
	}
}

func isSubdomain(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	return strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == ""
}

func TestPortsName(t *testing.T) {
	tests := []struct {
		name   string
		ranges []platform.PortRange
		want   string
	}{
		{name: "single", ranges: []platform.PortRange{{Protocol: "TCP", Port: 5432, EndPort: 5432}}, want: "5432"},
		{name: "sorted without duplicates", ranges: []platform.PortRange{{Protocol: "TCP", Port: 9000, EndPort: 9000}, {Protocol: "TCP", Port: 8123, EndPort: 8123}, {Protocol: "TCP", Port: 9000, EndPort: 9000}}, want: "8123-9000"},
		{name: "range and protocol", ranges: []platform.PortRange{{Protocol: "UDP", Port: 53, EndPort: 53}, {Protocol: "TCP", Port: 30000, EndPort: 30010}}, want: "30000to30010-udp53"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := portsName(tt.ranges); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHostFlowName(t *testing.T) {
	tests := []struct{ name, flow, caller, want string }{
		{name: "prefix dropped", flow: "budgateway-llm-apis", caller: "budgateway", want: "llm-apis"},
		{name: "no prefix", flow: "monitoring-alerting", caller: "grafana", want: "monitoring-alerting"},
		{name: "flow equals caller prefix only", flow: "api-", caller: "api", want: "api-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hostFlowName(tt.flow, tt.caller); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// FuzzObjectName: whatever the model's names, a policy name is a valid,
// bounded DNS-1123 subdomain (or empty when nothing usable is left).
func FuzzObjectName(f *testing.F) {
	for _, s := range []string{"bud-system", "Bud_System", "--", "é漢字", strings.Repeat("x", 300), "a..b"} {
		f.Add(s, "to", s)
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		got := objectName("allow", a, b, c)
		if len(got) > maxNameLen || !isSubdomain(got) {
			t.Errorf("objectName(%q, %q, %q) = %q", a, b, c, got)
		}
	})
}
