package cli

import (
	"encoding/json"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/dnstest"
	"github.com/budnet/budnet/internal/egress/nstest"
)

type checkJSON struct {
	Source  string `json:"source"`
	Results []struct {
		Requested  string `json:"requested"`
		Decision   string `json:"decision"`
		Reason     string `json:"reason"`
		Rule       string `json:"rule"`
		Resolved   string `json:"resolved"`
		Unresolved bool   `json:"unresolved"`
	} `json:"results"`
}

func runCheck(t *testing.T, args ...string) (int, checkJSON, string) {
	t.Helper()
	code, out, errOut := run(t, "", append([]string{"egress", "check", "-o", "json"}, args...)...)
	var got checkJSON
	if code != ExitUsage {
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out)
		}
	}
	return code, got, errOut
}

// TestEgressCheck decides against the embedded model what the gateway would,
// including requests written to get past the allowlist.
func TestEgressCheck(t *testing.T) {
	tests := []struct {
		target, requested, decision, reason string
	}{
		{"api.openai.com:443", "api.openai.com:443", "allow", "rule"},
		{"https://api.anthropic.com/v1/messages", "api.anthropic.com:443", "allow", "rule"},
		{"API.OpenAI.com.:443", "API.OpenAI.com.:443", "allow", "rule"},
		{"api.openai.com:80", "api.openai.com:80", "deny", "port_not_allowed"},
		{"http://api.openai.com/", "api.openai.com:80", "deny", "port_not_allowed"},
		{"example.org:443", "example.org:443", "deny", "host_not_allowed"},
		{"api.openai.com.evil.net:443", "api.openai.com.evil.net:443", "deny", "host_not_allowed"},
		{"evil-api.openai.com:443", "evil-api.openai.com:443", "deny", "host_not_allowed"},
		{"2130706433:443", "2130706433:443", "deny", "denied_address"},
		{"0x7f.1:443", "0x7f.1:443", "deny", "denied_address"},
		{"169.254.169.254:80", "169.254.169.254:80", "deny", "ip_not_allowed"},
		{"[::ffff:169.254.169.254]:443", "[::ffff:169.254.169.254]:443", "deny", "ip_not_allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.target, func(t *testing.T) {
			code, got, errOut := runCheck(t, "--source", "budgateway", tc.target)
			wantCode := ExitOK
			if tc.decision != "allow" {
				wantCode = ExitFindings
			}
			if code != wantCode {
				t.Fatalf("exit %d, want %d; stderr %s", code, wantCode, errOut)
			}
			r := got.Results[0]
			if r.Requested != tc.requested || r.Decision != tc.decision || r.Reason != tc.reason {
				t.Fatalf("got %+v, want %s %s/%s", r, tc.requested, tc.decision, tc.reason)
			}
			// A refused literal or spelling names the address it denotes.
			if wantAddr := map[string]string{"2130706433:443": "127.0.0.1:443", "0x7f.1:443": "127.0.0.1:443",
				"169.254.169.254:80": "169.254.169.254:80", "[::ffff:169.254.169.254]:443": "[::ffff:169.254.169.254]:443"}[tc.target]; r.Resolved != wantAddr {
				t.Fatalf("resolved %q, want %q", r.Resolved, wantAddr)
			}
			if r.Decision == "allow" && (!r.Unresolved || r.Rule == "") {
				t.Fatalf("an allowed name without --resolve must say it was not resolved and name its rule: %+v", r)
			}
		})
	}
	// One denied target among allowed ones fails the whole check.
	if code, got, _ := runCheck(t, "--source", "budgateway", "api.openai.com:443", "example.org:443"); code != ExitFindings || len(got.Results) != 2 {
		t.Fatalf("mixed targets: exit %d, %d results", code, len(got.Results))
	}
	// Another workload has another allowlist.
	if code, got, _ := runCheck(t, "--source", "budadmin", "api.openai.com:443"); code != ExitFindings || got.Results[0].Reason != "host_not_allowed" {
		t.Fatalf("budadmin to an LLM API: exit %d, %+v", code, got.Results)
	}
}

func TestEgressCheckUsage(t *testing.T) {
	for _, args := range [][]string{
		{"api.openai.com:443"},
		{"--source", "nosuch", "api.openai.com:443"},
		{"--source", "budgateway"},
		{"--source", "budgateway", "api.openai.com"},
		{"--source", "budgateway", "ftp://api.openai.com/"},
		{"--source", "budgateway", "https://user:pw@api.openai.com/"},
		{"--source", "budgateway", "--mode", "audit", "api.openai.com:443"},
		{"--source", "budgateway", "-o", "yaml", "api.openai.com:443"},
		{"--source", "budgateway", "--platform", "/nonexistent.yaml", "api.openai.com:443"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, _, errOut := run(t, "", append([]string{"egress", "check"}, args...)...)
			if code != ExitUsage || !strings.HasPrefix(errOut, "error: ") {
				t.Fatalf("exit %d, stderr %q; want 2 and an error", code, errOut)
			}
		})
	}
}

