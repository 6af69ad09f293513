package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/budnet/budnet/internal/example"
)

// baselineAuditJSON is the part of `audit -o json` these tests read.
type baselineAuditJSON struct {
	Summary struct {
		Baselined         int            `json:"baselined"`
		FailingBySeverity map[string]int `json:"failingBySeverity"`
	} `json:"summary"`
	Warnings []string `json:"warnings"`
	Baseline *struct {
		File  string `json:"file"`
		New   int    `json:"new"`
		Known int    `json:"known"`
		Fixed []struct {
			CheckID string `json:"checkId"`
			Subject string `json:"subject"`
		} `json:"fixed"`
	} `json:"baseline"`
	Findings []map[string]any `json:"findings"`
}

func decodeBaselineAudit(t *testing.T, out string) baselineAuditJSON {
	t.Helper()
	var r baselineAuditJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("audit -o json: %v\n%.300s", err, out)
	}
	return r
}

// TestAuditBaselineRoundTrip is the baseline as a pipeline uses it: audit
// the example to JSON (it fails), audit again against that file (nothing
// new: exit 0), then change the inputs and the baseline and see new findings
// fail and fixed ones listed.
func TestAuditBaselineRoundTrip(t *testing.T) {
	dir := t.TempDir()
	_, data := example.Unhardened()
	manifests := filepath.Join(dir, "bud.yaml")
	if err := os.WriteFile(manifests, data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, baseOut, stderr := runAudit(t, "", "-f", manifests, "-o", "json")
	if code != ExitFindings {
		t.Fatalf("baseline run: exit %d, want 1: %s", code, stderr)
	}
	base := filepath.Join(dir, "base.json")
	if err := os.WriteFile(base, []byte(baseOut), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("unchanged input: nothing new", func(t *testing.T) {
		code, out, stderr := runAudit(t, "", "-f", manifests, "--baseline", base, "-o", "json")
		if code != ExitOK {
			t.Fatalf("exit %d, want 0: %s", code, stderr)
		}
		r := decodeBaselineAudit(t, out)
		if r.Baseline == nil || r.Baseline.New != 0 || r.Baseline.Known == 0 || len(r.Baseline.Fixed) != 0 {
			t.Fatalf("baseline %+v", r.Baseline)
		}
		if r.Summary.Baselined != r.Baseline.Known {
			t.Errorf("summary baselined %d, baseline known %d", r.Summary.Baselined, r.Baseline.Known)
		}
		for sev, n := range r.Summary.FailingBySeverity {
			if n != 0 {
				t.Errorf("failing %s = %d with every finding in the baseline", sev, n)
			}
		}
		_, text, _ := runAudit(t, "", "-f", manifests, "--baseline", base)
		if !strings.Contains(text, "Baseline "+base+": 0 new failing findings") || !strings.Contains(text, "KNOWN BUD-3.2-01") {
			t.Errorf("text output lacks the baseline summary or KNOWN marks:\n%s", text)
		}
	})

	t.Run("a new object with a plaintext DSN is new", func(t *testing.T) {
		extra := filepath.Join(dir, "extra.yaml")
		if err := os.WriteFile(extra, []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: bud-reports, namespace: bud, labels: {app: bud-reports}}
spec:
  selector: {matchLabels: {app: bud-reports}}
  template:
    metadata: {labels: {app: bud-reports}}
    spec:
      containers:
        - name: reports
          image: bud/reports:1.0
          env:
            - {name: DATABASE_URL, value: "postgresql://reports:pw@bud-postgresql:5432/reports?sslmode=disable"}
`), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, stderr := runAudit(t, "", "-f", manifests, "-f", extra, "--baseline", base, "-o", "json")
		if code != ExitFindings {
			t.Fatalf("exit %d, want 1: %s", code, stderr)
		}
		r := decodeBaselineAudit(t, out)
		if r.Baseline.New == 0 {
			t.Fatal("no new finding")
		}
		newDSN := false
		for _, f := range r.Findings {
			if f["baselined"] == true || (f["status"] != "fail" && f["status"] != "partial") || f["suppressed"] == true {
				continue
			}
			if !strings.Contains(f["subject"].(string), "bud-reports") {
				t.Errorf("new finding %v %v is not about the added object", f["checkId"], f["subject"])
			}
			if f["checkId"] == "BUD-6.3-01" {
				newDSN = true
			}
		}
		if !newDSN {
			t.Error("the plaintext DSN (BUD-6.3-01) is not among the new findings")
		}
	})

	t.Run("edited baseline: a dropped finding is new, an extra one fixed", func(t *testing.T) {
		var doc map[string]any
		if err := json.Unmarshal([]byte(baseOut), &doc); err != nil {
			t.Fatal(err)
		}
		findings := doc["findings"].([]any)
		var kept []any
		dropped := ""
		for _, x := range findings {
			f := x.(map[string]any)
			if dropped == "" && f["checkId"] == "BUD-3.2-01" && f["status"] == "fail" {
				dropped = f["subject"].(string)
				continue
			}
			kept = append(kept, f)
		}
		kept = append(kept, map[string]any{"checkId": "BUD-6.3-01", "status": "fail", "subject": "bud/gone[Deployment] container app: DATABASE_URL",
			"message": "reworded text is no part of the identity", "severity": "high", "title": "t", "section": "6.3"})
		doc["findings"] = kept
		edited, _ := json.MarshalIndent(doc, "", " ")
		file := filepath.Join(dir, "edited.json")
		if err := os.WriteFile(file, edited, 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, stderr := runAudit(t, "", "-f", manifests, "--baseline", file, "-o", "json")
		if code != ExitFindings {
			t.Fatalf("exit %d, want 1 (BUD-3.2-01 is critical and new): %s", code, stderr)
		}
		r := decodeBaselineAudit(t, out)
		if r.Baseline.New != 1 || len(r.Baseline.Fixed) != 1 || r.Baseline.Fixed[0].Subject != "bud/gone[Deployment] container app: DATABASE_URL" {
			t.Fatalf("baseline %+v, want 1 new (%s) and the extra one fixed", r.Baseline, dropped)
		}
		if r.Summary.FailingBySeverity["critical"] != 1 {
			t.Errorf("failing %v, want the one critical new finding", r.Summary.FailingBySeverity)
		}
		_, md, _ := runAudit(t, "", "-f", manifests, "--baseline", file, "-o", "markdown")
		if !strings.Contains(md, "- fixed BUD-6.3-01 `bud/gone[Deployment] container app: DATABASE_URL`") {
			t.Errorf("markdown lacks the fixed finding:\n%s", md[max(0, len(md)-1500):])
		}
		_, sarif, _ := runAudit(t, "", "-f", manifests, "--baseline", file, "-o", "sarif")
		if strings.Count(sarif, `"baselineState": "new"`) != 1 {
			t.Errorf("SARIF marks %d results new, want 1", strings.Count(sarif, `"baselineState": "new"`))
		}
	})
}

// TestAuditBaselineBadFile: a baseline that is not an audit report is an
// input error naming the file, line and field, never an empty baseline.
func TestAuditBaselineBadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, file, want string
	}{
		{name: "missing", file: filepath.Join(dir, "nope.json"), want: "--baseline: open"},
		{name: "empty", file: write("empty.json", ""), want: "empty.json:1: not an audit report"},
		{name: "reach output", file: write("reach.json", `{"metadata":{},"connections":[]}`), want: "reach.json:1: schemaVersion: missing"},
		{name: "other schema", file: write("v9.json", "{\n\"schemaVersion\":\"budnet.io/audit/v9\",\"findings\":[]}"), want: "v9.json:2: schemaVersion:"},
		{name: "no findings", file: write("nofind.json", `{"schemaVersion":"budnet.io/audit/v1"}`), want: "nofind.json:1: findings: missing"},
		{name: "bad status", file: write("status.json", "{\"schemaVersion\":\"budnet.io/audit/v1\",\"findings\":[\n{\"checkId\":\"BUD-3.2-01\",\"status\":\"ok\",\"subject\":\"x\"},\n{\"checkId\":\"BUD-3.2-01\",\"status\":\"failed\"}]}"),
			want: "status.json:2: findings[0].status:"},
		{name: "no check", file: write("nocheck.json", "{\"schemaVersion\":\"budnet.io/audit/v1\",\"findings\":[\n{\"status\":\"fail\"},\n{\"status\":\"x\"}]}"),
			want: "nocheck.json:2: findings[0].checkId: missing"},
		{name: "truncated", file: write("cut.json", "{\"schemaVersion\":\"budnet.io/audit/v1\",\n\"findings\":[\n{\"checkId\":"), want: "cut.json:3"},
		{name: "wrong type", file: write("type.json", "{\"schemaVersion\":\"budnet.io/audit/v1\",\n\"findings\":[\n{\"checkId\":\"BUD-3.2-01\",\"severity\":\"dire\",\"status\":\"fail\"}]}"), want: "type.json:3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runAudit(t, "", "--example", "--baseline", tt.file)
			if code != ExitUsage || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 naming %q", code, stderr, tt.want)
			}
		})
	}
}

// TestAuditSuppressionExpiry runs audit with a fixed clock (the options'
// now): a suppression past its until: day no longer suppresses, the output
// says it expired and the run fails; a malformed date is exit 2 at its line.
func TestAuditSuppressionExpiry(t *testing.T) {
	dir := t.TempDir()
	_, data := example.Unhardened()
	// The example's bud namespace has no default deny (BUD-3.2-01,
	// critical): accept that until the end of January 2027.
	ns := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bud\n"
	if !bytes.Contains(data, []byte(ns)) {
		t.Fatal("the example no longer holds the bud Namespace as this test expects")
	}
	annotated := bytes.Replace(data, []byte(ns), []byte(ns+"  annotations:\n    budnet.io/ignore: \"BUD-3.2-01: default deny lands with the Q1 rollout; until: 2027-01-31\"\n"), 1)
	file := filepath.Join(dir, "bud.yaml")
	if err := os.WriteFile(file, annotated, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(now string, args ...string) (int, string, string) {
		t.Helper()
		clock, err := time.Parse(time.RFC3339, now)
		if err != nil {
			t.Fatal(err)
		}
		var out, errOut bytes.Buffer
		o := &auditOptions{streams: Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, isTerminal: func(io.Writer) bool { return false }, now: func() time.Time { return clock }}
		cmd := newAuditCommandWith(o)
		cmd.SetArgs(args)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		err = cmd.ExecuteContext(context.Background())
		code := ExitOK
		var exitErr *ExitError
		if errors.As(err, &exitErr) {
			code = exitErr.Code
		} else if err != nil {
			code = ExitUsage
		}
		if err != nil {
			errOut.WriteString(err.Error())
		}
		return code, out.String(), errOut.String()
	}
	subject := func(r baselineAuditJSON) map[string]any {
		for _, f := range r.Findings {
			if f["checkId"] == "BUD-3.2-01" && f["subject"] == "bud" {
				return f
			}
		}
		t.Fatal("no BUD-3.2-01 finding for bud")
		return nil
	}
	_, out, _ := run("2027-01-31T23:00:00Z", "-f", file, "-o", "json", "--fail-on", "critical")
	if f := subject(decodeBaselineAudit(t, out)); f["suppressed"] != true {
		t.Errorf("before the day passed: %v", f)
	}
	_, out, _ = run("2027-02-01T00:00:01Z", "-f", file, "-o", "json", "--fail-on", "critical")
	r := decodeBaselineAudit(t, out)
	f := subject(r)
	if f["suppressed"] == true || !strings.Contains(f["suppressionExpired"].(string), "expired on 2027-01-31") {
		t.Errorf("after the day: %v", f)
	}
	_, text, _ := run("2027-02-01T00:00:01Z", "-f", file, "--fail-on", "critical")
	if !strings.Contains(text, "no longer accepted: the suppression at "+file) || !strings.Contains(text, "the suppression of BUD-3.2-01 expired on 2027-01-31") {
		t.Errorf("text output does not say the suppression expired:\n%s", text)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, bytes.Replace(annotated, []byte("until: 2027-01-31"), []byte("until: 2027-31-01"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run("2027-01-01T00:00:00Z", "-f", bad)
	if code != ExitUsage || !strings.Contains(stderr, bad+":") || !strings.Contains(stderr, "metadata.annotations[budnet.io/ignore]: BUD-3.2-01 on bud[Namespace]: until:") {
		t.Errorf("exit %d, stderr %q; want exit 2 naming file, line and field", code, stderr)
	}
}
