package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/audit"
	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fixtureReport audits testdata/audit/fixture.yaml with three small checks
// (failing with file:line evidence, suppressed by annotation, passing, and a
// matrix finding without a file), so the goldens do not move when the real
// checks change.
func fixtureReport(t testing.TB) *audit.Report {
	t.Helper()
	file := filepath.Join("testdata", "audit", "fixture.yaml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := manifest.LoadBytes(file, data, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	checks := []audit.Check{
		{ID: "BUD-3.2-01", Title: "Every namespace denies ingress and egress by default", Section: "3.2",
			Severity: audit.SeverityCritical, Remediation: "Apply the default-deny NetworkPolicy `budnet generate` emits per zone.",
			Run: func(c *audit.Context) []audit.Result {
				ns := c.Inventory.Namespace("bud")
				return []audit.Result{{Status: audit.StatusFail, Subject: "bud", Message: "no NetworkPolicy isolates namespace bud",
					Evidence: []audit.Evidence{audit.ObjectEvidence(ns.Object, "", "no policy selects its pods")}}}
			}},
		{ID: "BUD-4.2-01", Title: "No connection is allowed that the model does not intend", Section: "4.2",
			Severity: audit.SeverityHigh, Remediation: "Apply the per-flow policies.",
			Run: func(*audit.Context) []audit.Result {
				return []audit.Result{{Status: audit.StatusPartial, Subject: "bud/budapp => bud-data/redis", Message: "allowed on more ports than intended",
					Evidence: []audit.Evidence{{Connection: "bud/budapp[Deployment] => bud-data/redis[StatefulSet] : TCP 1-65535", Policies: []string{"bud-data/allow-all"}}}}}
			}},
		{ID: "BUD-6.3-01", Title: "Database connections verify TLS", Section: "6.3", Severity: audit.SeverityHigh,
			Remediation: "Set sslmode=verify-full with the CA `budnet generate` mounts.",
			Run: func(c *audit.Context) []audit.Result {
				w := c.Inventory.Workload("Deployment", "bud", "budapp")
				return []audit.Result{
					{Status: audit.StatusFail, Subject: w.Ref(), Message: "PostgreSQL sslmode=disable",
						Evidence: []audit.Evidence{audit.ObjectEvidence(w.Object, "spec.template.spec.containers[0].env[0].value", "sslmode=disable")}},
					{Status: audit.StatusNotApplicable, Subject: "bud/none[Deployment]", Message: "no database connection"},
				}
			}},
		{ID: "BUD-6.3-02", Title: "Redis connections use TLS", Section: "6.3", Severity: audit.SeverityMedium,
			Remediation: "Use rediss:// URLs.",
			Run: func(c *audit.Context) []audit.Result {
				var cm *manifest.Object
				for _, o := range c.Inventory.ObjectsOfKind("ConfigMap") {
					cm = o
				}
				return []audit.Result{{Status: audit.StatusFail, Subject: cm.Ref(), Message: "redis:// without TLS",
					Evidence: []audit.Evidence{audit.ObjectEvidence(cm, "data.REDIS_URL", "redis://")}}}
			}},
		{ID: "BUD-3.1-01", Title: "The model's zones exist as namespaces", Section: "3.1", Severity: audit.SeverityMedium,
			Remediation: "Apply the Namespace objects.",
			Run: func(*audit.Context) []audit.Result {
				return []audit.Result{{Status: audit.StatusPass, Subject: "bud", Message: "namespace bud is declared"}}
			}},
	}
	c := &audit.Context{Inventory: inv, Platform: &platform.Platform{Metadata: platform.Metadata{Name: "bud-test"}}, Source: "files"}
	r := audit.Run(c, checks)
	r.Inputs, r.FailOn = []string{file}, audit.SeverityHigh
	return r
}

func TestAuditGolden(t *testing.T) {
	r := fixtureReport(t)
	tests := []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{name: "audit.txt", write: func(b *bytes.Buffer) error { return WriteAuditText(b, r, AuditTextOptions{}) }},
		{name: "audit-color.txt", write: func(b *bytes.Buffer) error { return WriteAuditText(b, r, AuditTextOptions{Color: true}) }},
		{name: "audit-verbose.txt", write: func(b *bytes.Buffer) error { return WriteAuditText(b, r, AuditTextOptions{Verbose: true}) }},
		{name: "audit.json", write: func(b *bytes.Buffer) error { return WriteAuditJSON(b, r) }},
		{name: "audit.sarif", write: func(b *bytes.Buffer) error { return WriteAuditSARIF(b, r, SARIFOptions{Version: "test"}) }},
		{name: "audit.md", write: func(b *bytes.Buffer) error { return WriteAuditMarkdown(b, r) }},
		{name: "audit.junit.xml", write: func(b *bytes.Buffer) error { return WriteAuditJUnit(b, r) }},
		{name: "audit-grouped.txt", write: func(b *bytes.Buffer) error { return WriteAuditText(b, groupedReport(t), AuditTextOptions{}) }},
		{name: "audit-grouped.md", write: func(b *bytes.Buffer) error { return WriteAuditMarkdown(b, groupedReport(t)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tt.write(&buf); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "audit", tt.name+".golden")
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("%s differs from %s (run with -update to accept):\n%s", tt.name, golden, buf.String())
			}
		})
	}
}

