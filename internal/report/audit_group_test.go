package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// maxPRComment is the most a GitHub pull-request comment body holds, in
// characters (the API answers 422 "Body is too long (maximum is 65536
// characters)").
const maxPRComment = 65536

// TestExampleReportsGroupByCause: the example's ~650 BUD-4.2-01 findings
// that say "allowed but not intended on all ports" (no default deny) are one
// line in text, Markdown and HTML; the Markdown fits a PR comment and says
// where the rest is; JSON and SARIF keep every finding.
func TestExampleReportsGroupByCause(t *testing.T) {
	c := auditCase(t, "audit example", "")
	r := c.audit
	const cause = "allowed but not intended on all ports"
	members := 0
	for _, f := range r.Findings {
		if f.CheckID == "BUD-4.2-01" && f.Message == cause {
			members++
		}
	}
	if members < 100 {
		t.Fatalf("the example has %d BUD-4.2-01 findings saying %q; the test needs a large cause", members, cause)
	}
	countLine := regexp.MustCompile(`\b` + itoa(members) + ` findings\b`)

	t.Run("text", func(t *testing.T) {
		var buf bytes.Buffer
		if err := WriteAuditText(&buf, r, AuditTextOptions{}); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if n := strings.Count(out, cause); n != 1 {
			t.Errorf("the cause %q is printed %d times, want once", cause, n)
		}
		if !countLine.MatchString(out) {
			t.Errorf("no line counts the %d findings of the cause", members)
		}
		t.Logf("text: %d bytes", buf.Len())
	})
	t.Run("markdown", func(t *testing.T) {
		var buf bytes.Buffer
		if err := WriteAuditMarkdown(&buf, r); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if n := utf8.RuneCountInString(out); n > maxPRComment {
			t.Errorf("markdown is %d characters, over a PR comment's %d", n, maxPRComment)
		}
		if n := strings.Count(out, cause); n > 2 { // the checklist line and the findings line
			t.Errorf("the cause %q is printed %d times, want it grouped", cause, n)
		}
		if !countLine.MatchString(out) {
			t.Errorf("no line counts the %d findings of the cause", members)
		}
		if !strings.Contains(out, "-o json") {
			t.Errorf("the markdown does not say where the full list is (-o json)")
		}
		t.Logf("markdown: %d bytes, %d characters", buf.Len(), utf8.RuneCountInString(out))
	})
	t.Run("html", func(t *testing.T) {
		var buf bytes.Buffer
		opts := htmlTestOptions()
		if err := c.write(&buf, opts); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if n := strings.Count(out, cause); n > 2 { // the checklist link and the findings row
			t.Errorf("the cause %q is printed %d times, want it grouped", cause, n)
		}
		if !countLine.MatchString(out) {
			t.Errorf("no element counts the %d findings of the cause", members)
		}
		t.Logf("html: %d bytes", buf.Len())
	})
	t.Run("json and sarif keep every finding", func(t *testing.T) {
		var js, sarif bytes.Buffer
		if err := WriteAuditJSON(&js, r); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(js.String(), `"message":"`+cause+`"`); n != members {
			t.Errorf("json holds %d findings of the cause, want %d", n, members)
		}
		if err := WriteAuditSARIF(&sarif, r, SARIFOptions{Version: "test"}); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(sarif.String(), `: `+cause+`"`); n != members {
			t.Errorf("sarif holds %d results of the cause, want %d", n, members)
		}
	})
}

func TestGroupFindings(t *testing.T) {
	c := auditCase(t, "audit example", "")
	var total, groups int
	for i := 0; i < len(c.audit.Findings); {
		j := i
		for j < len(c.audit.Findings) && c.audit.Findings[j].CheckID == c.audit.Findings[i].CheckID {
			j++
		}
		gs := GroupFindings(c.audit.Findings[i:j], i)
		groups += len(gs)
		for _, g := range gs {
			for k, f := range g.Findings {
				total++
				if f.Message != g.First().Message || f.Status != g.First().Status || f.Suppressed != g.First().Suppressed {
					t.Errorf("group of %q holds %q", g.First().Message, f.Message)
				}
				if c.audit.Findings[g.Index[k]].Subject != f.Subject {
					t.Errorf("index %d does not point at %s", g.Index[k], f.Subject)
				}
			}
		}
		i = j
	}
	if total != len(c.audit.Findings) {
		t.Errorf("groups hold %d findings, want all %d", total, len(c.audit.Findings))
	}
	t.Logf("%d findings in %d groups", total, groups)
}

// TestMarkdownFitsAPRComment: findings that share no cause cannot be
// grouped; the Markdown still fits a PR comment, leaves whole lines out and
// says how many and where they are.
func TestMarkdownFitsAPRComment(t *testing.T) {
	c := auditCase(t, "audit example", "")
	r := *c.audit
	r.Findings = nil
	for i, f := range c.audit.Findings {
		if f.Status.Failing() {
			f.Message += " (cause " + itoa(i) + ")" // every finding its own cause
		}
		r.Findings = append(r.Findings, f)
	}
	var buf bytes.Buffer
	if err := WriteAuditMarkdown(&buf, &r); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if n := utf8.RuneCountInString(out); n > maxPRComment {
		t.Errorf("markdown is %d characters, over a PR comment's %d", n, maxPRComment)
	}
	m := regexp.MustCompile(`_(\d+) more lines \((\d+) findings\) left out to fit a pull-request comment \(65536 characters\); the full list: ` + "`budnet audit ... -o json`").FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no line says what was left out and where it is; the end:\n%s", out[max(0, len(out)-600):])
	}
	listed := strings.Count(out, " (cause ")
	failing := r.Summary.Fail + r.Summary.Partial
	if dropped := atoiT(t, m[2]); listed+dropped < failing || dropped == 0 {
		t.Errorf("%d findings listed (some twice, from the checklist) and %d said left out, of %d failing", listed, dropped, failing)
	}
	if lines := strings.Split(strings.TrimSpace(out), "\n"); !strings.Contains(lines[len(lines)-1], " checks, ") {
		t.Errorf("the summary line is missing at the end")
	}
}

func atoiT(t *testing.T, s string) int {
	t.Helper()
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
