package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/audit"
)

// runAudit runs `budnet audit args...` through the command tree, adding the
// audit command when the root does not wire it yet, and maps errors to exit
// codes as Execute does.
func runAudit(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	streams := Streams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut}
	root := NewRootCommand(streams)
	if c, _, err := root.Find([]string{"audit"}); err != nil || c.Name() != "audit" {
		root.AddCommand(newAuditCommand(streams))
	}
	root.SetArgs(append([]string{"audit"}, args...))
	err := root.ExecuteContext(context.Background())
	var exitErr *ExitError
	switch {
	case err == nil:
		code = ExitOK
	case errors.As(err, &exitErr):
		if exitErr.Err != nil {
			fmt.Fprintf(&errOut, "error: %v\n", exitErr.Err)
		}
		code = exitErr.Code
	default:
		fmt.Fprintf(&errOut, "error: %v\n", err)
		code = ExitUsage
	}
	return code, out.String(), errOut.String()
}

func TestAuditUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "no input", args: nil, want: "no input"},
		{name: "two inputs", args: []string{"--example", "--cluster"}, want: "--example and --cluster are mutually exclusive"},
		{name: "values without chart", args: []string{"--example", "--values", "v.yaml"}, want: "need --chart"},
		{name: "context without cluster", args: []string{"--example", "--context", "prod"}, want: "need --cluster"},
		{name: "-A with -n", args: []string{"--cluster", "-A", "-n", "bud"}, want: "mutually exclusive"},
		{name: "unknown format", args: []string{"--example", "-o", "pdf"}, want: `unknown output format "pdf"`},
		{name: "unknown severity", args: []string{"--example", "--fail-on", "severe"}, want: `--fail-on "severe"`},
		{name: "info is no threshold", args: []string{"--example", "--fail-on", "info"}, want: `--fail-on "info"`},
		{name: "missing file", args: []string{"-f", "testdata/nope.yaml"}, want: "nope.yaml"},
		{name: "chart without values", args: []string{"--chart", filepath.Join("testdata", "charts", "tiny")},
			want: "tag is required"},
		{name: "unknown platform file", args: []string{"--example", "--platform", "testdata/none.yaml"}, want: "none.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runAudit(t, "", tt.args...)
			if code != ExitUsage || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tt.want)
			}
		})
	}
	t.Run("chart hint", func(t *testing.T) {
		_, _, stderr := runAudit(t, "", "--chart", filepath.Join("testdata", "charts", "tiny"))
		if !strings.Contains(stderr, "pass --values FILE or --set key=value") {
			t.Errorf("stderr %q lacks the --values hint", stderr)
		}
	})
}

type auditJSON struct {
	Metadata struct {
		Source string
		Inputs []string
		FailOn string
		Failed bool
	}
	Summary  audit.Summary
	Findings []findingJSON
}

// findingJSON reads a finding of the JSON report (severities are names).
type findingJSON struct {
	CheckID    string
	Severity   string
	Status     audit.Status
	Subject    string
	Suppressed bool
	Evidence   []audit.Evidence
}

// exitCodeOf recomputes the exit code from the JSON findings.
func exitCodeOf(t *testing.T, fs []findingJSON, failOn audit.Severity) int {
	t.Helper()
	out := make([]audit.Finding, len(fs))
	for i, f := range fs {
		sev, err := audit.ParseSeverity(f.Severity)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = audit.Finding{CheckID: f.CheckID, Severity: sev, Status: f.Status, Suppressed: f.Suppressed}
	}
	return audit.ExitCode(out, failOn)
}

func auditJSONOf(t *testing.T, out string) auditJSON {
	t.Helper()
	var doc auditJSON
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, out)
	}
	return doc
}

// TestAuditExitCodes: the exit code follows --fail-on over the findings the
// JSON report lists.
func TestAuditExitCodes(t *testing.T) {
	for _, failOn := range []string{"low", "medium", "high", "critical"} {
		t.Run(failOn, func(t *testing.T) {
			code, out, stderr := runAudit(t, "", "--example", "-o", "json", "--fail-on", failOn)
			doc := auditJSONOf(t, out)
			sev, _ := audit.ParseSeverity(failOn)
			want := exitCodeOf(t, doc.Findings, sev)
			if code != want || doc.Metadata.Failed != (want == 1) || doc.Metadata.FailOn != failOn {
				t.Errorf("exit %d (stderr %q), failed %v; want %d from the findings", code, stderr, doc.Metadata.Failed, want)
			}
		})
	}
}

