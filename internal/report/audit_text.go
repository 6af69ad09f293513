package report

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/budnet/budnet/internal/audit"
)

// maxTextFindings bounds the lines of failing findings the text report
// lists per check (a line is one finding, or one cause shared by many), so
// one check failing for every connection does not bury the rest.
const maxTextFindings = 10

// AuditTextOptions tune the text report.
type AuditTextOptions struct {
	// Color adds ANSI colours; the command sets it only when stdout is a terminal.
	Color bool
	// Verbose lists passing findings one by one instead of counting them.
	Verbose bool
}

// sectionTitles are the guide's section headings, for grouping. Sections the
// guide file does not title (it skips 5, 6.2 and 7) get the names.
var sectionTitles = map[string]string{
	"3.1":  "Kubernetes Namespaces",
	"3.2":  "Network Policies",
	"4.1":  "Ingress Rules (External to Cluster)",
	"4.2":  "Internal Rules (Within Cluster)",
	"4.3":  "Egress Rules (Cluster to External)",
	"5":    "Service Mesh (Dapr mTLS)",
	"6":    "TLS Configuration",
	"6.1":  "Certificate Management",
	"6.2":  "TLS Versions",
	"6.3":  "Database TLS",
	"7":    "Edge Hardening",
	"8.2":  "External Provider Whitelist",
	"9.2":  "Cluster Communication Security",
	"10.1": "Network Monitoring Points",
	"11":   "Hardening Checklist",
	"11.2": "Partially Implemented (edge)",
}

// SectionTitle returns the guide's heading of a section, or "" when unknown.
func SectionTitle(section string) string { return sectionTitles[section] }

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiGrey   = "\x1b[90m"
)

type painter bool

func (p painter) paint(code, s string) string {
	if !p {
		return s
	}
	return code + s + ansiReset
}

// WriteAuditText writes the human report: findings grouped by guide section,
// then check, failing ones with evidence and remediation, passing ones
// counted, and a summary line.
func WriteAuditText(w io.Writer, r *audit.Report, opts AuditTextOptions) error {
	bw := bufio.NewWriter(w)
	p := painter(opts.Color)
	for _, warn := range r.Warnings {
		fmt.Fprintf(bw, "%s %s\n", p.paint(ansiYellow, "warning:"), warn)
	}
	if len(r.Warnings) > 0 {
		bw.WriteString("\n")
	}
	section := ""
	for i := 0; i < len(r.Findings); {
		j := i
		for j < len(r.Findings) && r.Findings[j].CheckID == r.Findings[i].CheckID {
			j++
		}
		if s := r.Findings[i].Section; s != section {
			if section != "" {
				bw.WriteString("\n")
			}
			section = s
			fmt.Fprintf(bw, "%s\n", p.paint(ansiBold, strings.TrimSpace(s+" "+SectionTitle(s))))
		}
		writeCheckText(bw, p, r.Findings[i:j], opts.Verbose)
		i = j
	}
	if len(r.Findings) > 0 {
		bw.WriteString("\n")
	}
	writeBaselineText(bw, p, r.Baseline)
	bw.WriteString(summaryLine(r, p))
	bw.WriteString("\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing audit report: %w", err)
	}
	return nil
}

// writeCheckText writes one check's findings (all of the same check).
func writeCheckText(bw *bufio.Writer, p painter, fs []audit.Finding, verbose bool) {
	first := fs[0]
	var passing, na int
	failing, accepted, known := false, false, false
	for _, f := range fs {
		switch {
		case f.Counts():
			failing = true
		case f.Status.Failing() && f.Baselined:
			known = true
		case f.Status.Failing():
			accepted = true
		case f.Status == audit.StatusPass:
			passing++
		case f.Status == audit.StatusNotApplicable:
			na++
		}
	}
	// A check none of whose findings was judged (all not applicable) says so:
	// printing PASS for it would be a pass by default.
	notJudged := !failing && !accepted && !known && passing == 0 && na > 0
	mark := p.paint(ansiGreen, "PASS")
	switch {
	case failing:
		mark = p.paint(ansiRed, "FAIL")
	case known:
		// Failing, but already in the baseline (--baseline): not new.
		mark = p.paint(ansiGrey, "KNOWN")
	case accepted:
		mark = p.paint(ansiGrey, "ACCEPTED")
	case notJudged:
		mark = p.paint(ansiGrey, "NOT JUDGED")
	}
	fmt.Fprintf(bw, "  %s %s %s %s\n", mark, first.CheckID, p.paint(ansiGrey, "["+first.Severity.String()+"]"), first.Title)
	switch {
	case verbose:
		for _, f := range fs {
			writeFindingText(bw, p, f)
		}
	case notJudged:
		for _, msg := range distinctMessages(fs, 3) {
			fmt.Fprintf(bw, "       %s\n", msg)
		}
	default:
		writeFailingGroupsText(bw, p, fs)
	}
	if !verbose && passing+na > 0 {
		var parts []string
		if passing > 0 {
			parts = append(parts, strconv.Itoa(passing)+" pass")
		}
		if na > 0 {
			parts = append(parts, strconv.Itoa(na)+" not applicable")
		}
		fmt.Fprintf(bw, "       %s\n", p.paint(ansiGrey, strings.Join(parts, ", ")))
	}
	if failing && first.Remediation != "" {
		fmt.Fprintf(bw, "       fix: %s\n", first.Remediation)
	}
}

