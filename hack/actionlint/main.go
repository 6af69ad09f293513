// Command actionlint-check lints budnet's GitHub Action and a workflow that
// uses it with github.com/rhysd/actionlint as a library (and shellcheck, when
// it is on PATH, for the run scripts). actionlint lints workflows, not action
// metadata, so the action is linted three ways:
//
//  1. its composite steps, as the steps of a workflow job whose
//     workflow_call inputs are the action's inputs: expressions, contexts,
//     the inputs of the actions it uses, shell scripts;
//  2. its metadata (name, description, runs, inputs), through a workflow
//     that uses it as a local action (uses: ./) with every input set;
//  3. the workflow given, as is, and again with its budnet steps pointed at
//     the local action, so every with: key is checked against the inputs.
//
// Usage: actionlint-check ACTION.yml WORKFLOW.yml. It prints one error per
// line and exits 1 when there is any, 2 when it cannot run.
//
// It is a helper module of budnet's tests (internal/cli TestAction), kept out
// of budnet's go.mod; hack/ci-actionlint.sh builds it.
package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/rhysd/actionlint"
	"go.yaml.in/yaml/v4"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: actionlint-check ACTION.yml WORKFLOW.yml")
		os.Exit(2)
	}
	n, err := run(os.Args[1], os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "actionlint-check:", err)
		os.Exit(2)
	}
	if n > 0 {
		os.Exit(1)
	}
}

func run(actionFile, workflowFile string) (int, error) {
	action, err := os.ReadFile(actionFile)
	if err != nil {
		return 0, err
	}
	workflow, err := os.ReadFile(workflowFile)
	if err != nil {
		return 0, err
	}
	var meta struct {
		Inputs map[string]struct {
			Required bool `yaml:"required"`
		} `yaml:"inputs"`
		Runs struct {
			Using string    `yaml:"using"`
			Steps yaml.Node `yaml:"steps"`
		} `yaml:"runs"`
	}
	if err := yaml.Unmarshal(action, &meta); err != nil {
		return 0, fmt.Errorf("%s: %w", actionFile, err)
	}
	if meta.Runs.Using != "composite" || meta.Runs.Steps.Kind != yaml.SequenceNode {
		return 0, fmt.Errorf("%s: not a composite action with steps", actionFile)
	}
	dir, err := os.MkdirTemp("", "actionlint-check-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	wfDir := filepath.Join(dir, ".github", "workflows")
	if err := os.MkdirAll(wfDir, 0o755); err != nil {
		return 0, err
	}
	if err := os.WriteFile(filepath.Join(dir, "action.yml"), action, 0o644); err != nil {
		return 0, err
	}
	proj, err := actionlint.NewProject(dir)
	if err != nil {
		return 0, err
	}
	opts := &actionlint.LinterOptions{Oneline: true}
	if sc, err := exec.LookPath("shellcheck"); err == nil {
		opts.Shellcheck = sc
	} else {
		fmt.Fprintln(os.Stderr, "actionlint-check: shellcheck not on PATH: run scripts are not checked")
	}
	var out bytes.Buffer
	linter, err := actionlint.NewLinter(&out, opts)
	if err != nil {
		return 0, err
	}
	total := 0
	lint := func(name string, content []byte) error {
		path := filepath.Join(wfDir, name)
		if err := os.WriteFile(path, content, 0o644); err != nil {
			return err
		}
		errs, err := linter.LintFile(path, proj)
		if err != nil {
			return err
		}
		total += len(errs)
		return nil
	}

	// 1. The composite steps as a job's steps.
	var names []string
	for name := range meta.Inputs {
		names = append(names, name)
	}
	var steps bytes.Buffer
	enc := yaml.NewEncoder(&steps)
	enc.SetIndent(2)
	if err := enc.Encode(&meta.Runs.Steps); err != nil {
		return 0, err
	}
	var job strings.Builder
	job.WriteString("name: composite steps of " + actionFile + "\non:\n  workflow_call:\n    inputs:\n")
	for _, n := range names {
		fmt.Fprintf(&job, "      %s:\n        type: string\n        required: false\n", n)
	}
	job.WriteString("jobs:\n  action:\n    runs-on: ubuntu-latest\n    steps:\n")
	for _, line := range strings.Split(strings.TrimRight(steps.String(), "\n"), "\n") {
		job.WriteString("      " + line + "\n")
	}
	if err := lint("composite-steps.yml", []byte(job.String())); err != nil {
		return 0, err
	}

	// 2. The metadata, through a local use with every input set.
	var use strings.Builder
	use.WriteString("name: uses the action\non: push\njobs:\n  use:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: ./\n        with:\n")
	for _, n := range names {
		fmt.Fprintf(&use, "          %s: x\n", n)
	}
	if err := lint("local-use.yml", []byte(use.String())); err != nil {
		return 0, err
	}

	// 3. The workflow as written, then with its budnet steps local.
	if err := lint(filepath.Base(workflowFile), workflow); err != nil {
		return 0, err
	}
	local := regexp.MustCompile(`(?m)uses: budnet/budnet@\S+`).ReplaceAll(workflow, []byte("uses: ./"))
	if !bytes.Equal(local, workflow) {
		if err := lint("local-"+filepath.Base(workflowFile), local); err != nil {
			return 0, err
		}
	} else {
		fmt.Fprintf(&out, "%s: no step uses budnet/budnet@REF\n", workflowFile)
		total++
	}
	os.Stdout.Write(out.Bytes())
	return total, nil
}