// TestEgressCheckModeAndResolve: report mode lets an allowlist denial through
// (and the check still fails, since enforce would deny it); --resolve applies
// the address guard to what a name resolves to, asked of a DNS server on
// loopback: an allowlisted name that answers with a private address, or with
// a mix of public and private ones, is refused.
func TestEgressCheckModeAndResolve(t *testing.T) {
	file := filepath.Join("..", "..", "examples", "platforms", "egress-gateway.yaml")
	code, got, _ := runCheck(t, "--platform", file, "--source", "budgateway", "example.org:443")
	if code != ExitFindings || got.Results[0].Decision != "would_deny" || got.Results[0].Reason != "host_not_allowed" {
		t.Fatalf("report mode: exit %d, %+v", code, got.Results)
	}
	dns := dnstest.Start(t, map[string][]netip.Addr{
		"api.openai.com":           {netip.MustParseAddr("162.159.140.245")},
		"private.openai.azure.com": {netip.MustParseAddr("10.0.0.7")},
		"mixed.openai.azure.com":   {netip.MustParseAddr("20.42.0.1"), netip.MustParseAddr("169.254.169.254")},
		"mapped.openai.azure.com":  {netip.MustParseAddr("::ffff:127.0.0.1")},
	})
	tests := []struct{ target, decision, reason, resolved string }{
		{"api.openai.com:443", "allow", "rule", "162.159.140.245:443"},
		{"private.openai.azure.com:443", "deny", "denied_address", "10.0.0.7:443"},
		{"mixed.openai.azure.com:443", "deny", "mixed_addresses", "169.254.169.254:443"},
		{"mapped.openai.azure.com:443", "deny", "denied_address", "127.0.0.1:443"},
		{"nxdomain.openai.azure.com:443", "deny", "resolve_failed", ""},
	}
	for _, tc := range tests {
		code, got, errOut := runCheck(t, "--platform", file, "--source", "budgateway", "--mode", "enforce", "--resolve", "--dns-server", dns.Addr, tc.target)
		if len(got.Results) != 1 {
			t.Fatalf("%s: exit %d, stderr %s", tc.target, code, errOut)
		}
		r := got.Results[0]
		if r.Decision != tc.decision || r.Reason != tc.reason || r.Resolved != tc.resolved || r.Unresolved {
			t.Errorf("%s: got %+v, want %s/%s at %q", tc.target, r, tc.decision, tc.reason, tc.resolved)
		}
	}
	if dns.Queries.Load() == 0 {
		t.Fatal("the DNS server was never asked")
	}
	if code, _, _ := run(t, "", "egress", "check", "--source", "budgateway", "--dns-server", dns.Addr, "api.openai.com:443"); code != ExitUsage {
		t.Fatalf("--dns-server without --resolve: exit %d, want 2", code)
	}
}

// TestEgressCheckResolvesAbsoluteNames: `egress check --resolve` must ask for
// the name itself, never a search-list candidate, under a pod's resolv.conf
// (search domains, ndots:5) where a record in the cluster zone answers for
// api.openai.com.svc.cluster.local. Both the system resolver and
// --dns-server (which keeps resolv.conf's search list) are checked, with Go's
// resolver and glibc's.
func TestEgressCheckResolvesAbsoluteNames(t *testing.T) {
	if !nstest.Enter(t, "GODEBUG=netdns=go", "GODEBUG=netdns=cgo") {
		return
	}
	nstest.BindFile(t, "/etc/resolv.conf", "search ns.svc.cluster.local svc.cluster.local cluster.local\nnameserver 127.0.0.1\noptions ndots:5\n")
	nstest.BindFile(t, "/etc/hosts", "127.0.0.1 localhost\n")
	nstest.Loopback(t)
	dns := dnstest.StartAt(t, "127.0.0.1:53", map[string][]netip.Addr{
		"api.openai.com":                   {netip.MustParseAddr("162.159.140.245")},
		"api.openai.com.svc.cluster.local": {netip.MustParseAddr("93.184.215.14")},
	})
	for _, tc := range []struct {
		name string
		args []string
	}{
		{name: "system resolver", args: []string{"--resolve"}},
		{name: "dns server", args: []string{"--resolve", "--dns-server", "127.0.0.1:53"}},
	} {
		for _, target := range []string{"api.openai.com:443", "API.OPENAI.COM.:443", "https://api.openai.com/"} {
			t.Run(tc.name+" "+target, func(t *testing.T) {
				args := append([]string{"--source", "budgateway"}, tc.args...)
				code, got, errOut := runCheck(t, append(args, target)...)
				if code != ExitOK || len(got.Results) != 1 {
					t.Fatalf("exit %d, %+v; stderr %s", code, got.Results, errOut)
				}
				if r := got.Results[0]; r.Resolved != "162.159.140.245:443" {
					t.Fatalf("resolved %q, want the name's own address 162.159.140.245:443", r.Resolved)
				}
			})
		}
	}
	for _, n := range dns.Names() {
		if n != "api.openai.com." {
			t.Errorf("the DNS server was asked %q; want only api.openai.com.", n)
		}
	}
	if len(dns.Names()) == 0 {
		t.Fatal("the DNS server got no question")
	}
}
