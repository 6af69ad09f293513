package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/budnet/budnet/internal/audit"
)

// maxChecklistEvidence bounds the failing causes linked from one checklist
// line; the findings section below lists them all.
const maxChecklistEvidence = 5

// MaxMarkdownChars is the most a GitHub pull-request comment holds (the API
// answers 422 "Body is too long (maximum is 65536 characters)"): the
// Markdown report is meant to be posted as one.
const MaxMarkdownChars = 65536

// mdFooterReserve is kept free for the lines that end the report: what was
// left out, and the summary.
const mdFooterReserve = 1024

// WriteAuditMarkdown writes the guide's section 11 hardening checklist with
// every box ticked or not from the findings, each line linking the evidence
// that decides it, then the failing findings with their evidence. Findings
// of a check that share a cause are one line with their count and first
// subjects. The whole fits MaxMarkdownChars: lines that would pass it are
// left out, and the report says how many and where they are (-o json).
func WriteAuditMarkdown(w io.Writer, r *audit.Report) error {
	md := &mdBudget{limit: MaxMarkdownChars - mdFooterReserve}
	md.must("## 11. Hardening Checklist\n\n")
	md.must(fmt.Sprintf("Computed by `budnet audit` from %s", mdInputs(r)))
	if r.Platform != "" {
		md.must(fmt.Sprintf(" against the platform model `%s`", r.Platform))
	}
	md.must(". A box is ticked when every check deciding it passes; an accepted (suppressed) gap stays unticked. " +
		"Findings of a check that share a cause are one line; `-o json` and `-o sarif` list every finding.\n")
	writeBaselineMarkdown(md, r.Baseline)
	group := ""
	for _, st := range audit.EvaluateChecklist(r) {
		if st.Item.Group != group {
			group = st.Item.Group
			md.line(fmt.Sprintf("\n### %s %s\n\n", group, audit.ChecklistGroupTitle(group)))
		}
		writeChecklistLine(md, st)
	}
	writeFailingMarkdown(md, r)
	if md.dropped > 0 {
		md.must(fmt.Sprintf("\n_%d more %s (%d %s) left out to fit a pull-request comment (%d characters); "+
			"the full list: `budnet audit ... -o json` (or `-o html`)._\n",
			md.dropped, plural(md.dropped, "line", "lines"), md.droppedFindings, plural(md.droppedFindings, "finding", "findings"), MaxMarkdownChars))
	}
	md.must(fmt.Sprintf("\n%s\n", summaryLine(r, false)))
	if _, err := io.WriteString(w, md.b.String()); err != nil {
		return fmt.Errorf("writing audit report: %w", err)
	}
	return nil
}

// mdBudget builds the Markdown within a size: a line that would pass the
// limit is dropped and counted. Bytes are counted, never fewer than
// characters, so the limit holds for GitHub's character count too.
type mdBudget struct {
	b                        strings.Builder
	limit                    int
	dropped, droppedFindings int
}

// must writes s whatever the budget (headers and the closing lines, which
// the reserve is for).
func (m *mdBudget) must(s string) { m.b.WriteString(s) }

// line writes s when it fits, and reports whether it did.
func (m *mdBudget) line(s string) bool {
	if m.b.Len()+len(s) > m.limit {
		m.dropped++
		return false
	}
	m.b.WriteString(s)
	return true
}

// group writes the line of a group of findings, counting its findings when
// it is dropped.
func (m *mdBudget) group(s string, n int) {
	if !m.line(s) {
		m.droppedFindings += n
	}
}

func mdInputs(r *audit.Report) string {
	if len(r.Inputs) == 0 {
		return r.Source
	}
	quoted := make([]string, len(r.Inputs))
	for i, in := range r.Inputs {
		quoted[i] = "`" + in + "`"
	}
	return strings.Join(quoted, ", ")
}