func TestAuditFormats(t *testing.T) {
	tests := []struct {
		name  string
		check func(t *testing.T, out string)
	}{
		{name: "text", check: func(t *testing.T, out string) {
			if !strings.Contains(out, "3.2 Network Policies") || !strings.Contains(out, "(--fail-on high: FAIL)") || strings.Contains(out, "\x1b[") {
				t.Errorf("text output lacks sections or summary, or has colour on a buffer:\n%s", out)
			}
		}},
		{name: "json", check: func(t *testing.T, out string) {
			doc := auditJSONOf(t, out)
			if doc.Metadata.Source != "example" || len(doc.Findings) == 0 {
				t.Errorf("metadata %+v, %d findings", doc.Metadata, len(doc.Findings))
			}
		}},
		{name: "sarif", check: func(t *testing.T, out string) {
			var log struct {
				Version string
				Runs    []struct{ Results []any }
			}
			if err := json.Unmarshal([]byte(out), &log); err != nil || log.Version != "2.1.0" || len(log.Runs) != 1 || len(log.Runs[0].Results) == 0 {
				t.Errorf("SARIF %v: %+v", err, log)
			}
		}},
		{name: "markdown", check: func(t *testing.T, out string) {
			if !strings.Contains(out, "## 11. Hardening Checklist") || !strings.Contains(out, "- [ ] Network policies (default deny)") {
				t.Errorf("markdown lacks the checklist:\n%s", out)
			}
		}},
		{name: "junit", check: func(t *testing.T, out string) {
			dec := xml.NewDecoder(strings.NewReader(out))
			for {
				if _, err := dec.Token(); err != nil {
					if err != io.EOF {
						t.Errorf("invalid XML: %v", err)
					}
					return
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := runAudit(t, "", "--example", "-o", tt.name)
			if code != ExitFindings {
				t.Errorf("exit %d (stderr %q), want 1: the unhardened example fails", code, stderr)
			}
			tt.check(t, out)
		})
	}
}

// TestAuditExampleGaps pins the known gaps of the unhardened Bud deployment
// the issue names: no default deny, no egress allowlist, database TLS off,
// Dapr access control missing, no security headers, no WAF, no alerts.
func TestAuditExampleGaps(t *testing.T) {
	_, out, _ := runAudit(t, "", "--example", "-o", "json")
	doc := auditJSONOf(t, out)
	failing := map[string]bool{}
	for _, f := range doc.Findings {
		if f.Status.Failing() && !f.Suppressed {
			failing[f.CheckID] = true
		}
	}
	registered := map[string]bool{}
	for _, c := range audit.Checks() {
		registered[c.ID] = true
	}
	gaps := []struct {
		name, id string
	}{
		{name: "no default deny", id: "BUD-3.2-01"},
		{name: "no egress allowlist", id: "BUD-8.2-01"},
		{name: "database TLS off", id: "BUD-6.3-01"},
		{name: "Dapr access control missing", id: "BUD-5-02"},
		{name: "no security headers", id: "BUD-7-02"},
		{name: "no WAF", id: "BUD-7-05"},
		{name: "no alerts", id: "BUD-10.1-01"},
	}
	for _, g := range gaps {
		t.Run(g.name, func(t *testing.T) {
			if !registered[g.id] {
				t.Fatalf("%s is not a registered check", g.id)
			}
			if !failing[g.id] {
				ids := make([]string, 0, len(failing))
				for id := range failing {
					ids = append(ids, id)
				}
				slices.Sort(ids)
				t.Errorf("%s does not fail on the example; failing: %v", g.id, ids)
			}
		})
	}
}

func TestAuditChart(t *testing.T) {
	code, out, stderr := runAudit(t, "", "--chart", filepath.Join("testdata", "charts", "tiny"), "--set", "tag=1",
		"--release-name", "bud", "-o", "json", "--fail-on", "critical")
	doc := auditJSONOf(t, out)
	if doc.Metadata.Source != "chart" {
		t.Errorf("source %q, want chart (stderr %q)", doc.Metadata.Source, stderr)
	}
	found := false
	for _, f := range doc.Findings {
		for _, e := range f.Evidence {
			// Without -n the release namespace is default, which BUD-3.1-04 reports.
			if e.Object == "default/bud-app[Deployment]" && e.Template == "tiny/templates/app.yaml" && e.File == filepath.Join("testdata", "charts", "tiny", "templates", "app.yaml") {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("no finding cites default/bud-app[Deployment] from tiny/templates/app.yaml:\n%s", out)
	}
	if want := exitCodeOf(t, doc.Findings, audit.SeverityCritical); code != want {
		t.Errorf("exit %d, want %d", code, want)
	}
}

func TestAuditStdin(t *testing.T) {
	const ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: bud-system}\n"
	code, out, stderr := runAudit(t, ns, "-f", "-", "-o", "json", "--fail-on", "critical")
	doc := auditJSONOf(t, out)
	if doc.Metadata.Source != "files" || !slices.Equal(doc.Metadata.Inputs, []string{"-"}) {
		t.Errorf("metadata %+v (stderr %q)", doc.Metadata, stderr)
	}
	if code != exitCodeOf(t, doc.Findings, audit.SeverityCritical) {
		t.Errorf("exit %d disagrees with the findings", code)
	}
}

func mustSeverity(t *testing.T, s string) audit.Severity {
	t.Helper()
	sev, err := audit.ParseSeverity(s)
	if err != nil {
		t.Fatal(err)
	}
	return sev
}

func unmarshalJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("invalid JSON: %v", err)
	}
}
