package report

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"budnet/internal/audit"
)

// maxChecklistEvidence bounds the failing findings linked from one checklist
// line; the findings section below lists them all.
const maxChecklistEvidence = 5

// WriteAuditMarkdown writes the guide's section 11 hardening checklist with
// every box ticked or not from the findings, each line linking the evidence
// that decides it, then the failing findings with their evidence.
func WriteAuditMarkdown(w io.Writer, r *audit.Report) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("## 11. Hardening Checklist\n\n")
	fmt.Fprintf(bw, "Computed by `budnet audit` from %s", mdInputs(r))
	if r.Platform != "" {
		fmt.Fprintf(bw, " against the platform model `%s`", r.Platform)
	}
	bw.WriteString(". A box is ticked when every check deciding it passes; an accepted (suppressed) gap stays unticked.\n")
	group := ""
	for _, st := range audit.EvaluateChecklist(r) {
		if st.Item.Group != group {
			group = st.Item.Group
			fmt.Fprintf(bw, "\n### %s %s\n\n", group, audit.ChecklistGroupTitle(group))
		}
		writeChecklistLine(bw, st)
	}
	writeFailingMarkdown(bw, r)
	fmt.Fprintf(bw, "\n%s\n", summaryLine(r, false))
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing audit report: %w", err)
	}
	return nil
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

func writeChecklistLine(bw *bufio.Writer, st audit.ChecklistState) {
	box := "[ ]"
	if st.Ticked {
		box = "[x]"
	}
	fmt.Fprintf(bw, "- %s %s", box, st.Item.Text)
	switch {
	case len(st.Checks) == 0:
		note := st.Item.Note
		if note == "" {
			note = "none of the checks that decide it ran"
		}
		fmt.Fprintf(bw, " — not judged: %s\n", note)
		return
	case !st.Judged:
		fmt.Fprintf(bw, " — not judged: %s found nothing to check in these inputs\n", mdCheckList(st.Checks))
		return
	case st.Ticked:
		fmt.Fprintf(bw, " — %s: %d passing %s\n", mdCheckList(st.Checks), len(st.Passing), plural(len(st.Passing), "finding", "findings"))
	default:
		fmt.Fprintf(bw, " — %s: %d failing, %d passing\n", mdCheckList(st.Checks), len(st.Failing), len(st.Passing))
	}
	if st.Item.Note != "" {
		fmt.Fprintf(bw, "  - note: %s\n", st.Item.Note)
	}
	for i, f := range st.Failing {
		if i == maxChecklistEvidence {
			fmt.Fprintf(bw, "  - … and %d more below\n", len(st.Failing)-i)
			break
		}
		status := string(f.Status)
		if f.Suppressed {
			status = "accepted " + status + " (" + mdEscape(f.SuppressionReason) + ")"
		}
		fmt.Fprintf(bw, "  - %s %s `%s`: %s%s\n", f.CheckID, status, f.Subject, mdEscape(f.Message), mdEvidenceLinks(f.Evidence))
	}
}

func mdCheckList(ids []string) string {
	links := make([]string, len(ids))
	for i, id := range ids {
		links[i] = "[" + id + "](#" + mdAnchor(id) + ")"
	}
	return strings.Join(links, ", ")
}

// mdAnchor is the GitHub heading anchor of a check's heading in the findings
// section: lower-case, dots dropped.
func mdAnchor(id string) string {
	return strings.ReplaceAll(strings.ToLower(id), ".", "")
}

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

func writeFailingMarkdown(bw *bufio.Writer, r *audit.Report) {
	bw.WriteString("\n## Findings\n")
	for i := 0; i < len(r.Findings); {
		j := i
		failing := 0
		for ; j < len(r.Findings) && r.Findings[j].CheckID == r.Findings[i].CheckID; j++ {
			if r.Findings[j].Status.Failing() {
				failing++
			}
		}
		f := r.Findings[i]
		fmt.Fprintf(bw, "\n### %s\n\n%s — guide section %s, severity %s.\n\n", f.CheckID, mdEscape(f.Title), f.Section, f.Severity)
		if failing == 0 {
			fmt.Fprintf(bw, "No failing finding (%d judged).\n", j-i)
		} else if f.Remediation != "" {
			fmt.Fprintf(bw, "Remediation: %s\n\n", f.Remediation)
		}
		for _, f := range r.Findings[i:j] {
			writeFindingMarkdown(bw, f)
		}
		i = j
	}
}

func writeFindingMarkdown(bw *bufio.Writer, f audit.Finding) {
	if !f.Status.Failing() {
		return
	}
	status := "**" + string(f.Status) + "**"
	if f.Suppressed {
		status = "accepted " + string(f.Status) + " (" + mdEscape(f.SuppressionReason) + ")"
	}
	fmt.Fprintf(bw, "- %s `%s`: %s%s\n", status, f.Subject, mdEscape(f.Message), mdEvidenceLinks(f.Evidence))
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