func writeChecklistLine(md *mdBudget, st audit.ChecklistState) {
	box := "[ ]"
	if st.Ticked {
		box = "[x]"
	}
	head := fmt.Sprintf("- %s %s", box, st.Item.Text)
	switch {
	case len(st.Checks) == 0:
		note := st.Item.Note
		if note == "" {
			note = "none of the checks that decide it ran"
		}
		md.must(fmt.Sprintf("%s — not judged: %s\n", head, note))
		return
	case !st.Judged:
		md.must(fmt.Sprintf("%s — not judged: %s found nothing to check in these inputs\n", head, mdCheckList(st.Checks)))
		return
	case st.Ticked:
		md.must(fmt.Sprintf("%s — %s: %d passing %s\n", head, mdCheckList(st.Checks), len(st.Passing), plural(len(st.Passing), "finding", "findings")))
	default:
		md.must(fmt.Sprintf("%s — %s: %d failing, %d passing\n", head, mdCheckList(st.Checks), len(st.Failing), len(st.Passing)))
	}
	if st.Item.Note != "" {
		md.line(fmt.Sprintf("  - note: %s\n", st.Item.Note))
	}
	groups := GroupFindings(st.Failing, 0)
	for i, g := range groups {
		if i == maxChecklistEvidence {
			rest := 0
			for _, g := range groups[i:] {
				rest += len(g.Findings)
			}
			md.line(fmt.Sprintf("  - … and %d more below\n", rest))
			break
		}
		f := g.First()
		status := mdStatus(f, string(f.Status))
		if len(g.Findings) == 1 {
			md.group(fmt.Sprintf("  - %s %s `%s`: %s%s\n", f.CheckID, status, f.Subject, mdEscape(f.Message), mdEvidenceLinks(f.Evidence)), 1)
			continue
		}
		md.group(fmt.Sprintf("  - %s %s (%d findings) %s: %s\n", f.CheckID, status, len(g.Findings), mdEscape(f.Message), groupSubjectsText(g, mdCode)), len(g.Findings))
	}
}

// mdCode quotes s as inline code.
func mdCode(s string) string { return "`" + strings.ReplaceAll(s, "`", "'") + "`" }

func mdCheckList(ids []string) string {
	links := make([]string, len(ids))
	for i, id := range ids {
		links[i] = "[" + id + "](#" + mdAnchor(id) + ")"
	}
	return strings.Join(links, ", ")
}

// mdAnchor is the GitHub anchor of a check's heading in the findings section.
func mdAnchor(id string) string { return githubAnchor(id) }

// mdEvidenceLinks renders evidence as links to file#Lline, the form GitHub
// and most Markdown viewers of a repository resolve; evidence without a file
// (a live cluster) names its object.
func mdEvidenceLinks(es []audit.Evidence) string {
	var links []string
	for _, e := range es {
		switch {
		case linkable(e.File):
			target := fileURI(e.File)
			if e.Line > 0 && e.Template == "" {
				target += "#L" + strconv.Itoa(e.Line)
			}
			links = append(links, "["+mdEscape(EvidenceLocation(e))+"]("+target+")")
		case e.Object != "":
			links = append(links, "`"+e.Object+"`")
		case e.Connection != "":
			links = append(links, "`"+e.Connection+"`")
		}
	}
	if len(links) == 0 {
		return ""
	}
	return " (" + strings.Join(links, ", ") + ")"
}

func writeFailingMarkdown(md *mdBudget, r *audit.Report) {
	md.must("\n## Findings\n")
	for i := 0; i < len(r.Findings); {
		j := i
		failing := 0
		for ; j < len(r.Findings) && r.Findings[j].CheckID == r.Findings[i].CheckID; j++ {
			if r.Findings[j].Status.Failing() {
				failing++
			}
		}
		f := r.Findings[i]
		if !md.line(fmt.Sprintf("\n### %s\n\n%s — guide section %s, severity %s.\n\n", f.CheckID, mdEscape(f.Title), f.Section, f.Severity)) {
			md.droppedFindings += failing
			i = j
			continue
		}
		judged := 0
		for _, g := range r.Findings[i:j] {
			if g.Status != audit.StatusNotApplicable {
				judged++
			}
		}
		if judged == 0 {
			md.line(fmt.Sprintf("Not judged: %s\n", mdEscape(strings.Join(distinctMessages(r.Findings[i:j], 3), "; "))))
		} else if failing == 0 {
			md.line(fmt.Sprintf("No failing finding (%d judged).\n", judged))
		} else if f.Remediation != "" {
			md.line(fmt.Sprintf("Remediation: %s\n\n", f.Remediation))
		}
		var fs []audit.Finding
		for _, f := range r.Findings[i:j] {
			if f.Status.Failing() {
				fs = append(fs, f)
			}
		}
		for _, g := range GroupFindings(fs, 0) {
			writeGroupMarkdown(md, g)
		}
		i = j
	}
}

func writeGroupMarkdown(md *mdBudget, g FindingGroup) {
	f := g.First()
	status := mdStatus(f, "**"+string(f.Status)+"**")
	if len(g.Findings) == 1 {
		md.group(fmt.Sprintf("- %s `%s`: %s%s\n", status, f.Subject, mdEscape(f.Message), mdEvidenceLinks(f.Evidence)), 1)
		return
	}
	md.group(fmt.Sprintf("- %s (%d findings) %s: %s\n", status, len(g.Findings), mdEscape(f.Message), groupSubjectsText(g, mdCode)), len(g.Findings))
}

// mdEscape keeps text from opening Markdown constructs mid-line.
func mdEscape(s string) string {
	r := strings.NewReplacer("\n", " ", "|", `\|`, "<", "&lt;", ">", "&gt;", "[", `\[`, "]", `\]`)
	return r.Replace(s)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