// writeFailingGroupsText lists a check's failing findings one line per
// cause (GroupFindings): a cause shared by many findings is printed once
// with their count and first subjects.
func writeFailingGroupsText(bw *bufio.Writer, p painter, fs []audit.Finding) {
	var failing []audit.Finding
	for _, f := range fs {
		if f.Status.Failing() {
			failing = append(failing, f)
		}
	}
	hiddenFindings, hiddenLines := 0, 0
	for i, g := range GroupFindings(failing, 0) {
		if i >= maxTextFindings {
			hiddenFindings += len(g.Findings)
			hiddenLines++
			continue
		}
		if len(g.Findings) == 1 {
			writeFindingText(bw, p, g.First())
			continue
		}
		f := g.First()
		fmt.Fprintf(bw, "       - %s (%d findings) %s\n", statusText(p, f), len(g.Findings), f.Message)
		writeSuppressionText(bw, f)
		fmt.Fprintf(bw, "         %s\n", groupSubjectsText(g, func(s string) string { return s }))
	}
	if hiddenLines > 0 {
		fmt.Fprintf(bw, "       %s\n", p.paint(ansiGrey, fmt.Sprintf("… and %d more failing %s in %d more %s (-v or -o json lists them all)",
			hiddenFindings, plural(hiddenFindings, "finding", "findings"), hiddenLines, plural(hiddenLines, "line", "lines"))))
	}
}

func statusText(p painter, f audit.Finding) string {
	status := string(f.Status)
	switch {
	case f.Suppressed:
		status = p.paint(ansiGrey, "suppressed "+status)
	case f.Baselined:
		status = p.paint(ansiGrey, "known "+status)
	case f.Status == audit.StatusFail:
		status = p.paint(ansiRed, status)
	case f.Status == audit.StatusPartial:
		status = p.paint(ansiYellow, status)
	}
	return status
}

func writeFindingText(bw *bufio.Writer, p painter, f audit.Finding) {
	fmt.Fprintf(bw, "       - %s %s: %s\n", statusText(p, f), f.Subject, f.Message)
	writeSuppressionText(bw, f)
	for _, e := range f.Evidence {
		// Matrix findings' messages already say their connection and why.
		if text := EvidenceText(e); !strings.Contains(f.Message, text) {
			fmt.Fprintf(bw, "         %s\n", text)
		}
	}
}

// EvidenceText renders evidence on one line: where, what object and field,
// the connection and deciding policies, and what was found.
func EvidenceText(e audit.Evidence) string {
	var parts []string
	if loc := EvidenceLocation(e); loc != "" {
		parts = append(parts, loc)
	}
	if e.Object != "" {
		obj := e.Object
		if e.Field != "" {
			obj += " " + e.Field
		}
		parts = append(parts, obj)
	}
	if e.Connection != "" {
		parts = append(parts, e.Connection)
	}
	if len(e.Policies) > 0 {
		parts = append(parts, "policies: "+strings.Join(e.Policies, ", "))
	}
	if e.Detail != "" {
		parts = append(parts, e.Detail)
	}
	return strings.Join(parts, ": ")
}

// EvidenceLocation renders "file:line" (with the Helm template when there is
// one), or "" when the evidence has no file.
func EvidenceLocation(e audit.Evidence) string {
	name := e.File
	if e.Template != "" {
		name = e.Template
	}
	if name == "" {
		return ""
	}
	if e.Line > 0 {
		return name + ":" + strconv.Itoa(e.Line)
	}
	return name
}

// summaryLine is the one-line summary the text and markdown reports end with.
func summaryLine(r *audit.Report, p painter) string {
	s := r.Summary
	var b strings.Builder
	fmt.Fprintf(&b, "%d checks, %d findings: %d pass, %d fail, %d partial, %d not applicable, %d suppressed",
		s.Checks, s.Findings, s.Pass, s.Fail, s.Partial, s.NotApplicable, s.Suppressed)
	if r.Baseline != nil {
		fmt.Fprintf(&b, ", %d in the baseline", s.Baselined)
	}
	var sev []string
	for i := audit.SeverityCritical; i >= audit.SeverityInfo; i-- {
		if n := s.FailingBySeverity[i.String()]; n > 0 {
			sev = append(sev, fmt.Sprintf("%d %s", n, i))
		}
	}
	if len(sev) > 0 {
		fmt.Fprintf(&b, "; failing: %s", strings.Join(sev, ", "))
	}
	verdict := p.paint(ansiGreen, "PASS")
	if audit.ExitCode(r.Findings, r.FailOn) != 0 {
		verdict = p.paint(ansiRed, "FAIL")
	}
	fmt.Fprintf(&b, " (--fail-on %s: %s)", r.FailOn, verdict)
	return b.String()
}

// distinctMessages returns the first n distinct messages of fs, in order.
func distinctMessages(fs []audit.Finding, n int) []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range fs {
		if f.Message == "" || seen[f.Message] {
			continue
		}
		seen[f.Message] = true
		if out = append(out, f.Message); len(out) == n {
			break
		}
	}
	return out
}
