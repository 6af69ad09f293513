package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runGenerate runs `budnet generate args...` and returns the exit code as
// Execute would compute it, with stdout and stderr.
func runGenerate(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newGenerateCommand(Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.ExecuteContext(context.Background())
	code := ExitOK
	if err != nil {
		code = ExitUsage
		var exitErr *ExitError
		if errors.As(err, &exitErr) {
			code = exitErr.Code
		}
		errOut.WriteString("error: " + err.Error() + "\n")
	}
	return code, out.String(), errOut.String()
}

func TestGenerateCommand(t *testing.T) {
	badModel := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(badModel, []byte(`apiVersion: budnet.io/v1alpha1
kind: Platform
metadata: {name: bad}
spec:
  zones: [{name: app}]
  workloads:
    - {name: web, zone: app, role: frontend, podLabels: {app: web}, ports: [{name: http, port: 8080}]}
  flows:
    internal:
      - name: web-to-nothing
        from: {workload: web}
        to: {workload: api}
        ports: [{name: grpc}]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	nonEmpty := t.TempDir()
	if err := os.WriteFile(filepath.Join(nonEmpty, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		args        func(dir string) []string
		wantCode    int
		wantOut     string // substring of stdout
		wantErr     string // substring of stderr
		wantWritten bool   // files appear in dir
	}{
		{name: "stdout stream", args: func(string) []string { return nil }, wantOut: "kind: NetworkPolicy"},
		{name: "directory", args: func(dir string) []string { return []string{"--output-dir", dir} }, wantWritten: true},
		{name: "cilium", args: func(string) []string { return []string{"--cni", "cilium"} }, wantOut: "kind: CiliumNetworkPolicy"},
		{name: "dry run writes nothing", args: func(dir string) []string { return []string{"--output-dir", dir, "--dry-run"} },
			wantOut: "20-networkpolicies.yaml"},
		{name: "bad model names file and line", args: func(dir string) []string { return []string{"--platform", badModel, "--output-dir", dir} },
			wantCode: ExitUsage, wantErr: badModel + ":12: spec.flows.internal[0].to.workload"},
		{name: "non-empty directory", args: func(string) []string { return []string{"--output-dir", nonEmpty} },
			wantCode: ExitUsage, wantErr: "--force"},
		{name: "unknown cni", args: func(string) []string { return []string{"--cni", "calico"} }, wantCode: ExitUsage, wantErr: "--cni"},
		{name: "force without directory", args: func(string) []string { return []string{"--force"} }, wantCode: ExitUsage, wantErr: "--force needs --output-dir"},
		{name: "dry run warns of the control-plane placeholder", args: func(dir string) []string { return []string{"--output-dir", dir, "--dry-run"} },
			wantOut: "20-networkpolicies.yaml", wantErr: "Warning: embedded:bud.yaml:287: spec.sourceGroups[3].cidrs[0]: group control-plane: 192.0.2.0/28"},
		{name: "stream warns of the Dapr injector failing open", args: func(string) []string { return nil },
			wantOut: "kind: NetworkPolicy", wantErr: "pods start WITHOUT Dapr sidecars"},
		{name: "directory warns of the ACME contact", args: func(dir string) []string { return []string{"--output-dir", dir} },
			wantWritten: true, wantErr: "spec.tls.issuer.email: ACME contact security@bud.example.com"},
		{name: "cilium before 1.19 writes per-depth patterns", args: func(string) []string { return []string{"--cni", "cilium", "--cilium-version", "v1.18.6"} },
			wantOut: "matchPattern: '*.*.amazonaws.com'"},
		{name: "json stream", args: func(string) []string { return []string{"-o", "json"} }, wantOut: `"kind": "List"`},
		{name: "yaml stream named", args: func(string) []string { return []string{"-o", "yaml"} }, wantOut: "kind: NetworkPolicy"},
		{name: "deprecated -o DIR still writes, with a warning", args: func(dir string) []string { return []string{"-o", dir} },
			wantWritten: true, wantErr: "Warning: -o DIR is deprecated"},
		{name: "-o json with a directory", args: func(dir string) []string { return []string{"-o", "json", "--output-dir", dir} },
			wantCode: ExitUsage, wantErr: "give one of the two"},
		{name: "-o DIR with --output-dir", args: func(dir string) []string { return []string{"-o", dir + "2", "--output-dir", dir} },
			wantCode: ExitUsage, wantErr: "-o is the stream's format"},
		{name: "empty -o", args: func(string) []string { return []string{"-o", ""} }, wantCode: ExitUsage, wantErr: "want yaml or json"},
		{name: "cilium before 1.18 refused", args: func(string) []string { return []string{"--cni", "cilium", "--cilium-version", "1.17.3"} },
			wantCode: ExitUsage, wantErr: "--cilium-version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			code, out, errOut := runGenerate(t, tt.args(dir)...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.wantCode, errOut)
			}
			if !strings.Contains(out, tt.wantOut) {
				t.Errorf("stdout lacks %q:\n%.500s", tt.wantOut, out)
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr lacks %q: %s", tt.wantErr, errOut)
			}
			_, err := os.Stat(filepath.Join(dir, "kustomization.yaml"))
			if written := err == nil; written != tt.wantWritten {
				t.Errorf("files written: %v, want %v", written, tt.wantWritten)
			}
		})
	}
}

// TestGenerateJSONStream: -o json is the objects as one v1 List on stdout
// (what `kubectl apply -f -` reads), the same objects as the YAML stream, and
// no longer a directory named ./json.
func TestGenerateJSONStream(t *testing.T) {
	t.Chdir(t.TempDir())
	code, out, errOut := runGenerate(t, "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, err := os.Stat("json"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("-o json created ./json (%v)", err)
	}
	var list struct {
		APIVersion string           `json:"apiVersion"`
		Kind       string           `json:"kind"`
		Items      []map[string]any `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("-o json is not JSON: %v", err)
	}
	if list.APIVersion != "v1" || list.Kind != "List" {
		t.Fatalf("got %s %s, want v1 List", list.APIVersion, list.Kind)
	}
	_, yamlOut, _ := runGenerate(t, "-o", "yaml")
	if docs := strings.Count(yamlOut, "\n---\n") + 1; docs != len(list.Items) {
		t.Errorf("JSON list holds %d objects, the YAML stream %d", len(list.Items), docs)
	}
}

// TestGenerateForce rewrites a directory an earlier run wrote, keeping a
// file budnet did not write and removing a stale generated one.
func TestGenerateForce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	if code, _, errOut := runGenerate(t, "--output-dir", dir); code != ExitOK {
		t.Fatalf("first run: exit %d: %s", code, errOut)
	}
	if code, _, _ := runGenerate(t, "--output-dir", dir); code != ExitUsage {
		t.Fatalf("second run without --force: exit %d, want %d", code, ExitUsage)
	}
	mine := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(mine, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "30-old-concern.yaml")
	if err := os.WriteFile(stale, []byte("# Generated by budnet generate: a concern this run does not write.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runGenerate(t, "--output-dir", dir, "--force", "--platform", filepath.Join("..", "..", "examples", "platforms", "minimal.yaml")); code != ExitOK {
		t.Fatalf("--force: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(mine); err != nil {
		t.Errorf("--force removed a file budnet did not write: %v", err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("--force kept a stale generated file: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "00-namespaces.yaml"))
	if err != nil || !strings.Contains(string(data), "name: shop") {
		t.Errorf("00-namespaces.yaml not rewritten for the minimal model: %v", err)
	}
}

// TestGenerateReachRoundTrip is the round trip as a user runs it:
// `budnet generate -o OUT`, then `budnet reach --intended -f OUT -f REFERENCE
// -o json` reports nothing over-permissive and nothing broken.
func TestGenerateReachRoundTrip(t *testing.T) {
	examples := filepath.Join("..", "..", "examples")
	tests := []struct {
		name      string
		platform  []string
		reference string
	}{
		{name: "bud", reference: filepath.Join(examples, "bud-reference")},
		{name: "minimal", platform: []string{"--platform", filepath.Join(examples, "platforms", "minimal.yaml")}, reference: filepath.Join(examples, "minimal-reference")},
		{name: "egress-gateway", platform: []string{"--platform", filepath.Join(examples, "platforms", "egress-gateway.yaml")}, reference: filepath.Join(examples, "egress-gateway-reference")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			if code, _, errOut := runGenerate(t, append([]string{"--output-dir", out}, tt.platform...)...); code != ExitOK {
				t.Fatalf("generate: exit %d: %s", code, errOut)
			}
			var stdout, stderr bytes.Buffer
			args := append([]string{"reach", "--intended", "-f", out, "-f", tt.reference, "-o", "json"}, tt.platform...)
			if code := Execute(context.Background(), args, Streams{In: strings.NewReader(""), Out: &stdout, ErrOut: &stderr}); code != ExitOK {
				t.Fatalf("reach: exit %d: %s", code, stderr.String())
			}
			var res struct {
				Connections    []json.RawMessage `json:"connections"`
				OverPermissive []json.RawMessage `json:"overPermissive"`
				Broken         []json.RawMessage `json:"broken"`
				Unmatched      []string          `json:"unmatchedModelWorkloads"`
			}
			if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
				t.Fatalf("reach -o json: %v", err)
			}
			if len(res.Connections) == 0 {
				t.Fatal("reach found no connection at all")
			}
			if len(res.OverPermissive) > 0 || len(res.Broken) > 0 || len(res.Unmatched) > 0 {
				t.Errorf("overPermissive %d, broken %d, unmatched %v:\n%s", len(res.OverPermissive), len(res.Broken), res.Unmatched, stdout.String())
			}
		})
	}
}
