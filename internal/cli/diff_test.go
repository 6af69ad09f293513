package cli

import (
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// update rewrites the golden files in testdata (go test -run Golden -update):
// one flag for every golden test of the package.
var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// diffFixture is a change to the minimal model's reference install with
// budnet's policies (testdata/diff/base): the head widens web => api to
// 9090 (unintended), drops the policy that admits api => postgresql
// (breaks an intended flow), excepts 203.0.113.0/24 from the internet's
// access to web (breaks the ingress flow for that range: the two matrices cut
// the address space differently), and adds a reporting Deployment with a
// plaintext DSN (new findings; its DNS egress is a connection the model does
// not describe).
var diffFixture = struct{ base, head, model string }{
	base:  filepath.Join("..", "..", "examples", "shop-change", "base"),
	head:  filepath.Join("..", "..", "examples", "shop-change", "head"),
	model: filepath.Join("..", "..", "examples", "platforms", "minimal.yaml"),
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "diff", "golden", name)
	// The SARIF driver names budnet's version, which depends on how the test
	// binary was built (build info, -ldflags): the goldens hold a marker.
	got = strings.ReplaceAll(got, `"version": "`+BuildVersion().Version+`"`, `"version": "BUDNET_VERSION"`)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test -update to rewrite it after checking):\n%s", name, got)
	}
}

// TestDiffGolden runs the fixture change in every format, and reversed (the
// head back to the base), and pins the outputs and exit codes.
func TestDiffGolden(t *testing.T) {
	tests := []struct {
		name       string
		base, head string
		args       []string
		wantCode   int
	}{
		{name: "text", base: diffFixture.base, head: diffFixture.head, wantCode: ExitFindings},
		{name: "json", base: diffFixture.base, head: diffFixture.head, args: []string{"-o", "json"}, wantCode: ExitFindings},
		{name: "markdown", base: diffFixture.base, head: diffFixture.head, args: []string{"-o", "markdown"}, wantCode: ExitFindings},
		{name: "sarif", base: diffFixture.base, head: diffFixture.head, args: []string{"-o", "sarif"}, wantCode: ExitFindings},
		{name: "reverse.text", base: diffFixture.head, head: diffFixture.base, wantCode: ExitOK},
		{name: "same.text", base: diffFixture.base, head: diffFixture.base, wantCode: ExitOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"diff", "--base", tt.base, "--head", tt.head, "--platform", diffFixture.model}, tt.args...)
			code, out, stderr := run(t, "", args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d: %s", code, tt.wantCode, stderr)
			}
			checkGolden(t, tt.name+".golden", out)
		})
	}
}

