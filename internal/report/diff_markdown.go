package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/budnet/budnet/internal/diff"
	"github.com/budnet/budnet/internal/reach"
)

// maxDiffFailures bounds the reasons listed under the verdict, so the
// connections and findings below still fit.
const maxDiffFailures = 20

// WriteDiffMarkdown writes `budnet diff` as a pull-request comment: the
// verdict and why first, then the changed connections as a table (what the
// model says of each, and the policies that decide it in the head), the
// intended flows broken or repaired, and the new and fixed findings. It fits
// MaxMarkdownChars: lines past it are left out and counted, with a pointer
// to the JSON form that holds everything.
func WriteDiffMarkdown(w io.Writer, r *diff.Result) error {
	md := &mdBudget{limit: MaxMarkdownChars - mdFooterReserve}
	md.must("## budnet diff\n\n")
	if len(r.Failures) == 0 {
		md.must(fmt.Sprintf("**PASS**: the change opens nothing the model does not intend, breaks no intended flow and adds no finding at or above %s.\n", r.FailOn))
	} else {
		md.must(fmt.Sprintf("**FAIL** (--fail-on %s):\n\n", r.FailOn))
		for i, f := range r.Failures {
			if i == maxDiffFailures {
				md.line(fmt.Sprintf("- … and %d more (below, and in `-o json`)\n", len(r.Failures)-i))
				break
			}
			md.line("- " + mdEscape(f) + "\n")
		}
	}
	md.must(fmt.Sprintf("\nBase %s: %d workloads, %d policies, %d failing findings. Head %s: %d workloads, %d policies, %d failing findings",
		mdSide(r.Base.Inputs), r.Base.Workloads, r.Base.Policies, r.Base.FailingFindings,
		mdSide(r.Head.Inputs), r.Head.Workloads, r.Head.Policies, r.Head.FailingFindings))
	if r.Platform != "" {
		md.must(fmt.Sprintf("; judged against the platform model `%s`", r.Platform))
	}
	md.must(".\n")
	counts := map[diff.Kind]int{}
	for _, c := range r.Connections {
		counts[c.Kind]++
	}
	md.must(fmt.Sprintf("\n### Connections: %d changed, %d added, %d removed\n\n", counts[diff.Changed], counts[diff.Added], counts[diff.Removed]))
	if len(r.Connections) > 0 {
		md.must("| diff-type | source | destination | base | head | model | decided in the head by |\n|---|---|---|---|---|---|---|\n")
	}
	for _, c := range r.Connections {
		kind := string(c.Kind)
		if c.Intent.Fails() {
			kind = "**" + kind + "**"
		}
		if c.Workloads != "" {
			kind += " (" + mdEscape(c.Workloads) + ")"
		}
		policies := strings.Join(c.Head.Policies, ", ")
		if policies == "" {
			policies = mdEscape(firstClause(c.Head.Reason))
		}
		md.line(fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s |\n", kind, mdCode(c.Src), mdCode(c.Dst),
			mdEscape(DiffPortsText(c.Before)), mdEscape(DiffPortsText(c.After)), mdIntent(c), mdEscape(policies)))
	}
	for _, l := range []struct {
		title string
		n     int
		items func() []string
	}{
		{"Intended flows the change breaks", len(r.NewlyBroken), func() []string { return mdFlows(r.NewlyBroken, "blocked by") }},
		{"Intended flows the change repairs", len(r.Repaired), func() []string { return mdFlows(r.Repaired, "were blocked by") }},
	} {
		if l.n == 0 {
			continue
		}
		md.must(fmt.Sprintf("\n### %s: %d\n\n", l.title, l.n))
		for _, item := range l.items() {
			md.line(item)
		}
	}
	md.must(fmt.Sprintf("\n### Checklist: %d new failing %s, %d fixed\n\n", len(r.NewFindings), plural(len(r.NewFindings), "finding", "findings"), len(r.FixedFindings)))
	for _, f := range r.NewFindings {
		md.group(fmt.Sprintf("- **new** %s [%s] %s: %s%s\n", f.CheckID, f.Severity, mdCode(f.Subject), mdEscape(f.Message), mdEvidenceLinks(f.Evidence)), 1)
	}
	for _, f := range r.FixedFindings {
		md.group(fmt.Sprintf("- fixed %s [%s] %s: %s\n", f.CheckID, f.Severity, mdCode(f.Subject), mdEscape(f.Title)), 1)
	}
	if len(r.Notes) > 0 {
		md.must("\n")
		for _, n := range r.Notes {
			md.line("_note: " + mdEscape(n) + "_\n")
		}
	}
	if md.dropped > 0 {
		md.must(fmt.Sprintf("\n_%d more %s left out to fit a pull-request comment (%d characters); "+
			"the full diff: `budnet diff ... -o json` (the workflow's JSON artifact)._\n",
			md.dropped, plural(md.dropped, "line", "lines"), MaxMarkdownChars))
	}
	if _, err := io.WriteString(w, md.b.String()); err != nil {
		return fmt.Errorf("writing diff: %w", err)
	}
	return nil
}

func mdSide(inputs []string) string {
	if len(inputs) == 0 {
		return "(nothing)"
	}
	quoted := make([]string, len(inputs))
	for i, in := range inputs {
		quoted[i] = mdCode(in)
	}
	return strings.Join(quoted, ", ")
}

func mdIntent(c diff.Change) string {
	text := mdEscape(DiffIntentText(c))
	if c.Intent.Fails() {
		word, rest, _ := strings.Cut(text, ":")
		return "**" + word + "**:" + rest
	}
	return text
}

func mdFlows(ds []reach.Discrepancy, verb string) []string {
	var out []string
	for _, d := range ds {
		line := fmt.Sprintf("- %s => %s : %s (flow %s", mdCode(d.Src), mdCode(d.Dst), mdEscape(DiffPortsText(d.Ports)), mdEscape(d.Flow))
		if d.Guide != "" {
			line += "; " + mdEscape(d.Guide)
		}
		line += ")"
		if len(d.Policies) > 0 {
			line += " " + verb + " " + mdEscape(strings.Join(d.Policies, ", "))
		}
		out = append(out, line+"\n")
	}
	return out
}

// firstClause is the start of an engine explanation, for a table cell.
func firstClause(s string) string {
	s, _, _ = strings.Cut(s, ";")
	return s
}
