package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/budnet/budnet/internal/testenv"
)

const (
	actionFile   = "../../action.yml"
	workflowFile = "../../docs/examples/workflow.yml"
)

// actionMeta is the part of action.yml these tests read.
type actionMeta struct {
	Name   string `json:"name"`
	Inputs map[string]struct {
		Description string `json:"description"`
		Default     string `json:"default"`
	} `json:"inputs"`
	Runs struct {
		Using string `json:"using"`
		Steps []struct {
			ID  string            `json:"id"`
			Run string            `json:"run"`
			Env map[string]string `json:"env"`
		} `json:"steps"`
	} `json:"runs"`
}

// actionFlags maps each input of the action that becomes a budnet flag to
// that flag, per command ("" when the command has no such flag); the other
// inputs configure the action itself.
var actionFlags = map[string]map[string]string{
	"path":      {"audit": "filename", "diff": "head"},
	"chart":     {"audit": "chart", "diff": "head-chart"},
	"values":    {"audit": "values", "diff": "head-values"},
	"namespace": {"audit": "namespace", "diff": "namespace"},
	"base-ref":  {"diff": "base-ref"},
	"platform":  {"audit": "platform", "diff": "platform"},
	"fail-on":   {"audit": "fail-on", "diff": "fail-on"},
	"baseline":  {"audit": "baseline"},
}

var actionOnly = []string{"command", "version", "go-version", "upload-sarif", "comment", "github-token"}

func readAction(t *testing.T) actionMeta {
	t.Helper()
	data, err := os.ReadFile(actionFile)
	if err != nil {
		t.Fatal(err)
	}
	var a actionMeta
	if err := yaml.Unmarshal(data, &a); err != nil {
		t.Fatalf("%s: %v", actionFile, err)
	}
	return a
}

// TestActionInputsMatchFlags: every input of the action is a flag of the
// commands it is passed to (or configures the action), the run script
// passes each of them on, and the defaults agree with budnet's.
func TestActionInputsMatchFlags(t *testing.T) {
	a := readAction(t)
	if a.Runs.Using != "composite" {
		t.Fatalf("runs.using %q, want composite", a.Runs.Using)
	}
	root := NewRootCommand(Streams{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}})
	var script string
	env := map[string]string{}
	for _, s := range a.Runs.Steps {
		if s.ID == "run" {
			script = s.Run
			env = s.Env
		}
	}
	if script == "" {
		t.Fatal("no step with id run")
	}
	for name, in := range a.Inputs {
		t.Run(name, func(t *testing.T) {
			if in.Description == "" {
				t.Error("no description")
			}
			if slices.Contains(actionOnly, name) {
				return
			}
			flags, ok := actionFlags[name]
			if !ok {
				t.Fatalf("input %q is neither mapped to a budnet flag nor one of the action's own", name)
			}
			for command, flag := range flags {
				cmd, _, err := root.Find([]string{command})
				if err != nil || cmd.Name() != command {
					t.Fatalf("no command %s", command)
				}
				f := cmd.Flags().Lookup(flag)
				if f == nil {
					t.Errorf("budnet %s has no flag --%s for input %s", command, flag, name)
					continue
				}
				long := "--" + f.Name
				if f.Shorthand != "" && !strings.Contains(script, long) {
					long = "-" + f.Shorthand
				}
				if !strings.Contains(script, long) && !strings.Contains(script, "="+long) && !strings.Contains(script, flag+";") {
					t.Errorf("the run script never passes %s (input %s)", long, name)
				}
			}
			usesInput := false
			for _, v := range env {
				if strings.Contains(v, "inputs."+name+" ") || strings.Contains(v, "inputs."+name+"}") {
					usesInput = true
				}
			}
			if !usesInput {
				t.Errorf("the run step's env never reads inputs.%s", name)
			}
		})
	}
	for name := range actionFlags {
		if _, ok := a.Inputs[name]; !ok {
			t.Errorf("actionFlags names input %q, which the action lacks", name)
		}
	}
	if got := a.Inputs["fail-on"].Default; got != defaultFailOn {
		t.Errorf("fail-on defaults to %q, budnet to %q", got, defaultFailOn)
	}
	for _, sev := range []string{"low", "medium", "high", "critical"} {
		if !strings.Contains(a.Inputs["fail-on"].Description, sev) {
			t.Errorf("fail-on's description lacks %s", sev)
		}
	}
}

// actionlintBinary finds the helper hack/ci-actionlint.sh builds.
func actionlintBinary(t *testing.T) string {
	t.Helper()
	path := os.Getenv("BUDNET_ACTIONLINT")
	if path == "" {
		cache := os.Getenv("BUDNET_CACHE")
		if cache == "" {
			cache = "/var/cache/budnet"
		}
		path = filepath.Join(cache, "actionlint-check-v1.7.12", "actionlint-check")
	}
	if fi, err := os.Stat(path); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		testenv.Missing(t, "actionlint-check not found at %s (build it with: bash hack/ci-actionlint.sh, or set BUDNET_ACTIONLINT)", path)
	}
	if _, err := exec.LookPath("shellcheck"); err != nil {
		testenv.Missing(t, "shellcheck not on PATH (apt-get install shellcheck; hack/ci-actionlint.sh installs it): the action's scripts would go unchecked")
	}
	return path
}

// TestActionLint lints action.yml and the example workflow with actionlint
// (and shellcheck): clean as they are, and caught when broken.
func TestActionLint(t *testing.T) {
	bin := actionlintBinary(t)
	lint := func(action, workflow string) (int, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, bin, action, workflow).CombinedOutput()
		var exitErr *exec.ExitError
		switch {
		case err == nil:
			return 0, string(out)
		case errors.As(err, &exitErr):
			return exitErr.ExitCode(), string(out)
		}
		t.Fatalf("%s: %v\n%s", bin, err, out)
		return 0, ""
	}
	if code, out := lint(actionFile, workflowFile); code != 0 || strings.TrimSpace(out) != "" {
		t.Fatalf("actionlint: exit %d\n%s", code, out)
	}
	action, err := os.ReadFile(actionFile)
	if err != nil {
		t.Fatal(err)
	}
	workflow, err := os.ReadFile(workflowFile)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	goodAction, goodWorkflow := write("action.yml", action), write("workflow.yml", workflow)
	tests := []struct {
		name             string
		action, workflow string
		want             string
	}{
		{name: "an input the action lacks", action: write("a1.yml", bytes.Replace(action, []byte("inputs.fail-on }}"), []byte("inputs.fail_on }}"), 1)),
			workflow: goodWorkflow, want: `property "fail_on" is not defined`},
		{name: "a with: key the action lacks", action: goodAction,
			workflow: write("w1.yml", bytes.Replace(workflow, []byte("fail-on: high"), []byte("fail-level: high"), 1)), want: `input "fail-level" is not defined`},
		{name: "an unquoted variable in the script", action: write("a2.yml", bytes.Replace(action, []byte(`args+=(--fail-on "$FAIL_ON")`), []byte(`args+=(--fail-on $FAIL_ON)`), 1)),
			workflow: goodWorkflow, want: "shellcheck"},
		{name: "metadata without a description", action: write("a3.yml", bytes.Replace(action, []byte("\ndescription: "), []byte("\nsummary: "), 1)),
			workflow: goodWorkflow, want: "description is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := lint(tt.action, tt.workflow)
			if code != 1 || !strings.Contains(out, tt.want) {
				t.Errorf("exit %d, want 1 with %q:\n%s", code, tt.want, out)
			}
		})
	}
}
