package report

import (
	"bufio"
	"fmt"

	"github.com/budnet/budnet/internal/audit"
)

// writeSuppressionText says why a finding is accepted, or that the
// suppression that accepted it expired.
func writeSuppressionText(bw *bufio.Writer, f audit.Finding) {
	switch {
	case f.Suppressed:
		fmt.Fprintf(bw, "         accepted: %s\n", f.SuppressionReason)
	case f.SuppressionExpired != "":
		fmt.Fprintf(bw, "         no longer accepted: %s\n", f.SuppressionExpired)
	}
}

// writeBaselineText ends a report run with --baseline: what is new, what
// was already failing, and the baseline's findings that no longer fail.
func writeBaselineText(bw *bufio.Writer, p painter, b *audit.BaselineResult) {
	if b == nil {
		return
	}
	fmt.Fprintf(bw, "%s %s: %d new failing %s, %d already in it (KNOWN), %d fixed\n",
		p.paint(ansiBold, "Baseline"), b.File, b.New, plural(b.New, "finding", "findings"), b.Known, len(b.Fixed))
	for _, f := range b.Fixed {
		fmt.Fprintf(bw, "  %s %s %s: %s\n", p.paint(ansiGreen, "FIXED"), f.CheckID, f.Subject, f.Title)
	}
	bw.WriteString("\n")
}

// mdStatus is a finding's status in Markdown: accepted (suppressed), known
// (in the baseline), or plain, with an expired suppression said.
func mdStatus(f audit.Finding, plain string) string {
	switch {
	case f.Suppressed:
		return "accepted " + string(f.Status) + " (" + mdEscape(f.SuppressionReason) + ")"
	case f.Baselined:
		return "known " + string(f.Status) + " (in the baseline)"
	case f.SuppressionExpired != "":
		return plain + " (" + mdEscape(f.SuppressionExpired) + ")"
	}
	return plain
}

// writeBaselineMarkdown lists, with --baseline, what is new and what the
// baseline had that no longer fails.
func writeBaselineMarkdown(md *mdBudget, b *audit.BaselineResult) {
	if b == nil {
		return
	}
	md.must(fmt.Sprintf("\n### Against the baseline `%s`\n\n%d new failing %s, %d already in the baseline, %d fixed.\n",
		mdEscape(b.File), b.New, plural(b.New, "finding", "findings"), b.Known, len(b.Fixed)))
	if len(b.Fixed) > 0 {
		md.line("\n")
	}
	for _, f := range b.Fixed {
		md.group(fmt.Sprintf("- fixed %s `%s`: %s\n", f.CheckID, f.Subject, mdEscape(f.Title)), 1)
	}
}
