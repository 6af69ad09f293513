package cli

import (
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/platform"
	"github.com/budnet/budnet/internal/tlsprobe"
)

// runTLS runs `budnet tls check args...` through the real command tree.
func runTLS(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return run(t, "", append([]string{"tls", "check"}, args...)...)
}

// tlsServer starts an HTTPS test server with cfg and writes its certificate
// to a file usable as --ca.
func tlsServer(t *testing.T, cfg *tls.Config) (target, caFile string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	srv.TLS = cfg
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the probe fails handshakes on purpose
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return "tls://" + strings.TrimPrefix(srv.URL, "https://"), caFile
}

func TestTLSCheckUsageErrors(t *testing.T) {
	badCA := filepath.Join(t.TempDir(), "empty.pem")
	if err := os.WriteFile(badCA, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "no targets", args: nil, want: "no targets"},
		{name: "bad target", args: []string{"ftp://x"}, want: "unknown scheme"},
		{name: "bad output", args: []string{"-o", "yaml", "tls://x:1"}, want: "unknown output format"},
		{name: "bad fail-on", args: []string{"--fail-on", "info", "tls://x:1"}, want: "--fail-on"},
		{name: "missing ca", args: []string{"--ca", "/nonexistent/ca.pem", "tls://x:1"}, want: "read --ca"},
		{name: "ca without certificates", args: []string{"--ca", badCA, "tls://x:1"}, want: "no PEM certificates"},
		{name: "bad resolve", args: []string{"--resolve", "x:1", "tls://x:1"}, want: "--resolve"},
		{name: "bad timeout", args: []string{"--timeout", "0s", "tls://x:1"}, want: "--timeout"},
		{name: "bad min version", args: []string{"--min-version", "1.1", "tls://x:1"}, want: "--min-version"},
		{name: "bad http port", args: []string{"--http-port", "0", "tls://x:1"}, want: "--http-port"},
		{name: "unknown flag", args: []string{"--nope", "tls://x:1"}, want: "unknown flag"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runTLS(t, tc.args...)
			if code != ExitUsage {
				t.Errorf("exit code %d, want %d", code, ExitUsage)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr %q does not mention %q", errOut, tc.want)
			}
		})
	}
}

func TestTLSCheckExitCodes(t *testing.T) {
	modern, modernCA := tlsServer(t, &tls.Config{MinVersion: tls.VersionTLS12})
	legacy, legacyCA := tlsServer(t, &tls.Config{MinVersion: tls.VersionTLS10})
	tests := []struct {
		name string
		args []string
		code int
	}{
		{name: "modern server, trusted", args: []string{"--ca", modernCA, modern}, code: ExitOK},
		{name: "modern server, system roots", args: []string{modern}, code: ExitFindings},
		{name: "tls 1.0 accepted", args: []string{"--ca", legacyCA, legacy}, code: ExitFindings},
		{name: "tls 1.0 accepted, fail-on critical", args: []string{"--ca", legacyCA, "--fail-on", "critical", legacy}, code: ExitOK},
		{name: "tls 1.2 accepted, 1.3 required", args: []string{"--ca", modernCA, "--min-version", "1.3", modern}, code: ExitFindings},
		{name: "cbc suites fail at low", args: []string{"--ca", modernCA, "--fail-on", "low", modern}, code: ExitFindings},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runTLS(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
		})
	}
}

func TestTLSCheckJSON(t *testing.T) {
	target, ca := tlsServer(t, &tls.Config{MinVersion: tls.VersionTLS12})
	code, out, errOut := runTLS(t, "-o", "json", "--ca", ca, target, target)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep tlsprobe.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("output is not a report: %v\n%s", err, out)
	}
	if rep.SchemaVersion != tlsprobe.SchemaVersion || len(rep.Endpoints) != 2 || rep.Summary.Failing != 0 {
		t.Errorf("report = %+v", rep)
	}
	if !strings.Contains(out, `"durationMs"`) || !strings.Contains(out, `"source": "command line"`) {
		t.Errorf("json lacks durationMs or source:\n%s", out)
	}
}

func TestTLSCheckPlatform(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runTLS(t, "--platform", bad); code != ExitUsage {
		t.Errorf("invalid platform file: exit %d, want %d (%s)", code, ExitUsage, errOut)
	}
	// The embedded model names in-cluster and example.com hosts; pointing every
	// one at loopback (nothing listens on those ports here) proves the targets
	// are built and probed without any DNS lookup.
	bud, err := platform.Default()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--platform", platform.BudFile, "-o", "json", "--timeout", "2s"}
	for _, tg := range tlsprobe.TargetsFromPlatform(bud) {
		args = append(args, "--resolve", fmt.Sprintf("%s:%d:127.0.0.1", tg.Host, tg.Port))
	}
	code, out, _ := runTLS(t, args...)
	var rep tlsprobe.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not a report: %v\n%s", err, out)
	}
	if code != ExitFindings {
		t.Errorf("exit %d, want %d: unreachable endpoints fail at high", code, ExitFindings)
	}
	seen := map[string]bool{}
	for _, e := range rep.Endpoints {
		seen[e.Target] = true
		if e.Source == "" || e.Source == "command line" {
			t.Errorf("%s: source %q, want a model path", e.Target, e.Source)
		}
	}
	if !seen["postgres://postgresql.bud-data.svc.cluster.local:5432"] {
		t.Errorf("postgres target missing from %v", seen)
	}
}
