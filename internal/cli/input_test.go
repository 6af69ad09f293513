package cli

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestEmptyInputIsAnError: a CI job pointed at the wrong path must not go
// green. No objects is an input error (exit 2) naming what was read, for
// audit and reach alike, unless --allow-empty.
func TestEmptyInputIsAnError(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.yaml")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	emptyDir := filepath.Join(dir, "manifests")
	if err := os.Mkdir(emptyDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(emptyDir, "README.md"), []byte("# docs\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	nothing := filepath.Join("testdata", "charts", "nothing")
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		{name: "audit empty file", args: []string{"audit", "-f", empty, "--fail-on", "high"}, want: empty + " (file, 0 documents)"},
		{name: "audit empty directory", args: []string{"audit", "-f", emptyDir}, want: emptyDir + " (directory, 0 manifest files; 1 other file skipped)"},
		{name: "audit empty stdin", args: []string{"audit", "-f", "-"}, want: "<stdin> (stdin, 0 documents)"},
		{name: "audit chart rendering nothing", args: []string{"audit", "--chart", nothing}, want: nothing + " (Helm chart, 0 templates rendered to YAML)"},
		{name: "reach empty file", args: []string{"reach", "-f", empty}, want: empty + " (file, 0 documents)"},
		{name: "reach empty stdin", args: []string{"reach", "-f", "-"}, stdin: "# nothing\n---\n", want: "<stdin> (stdin, 0 documents)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := run(t, tt.stdin, tt.args...)
			if code != ExitUsage {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, ExitUsage, out, stderr)
			}
			if out != "" {
				t.Errorf("wrote a report for no input: %q", out)
			}
			for _, want := range []string{"no Kubernetes objects", tt.want, "--allow-empty"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr %q does not contain %q", stderr, want)
				}
			}
			code, _, stderr = run(t, tt.stdin, append(tt.args, "--allow-empty")...)
			if code == ExitUsage {
				t.Errorf("--allow-empty: exit %d: %s", code, stderr)
			}
		})
	}
}

// TestValidateFlag: kubectl's --validate names and meanings.
func TestValidateFlag(t *testing.T) {
	dir := t.TempDir()
	typo := filepath.Join(dir, "np.yaml")
	src := `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
    - form: [{podSelector: {matchLabels: {app: api}}}]
`
	if err := os.WriteFile(typo, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		code     int
		stderr   string
		noStderr string
	}{
		{name: "strict by default", args: []string{"reach", "-f", typo}, code: ExitUsage, stderr: typo + `:7: spec.ingress[0].form: unknown field "form"`},
		{name: "strict", args: []string{"reach", "-f", typo, "--validate=strict"}, code: ExitUsage, stderr: `unknown field "form"`},
		{name: "strict says how to read on", args: []string{"reach", "-f", typo}, code: ExitUsage, stderr: "--validate=warn reads past them"},
		{name: "true is strict, as kubectl", args: []string{"reach", "-f", typo, "--validate=true"}, code: ExitUsage, stderr: `unknown field "form"`},
		{name: "warn", args: []string{"reach", "-f", typo, "--validate=warn"}, code: ExitOK, stderr: `unknown field \"spec.ingress[0].form\"`},
		{name: "ignore", args: []string{"reach", "-f", typo, "--validate=ignore"}, code: ExitOK, noStderr: "unknown field"},
		{name: "false is ignore", args: []string{"reach", "-f", typo, "--validate=false"}, code: ExitOK, noStderr: "unknown field"},
		{name: "audit strict", args: []string{"audit", "-f", typo}, code: ExitUsage, stderr: `spec.ingress[0].form: unknown field "form"`},
		{name: "audit warn", args: []string{"audit", "-f", typo, "--validate=warn", "--fail-on", "critical", "-o", "json"}, stderr: `unknown field \"spec.ingress[0].form\"`},
		{name: "bad value", args: []string{"reach", "-f", typo, "--validate=lenient"}, code: ExitUsage, stderr: `--validate "lenient"`},
		{name: "bad namespace flag", args: []string{"reach", "-f", typo, "-n", "Bad NS"}, code: ExitUsage, stderr: `-n "Bad NS"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, "", tt.args...)
			if tt.args[0] == "audit" && tt.code == ExitOK {
				if code == ExitUsage {
					t.Fatalf("exit %d: %s", code, stderr)
				}
			} else if code != tt.code {
				t.Fatalf("exit %d, want %d: %s", code, tt.code, stderr)
			}
			if tt.stderr != "" && !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q does not contain %q", stderr, tt.stderr)
			}
			if tt.noStderr != "" && strings.Contains(stderr, tt.noStderr) {
				t.Errorf("stderr %q contains %q", stderr, tt.noStderr)
			}
		})
	}
}

// TestReachInvalidPolicy: an invalid NetworkPolicy is reported with file,
// line and field, never with Go internals (netip.ParsePrefix).
func TestReachInvalidPolicy(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, policy, want string
	}{
		{name: "CIDR", policy: "  ingress:\n    - from: [{ipBlock: {cidr: 10.0.0.0/33}}]\n", want: ":7: spec.ingress[0].from[0].ipBlock.cidr: Invalid value: \"10.0.0.0/33\""},
		{name: "except", policy: "  egress:\n    - to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/4]}}]\n", want: ":7: spec.egress[0].to[0].ipBlock.except[0]"},
		{name: "port", policy: "  ingress:\n    - ports: [{port: 0}]\n", want: ":7: spec.ingress[0].ports[0].port"},
		{name: "selector", policy: "  ingress:\n    - from: [{podSelector: {matchExpressions: [{key: app, operator: In}]}}]\n", want: ":7: spec.ingress[0].from[0].podSelector.matchExpressions[0].values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := filepath.Join(dir, tt.name+".yaml")
			src := "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: shop}\nspec:\n  podSelector: {}\n" + tt.policy
			if err := os.WriteFile(f, []byte(twoApps+"---\n"+src), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out, stderr := run(t, "", "reach", "-f", f)
			if code != ExitUsage || out != "" {
				t.Fatalf("exit %d, stdout %q; want 2 and nothing", code, out)
			}
			line := strings.Count(twoApps+"---\n", "\n")
			want := strings.Replace(tt.want, ":7:", ":"+strconv.Itoa(line+7)+":", 1)
			if !strings.Contains(stderr, f+want) {
				t.Errorf("stderr %q does not contain %q", stderr, f+want)
			}
			for _, leak := range []string{"netip", "ParsePrefix", "netpol"} {
				if strings.Contains(stderr, leak) {
					t.Errorf("stderr leaks %q: %s", leak, stderr)
				}
			}
		})
	}
}

// TestAuditChartMissingDependency: as helm template, a dependency declared
// in Chart.yaml and missing from charts/ is an input error with the fix.
func TestAuditChartMissingDependency(t *testing.T) {
	chart := filepath.Join("..", "manifest", "testdata", "charts", "budmissing")
	code, out, stderr := run(t, "", "audit", "--chart", chart)
	if code != ExitUsage || out != "" {
		t.Fatalf("exit %d, stdout %q; want 2 and no report", code, out)
	}
	for _, want := range []string{filepath.Join(chart, "Chart.yaml") + ":13: dependencies[2]", "missing in charts/ directory: valkey, minio", "helm dependency build"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q does not contain %q", stderr, want)
		}
	}
}