// TestDiffExitCodes: what fails the gate, each on its own.
func TestDiffExitCodes(t *testing.T) {
	base := diffFixture.base
	dir := t.TempDir()
	copyDir := func(name string) string {
		t.Helper()
		out := filepath.Join(dir, name)
		if err := os.CopyFS(out, os.DirFS(base)); err != nil {
			t.Fatal(err)
		}
		return out
	}
	// Only a new high finding, and no connection changed: fails with
	// --fail-on high, passes with critical.
	medium := copyDir("privileged")
	ns, err := os.ReadFile(filepath.Join(medium, "00-namespaces.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The shop zone enforces privileged Pod Security: BUD-3.1-05 (high).
	edited := strings.Replace(string(ns), "pod-security.kubernetes.io/enforce: restricted", "pod-security.kubernetes.io/enforce: privileged", 1)
	if edited == string(ns) {
		t.Fatal("fixture lacks the pod-security label this test edits")
	}
	if err := os.WriteFile(filepath.Join(medium, "00-namespaces.yaml"), []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.yaml")
	if err := os.WriteFile(other, []byte(`apiVersion: budnet.io/v1alpha1
kind: Platform
metadata: {name: other}
spec:
  zones: [{name: billing}]
  workloads:
    - {name: ledger, zone: billing, role: service, podLabels: {app: ledger}, ports: [{name: http, port: 8080}]}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{name: "new high finding under --fail-on critical", args: []string{"--base", base, "--head", medium, "--fail-on", "critical"}, wantCode: ExitOK},
		{name: "new high finding under --fail-on high", args: []string{"--base", base, "--head", medium}, wantCode: ExitFindings},
		{name: "no base", args: []string{"--head", base}, wantCode: ExitUsage, wantErr: "no base"},
		{name: "two bases", args: []string{"--base", base, "--base-chart", "x", "--head", base}, wantCode: ExitUsage, wantErr: "mutually exclusive"},
		{name: "stdin", args: []string{"--base", "-", "--head", base}, wantCode: ExitUsage, wantErr: "stdin"},
		{name: "values without a chart", args: []string{"--base", base, "--head", base, "--head-values", "v.yaml"}, wantCode: ExitUsage, wantErr: "need --head-chart"},
		{name: "unknown format", args: []string{"--base", base, "--head", base, "-o", "html"}, wantCode: ExitUsage, wantErr: `unknown output format "html"`},
		{name: "bad severity", args: []string{"--base", base, "--head", base, "--fail-on", "info"}, wantCode: ExitUsage, wantErr: "--fail-on"},
		{name: "missing head file", args: []string{"--base", base, "--head", filepath.Join(dir, "nope")}, wantCode: ExitUsage, wantErr: "head:"},
		{name: "empty base without --allow-empty", args: []string{"--base", t.TempDir(), "--head", base}, wantCode: ExitUsage, wantErr: "base:"},
		{name: "another model's deployment", args: []string{"--base", base, "--head", base, "--platform", other},
			wantCode: ExitUsage, wantErr: "matches a workload of the head"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"diff"}, tt.args...)
			if !strings.Contains(strings.Join(tt.args, " "), "--platform") {
				args = append(args, "--platform", diffFixture.model)
			}
			code, _, stderr := run(t, "", args...)
			if code != tt.wantCode || !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tt.wantCode, tt.wantErr)
			}
		})
	}
}

// TestDiffBaseRef reads the base from git: the fixture's base committed, the
// work tree then changed to the head. The result is the same as diffing the
// two directories, and the base's inputs are named REF:path.
func TestDiffBaseRef(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	repo := t.TempDir()
	gitRun := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", repo}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t",
			"GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	deploy := filepath.Join(repo, "deploy")
	if err := os.CopyFS(deploy, os.DirFS(diffFixture.base)); err != nil {
		t.Fatal(err)
	}
	gitRun("init", "-q", "-b", "main")
	gitRun("add", ".")
	gitRun("commit", "-q", "-m", "base")
	if err := os.RemoveAll(deploy); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(deploy, os.DirFS(diffFixture.head)); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := run(t, "", "diff", "--base-ref", "main", "--head", deploy, "--platform", diffFixture.model, "-o", "json")
	if code != ExitFindings {
		t.Fatalf("exit %d, want 1: %s", code, stderr)
	}
	_, dirs, _ := run(t, "", "diff", "--base", diffFixture.base, "--head", diffFixture.head, "--platform", diffFixture.model, "-o", "json")
	var fromGit, fromDirs struct {
		Metadata struct {
			Base struct {
				Inputs []string `json:"inputs"`
			} `json:"base"`
			Failures []string `json:"failures"`
		} `json:"metadata"`
		Connections []map[string]any `json:"connections"`
	}
	if err := json.Unmarshal([]byte(out), &fromGit); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(dirs), &fromDirs); err != nil {
		t.Fatal(err)
	}
	if got := fromGit.Metadata.Base.Inputs; len(got) != 1 || got[0] != "main:deploy" {
		t.Errorf("base inputs %q, want [main:deploy]", got)
	}
	g, _ := json.Marshal(fromGit.Connections)
	d, _ := json.Marshal(fromDirs.Connections)
	if string(g) != string(d) || len(fromGit.Metadata.Failures) != len(fromDirs.Metadata.Failures) {
		t.Errorf("--base-ref and the directories disagree:\n%s\n%s", g, d)
	}

	for _, tt := range []struct{ name, ref, want string }{
		{name: "unknown ref", ref: "no-such-branch", want: "not a commit"},
		{name: "option-like ref", ref: "--output=/tmp/x", want: "cannot start with '-'"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, "", "diff", "--base-ref", tt.ref, "--head", deploy, "--platform", diffFixture.model)
			if code != ExitUsage || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tt.want)
			}
		})
	}
	t.Run("outside a repository", func(t *testing.T) {
		code, _, stderr := run(t, "", "diff", "--base-ref", "main", "--head", t.TempDir(), "--platform", diffFixture.model)
		if code != ExitUsage || !strings.Contains(stderr, "not in a git repository") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("a path new in the head", func(t *testing.T) {
		extra := filepath.Join(repo, "extra")
		if err := os.CopyFS(extra, os.DirFS(diffFixture.base)); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := run(t, "", "diff", "--base-ref", "main", "--head", extra, "--platform", diffFixture.model)
		if code != ExitUsage || !strings.Contains(stderr, "none of the head's paths exists there") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
		code, out, stderr := run(t, "", "diff", "--base-ref", "main", "--head", extra, "--platform", diffFixture.model, "--allow-empty")
		if code != ExitFindings || !strings.Contains(stderr, "does not exist at main") || !strings.Contains(out, "diff-type: added") {
			t.Errorf("with --allow-empty: exit %d, stderr %q", code, stderr)
		}
	})
}

// TestDiffCharts: each side a Helm chart with its own values, rendered
// in-process as audit renders one; a side that does not render is an input
// error that names the side.
func TestDiffCharts(t *testing.T) {
	chart := filepath.Join("..", "manifest", "testdata", "charts", "budmini")
	model := filepath.Join(t.TempDir(), "budmini.yaml")
	if err := os.WriteFile(model, []byte(`apiVersion: budnet.io/v1alpha1
kind: Platform
metadata: {name: budmini}
spec:
  zones: [{name: default}]
  workloads:
    - {name: budapp, zone: default, role: service, podLabels: {app: budapp}, ports: [{name: http, port: 9081}]}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := run(t, "", "diff", "--platform", model, "--base-chart", chart, "--base-set", "image.tag=1.0",
		"--head-chart", chart, "--head-set", "image.tag=1.1", "--head-set", "replicas=3", "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res struct {
		Metadata struct {
			Base, Head struct {
				Inputs    []string `json:"inputs"`
				Workloads int      `json:"workloads"`
			}
		} `json:"metadata"`
		Connections []any `json:"connections"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if res.Metadata.Base.Workloads == 0 || res.Metadata.Head.Workloads != res.Metadata.Base.Workloads || len(res.Connections) != 0 {
		t.Errorf("a new image tag and replica count changed the connections or workloads: %s", out)
	}
	code, _, stderr = run(t, "", "diff", "--platform", model, "--base-chart", chart, "--base-set", "image.tag=1.0", "--head-chart", chart)
	if code != ExitUsage || !strings.Contains(stderr, "head:") || !strings.Contains(stderr, "image.tag is required") {
		t.Errorf("a head that does not render: exit %d, stderr %q", code, stderr)
	}
}