func TestAuditJSONParses(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteAuditJSON(&buf, fixtureReport(t)); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		SchemaVersion string
		Metadata      struct {
			FailOn string
			Failed bool
		}
		Summary  audit.Summary
		Findings []map[string]any
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("invalid JSON: %v", err)
	}
	if doc.SchemaVersion != AuditSchemaVersion || doc.Metadata.FailOn != "high" || !doc.Metadata.Failed {
		t.Errorf("header %+v", doc)
	}
	if len(doc.Findings) != doc.Summary.Findings || doc.Summary.Suppressed != 1 {
		t.Errorf("%d findings, summary %+v", len(doc.Findings), doc.Summary)
	}
	if doc.Findings[0]["severity"] != "medium" || doc.Findings[0]["checkId"] != "BUD-3.1-01" {
		t.Errorf("first finding %v: want BUD-3.1-01 (sorted by section) with a named severity", doc.Findings[0])
	}
}

func TestAuditJUnitParses(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteAuditJUnit(&buf, fixtureReport(t)); err != nil {
		t.Fatal(err)
	}
	var s junitSuites
	if err := xml.Unmarshal(buf.Bytes(), &s); err != nil {
		t.Fatalf("invalid XML: %v", err)
	}
	// 6 findings: 3 fail or partial unsuppressed, 1 suppressed and 1 not applicable skipped, 1 pass.
	if s.Tests != 6 || s.Failures != 3 || s.Skipped != 2 || len(s.Suites) != 5 {
		t.Errorf("tests %d failures %d skipped %d suites %d", s.Tests, s.Failures, s.Skipped, len(s.Suites))
	}
}

func TestAuditMarkdownChecklist(t *testing.T) {
	r := fixtureReport(t)
	var buf bytes.Buffer
	if err := WriteAuditMarkdown(&buf, r); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	tests := []struct {
		name, want string
	}{
		{name: "default deny unticked with its evidence linked",
			want: "- [ ] Network policies (default deny) - **CRITICAL for production** (SEC-005) — [BUD-3.2-01](#bud-32-01): 1 failing, 0 passing\n" +
				"  - BUD-3.2-01 fail `bud`: no NetworkPolicy isolates namespace bud ([testdata/audit/fixture.yaml:1](testdata/audit/fixture.yaml#L1))"},
		{name: "namespace isolation ticked", want: "- [x] Namespace isolation (logical separation) — [BUD-3.1-01](#bud-31-01): 1 passing finding"},
		{name: "database TLS links the env var's line",
			want: "BUD-6.3-01 fail `bud/budapp[Deployment]`: PostgreSQL sslmode=disable ([testdata/audit/fixture.yaml:23](testdata/audit/fixture.yaml#L23))"},
		{name: "accepted gap stays unticked", want: "BUD-6.3-02 accepted fail (the cache holds no personal data (SEC-31))"},
		{name: "VPC segmentation cannot be judged", want: "- [ ] Network segmentation at cloud VPC level — not judged: cloud VPC segmentation is not visible in Kubernetes objects"},
		{name: "group headings", want: "### 11.3 Not Implemented (Production Hardening Required)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(md, tt.want) {
				t.Errorf("markdown lacks\n%s\n---\n%s", tt.want, md)
			}
		})
	}
	items := audit.Checklist()
	if n := strings.Count(md, "\n- ["); n != len(items) {
		t.Errorf("%d checklist boxes, want %d (every item of guide section 11)", n, len(items))
	}
}

// groupedReport is the fixture with its BUD-4.2-01 cause shared by six
// connections, as no default deny makes it in a real install.
func groupedReport(t testing.TB) *audit.Report {
	r := fixtureReport(t)
	var out []audit.Finding
	for _, f := range r.Findings {
		out = append(out, f)
		if f.CheckID != "BUD-4.2-01" {
			continue
		}
		for _, src := range []string{"bud/a", "bud/b", "bud/c", "bud/d", "bud/e"} {
			g := f
			g.Subject = src + " => bud-data/redis"
			out = append(out, g)
		}
	}
	r.Findings = out
	return r
}

// TestNotJudgedIsNeverPass renders a check whose only finding is not
// applicable: text and Markdown must say it was not judged and why, never PASS.
func TestNotJudgedIsNeverPass(t *testing.T) {
	inv, err := manifest.LoadBytes("empty.yaml", []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: bud}\n"), manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const why = "not judged: no Dapr control plane in the input"
	checks := []audit.Check{{ID: "BUD-5-01", Title: "Dapr mTLS is on", Section: "5", Severity: audit.SeverityCritical,
		Run: func(*audit.Context) []audit.Result {
			return []audit.Result{{Status: audit.StatusNotApplicable, Subject: "dapr-system", Message: why}}
		}}}
	r := audit.Run(&audit.Context{Inventory: inv, Platform: &platform.Platform{}, Source: "files"}, checks)
	r.FailOn = audit.SeverityHigh

	var text, md bytes.Buffer
	if err := WriteAuditText(&text, r, AuditTextOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := WriteAuditMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"text": text.String(), "markdown": md.String()} {
		if strings.Contains(out, "PASS BUD-5-01") || strings.Contains(out, "No failing finding") {
			t.Errorf("%s reports a check nothing judged as passing:\n%s", name, out)
		}
		if !strings.Contains(out, why) {
			t.Errorf("%s does not say why the check was not judged:\n%s", name, out)
		}
	}
	if !strings.Contains(text.String(), "NOT JUDGED BUD-5-01") {
		t.Errorf("text does not mark BUD-5-01 NOT JUDGED:\n%s", text.String())
	}
}
