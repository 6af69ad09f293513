package report

import (
	"io"

	"github.com/budnet/budnet/internal/audit"
	"github.com/budnet/budnet/internal/diff"
)

// WriteDiffSARIF writes the findings the change adds, and only those, as
// audit's SARIF (WriteAuditSARIF, one home for the format): code scanning
// on a pull request then shows what the change introduces. Connection
// changes are not SARIF results; the Markdown and JSON forms carry them.
func WriteDiffSARIF(w io.Writer, r *diff.Result, opts SARIFOptions) error {
	rep := &audit.Report{Source: "files", Inputs: r.Head.Inputs, Platform: r.Platform, Checks: r.Checks,
		Findings: r.NewFindings, FailOn: r.FailOn}
	rep.Summary = audit.Summarize(len(r.Checks), r.NewFindings)
	return WriteAuditSARIF(w, rep, opts)
}
