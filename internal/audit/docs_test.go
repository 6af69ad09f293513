package audit

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// update regenerates generated files (docs/checks.md) instead of comparing.
var update = flag.Bool("update", false, "regenerate docs/checks.md and golden files")

var checksDoc = filepath.Join("..", "..", "docs", "checks.md")

// TestChecksDoc fails when docs/checks.md is not what the registry generates;
// go test ./internal/audit -run TestChecksDoc -update regenerates it.
func TestChecksDoc(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteChecksDoc(&buf, Checks()); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(checksDoc, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(checksDoc)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/audit -run TestChecksDoc -update)", err)
	}
	if !bytes.Equal(got, buf.Bytes()) {
		t.Errorf("%s is stale: run go test ./internal/audit -run TestChecksDoc -update", checksDoc)
	}
}

// TestChecksDocContent checks what every entry must carry.
func TestChecksDocContent(t *testing.T) {
	checks := []Check{
		{ID: "BUD-3.2-01", Title: "A | B", Section: "3.2", Severity: SeverityCritical, Remediation: "apply",
			Doc: Doc{Fails: "kind: A\n", Passes: "kind: B\n```\n"}},
		{ID: "BUD-10.1-01", Title: "Alerts", Section: "10.1", Severity: SeverityLow, Remediation: "rules"},
		{ID: "BUD-4.1-01", Title: "Exposure", Section: "4.1", Severity: SeverityHigh, Remediation: "lb"},
	}
	var buf bytes.Buffer
	if err := WriteChecksDoc(&buf, checks); err != nil {
		t.Fatal(err)
	}
	doc := buf.String()
	tests := []struct {
		name, want string
	}{
		{name: "table row with escaped title", want: `| [BUD-3.2-01](#bud-32-01) | A \| B | 3.2 | critical |`},
		{name: "sections in numeric order", want: "## BUD-3.2-01"},
		{name: "failing example", want: "Fails:\n\n```yaml\nkind: A\n```"},
		{name: "passing example fenced around backticks", want: "Passes:\n\n````yaml\nkind: B\n```\n````"},
		{name: "missing example said", want: "Fails: no example."},
		{name: "remediation", want: "- Remediation: lb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(doc, tt.want) {
				t.Errorf("doc lacks %q:\n%s", tt.want, doc)
			}
		})
	}
	if strings.Index(doc, "## BUD-4.1-01") > strings.Index(doc, "## BUD-10.1-01") {
		t.Error("4.1 is listed after 10.1")
	}
}
