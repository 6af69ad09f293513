package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/platform"
)

// runPlatformCmd runs `budnet platform args...` through the real command tree.
func runPlatformCmd(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	return run(t, stdin, append([]string{"platform"}, args...)...)
}

func TestPlatformShowYAMLIsTheEmbeddedFile(t *testing.T) {
	code, out, _ := runPlatformCmd(t, "", "show")
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	if out != string(platform.BudYAML()) {
		t.Error("show -o yaml does not print the embedded file as is")
	}
	if !strings.Contains(out, "# Bud AI Foundry") || !strings.Contains(out, "note:") {
		t.Error("show dropped the comments or notes")
	}
}

func TestPlatformShowJSONIsTheDefaultedModel(t *testing.T) {
	code, out, _ := runPlatformCmd(t, "", "show", "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	var p platform.Platform
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("show -o json is not a platform: %v", err)
	}
	if p.Kind != platform.Kind || len(p.Spec.Workloads) == 0 {
		t.Fatalf("decoded %+v", p.Metadata)
	}
	// Defaults applied: Dapr sidecar ports and the Service name.
	w, ok := p.Workload("budapp")
	if !ok || w.Service != "budapp" {
		t.Fatalf("budapp = %+v", w)
	}
	if np, ok := w.Port("dapr-internal"); !ok || np.Port != 50002 {
		t.Errorf("budapp dapr-internal = %v, %v", np, ok)
	}
}

func TestPlatformValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, platform.BudYAML(), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	badYAML := `apiVersion: budnet.io/v1alpha1
kind: Platform
metadata: {name: bad}
spec:
  zones: [{name: app}]
  workloads:
    - {name: web, zone: nope, role: service, podLabels: {app: web}}
    - {name: db, zone: app, role: cache, podLabels: {app: db}}
`
	if err := os.WriteFile(bad, []byte(badYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	problem := regexp.MustCompile(`^[^:]+:\d+: [a-zA-Z.\[\]0-9]+: .+$`)
	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		wantOut  []string
	}{
		{name: "valid file", args: []string{good}, wantCode: ExitOK, wantOut: []string{"OK: " + good + ": valid platform file"}},
		{name: "example files", args: []string{"../../examples/platforms/minimal.yaml", "../../examples/platforms/egress-gateway.yaml"},
			wantCode: ExitOK, wantOut: []string{"valid platform files"}},
		{name: "every problem with file, line and field", args: []string{good, bad}, wantCode: ExitUsage,
			wantOut: []string{bad + ":7: spec.workloads[0].zone: zone \"nope\" does not exist", bad + ":8: spec.workloads[1].role: is \"cache\""}},
		{name: "missing file", args: []string{filepath.Join(dir, "missing.yaml")}, wantCode: ExitUsage, wantOut: []string{"missing.yaml: cannot read platform file"}},
		{name: "stdin", args: []string{"-"}, stdin: string(platform.BudYAML()), wantCode: ExitOK, wantOut: []string{"OK: <stdin>"}},
		{name: "stdin garbage", args: []string{"-"}, stdin: "kind: [", wantCode: ExitUsage, wantOut: []string{"<stdin>:1: invalid YAML"}},
		{name: "no arguments", args: nil, wantCode: ExitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, _ := runPlatformCmd(t, tt.stdin, append([]string{"validate"}, tt.args...)...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d; output:\n%s", code, tt.wantCode, out)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if tt.wantCode == ExitUsage && strings.Contains(strings.Join(tt.args, " "), "bad.yaml") {
				for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
					if !problem.MatchString(line) {
						t.Errorf("line %q is not file:line: field: message", line)
					}
				}
			}
		})
	}
}

func TestPlatformShowRejectsUnknownFormat(t *testing.T) {
	code, _, _ := runPlatformCmd(t, "", "show", "-o", "xml")
	if code != ExitUsage {
		t.Errorf("exit %d, want %d", code, ExitUsage)
	}
}
