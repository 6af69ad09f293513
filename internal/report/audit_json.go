package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/budnet/budnet/internal/audit"
)

// AuditSchemaVersion names the JSON report's schema (docs/audit.md). Fields
// are only ever added under this name; a removal or change of meaning gets a
// new version.
const AuditSchemaVersion = "budnet.io/audit/v1"

// auditJSONMeta is the "metadata" object of the JSON report.
type auditJSONMeta struct {
	Source   string   `json:"source"`
	Inputs   []string `json:"inputs"`
	Platform string   `json:"platform,omitempty"`
	FailOn   string   `json:"failOn"`
	// Failed says whether the exit code is 1 (a finding at or above failOn fails).
	Failed bool `json:"failed"`
}

// WriteAuditJSON writes the documented JSON form:
//
//	{"schemaVersion": "budnet.io/audit/v1",
//	 "metadata": {"source", "inputs", "platform", "failOn", "failed"},
//	 "summary": {"checks", "findings", "pass", "fail", "partial", "notApplicable",
//	             "suppressed", "failingBySeverity": {"critical": n, ...}},
//	 "warnings": ["..."],
//	 "baseline": {"file", "new", "known", "fixed": [finding...]},   (with --baseline)
//	 "findings": [{"checkId", "title", "section", "severity", "status", "subject",
//	               "message", "evidence": [...], "remediation", "suppressed",
//	               "suppressionReason", "suppressionExpired", "baselined"}]}
//
// Findings are streamed one per line, so the output diffs well.
func WriteAuditJSON(w io.Writer, r *audit.Report) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	meta, err := json.Marshal(auditJSONMeta{
		Source: r.Source, Inputs: nonNil(r.Inputs), Platform: r.Platform,
		FailOn: r.FailOn.String(), Failed: audit.ExitCode(r.Findings, r.FailOn) != 0,
	})
	if err != nil {
		return fmt.Errorf("encoding metadata: %w", err)
	}
	summary, err := json.Marshal(r.Summary)
	if err != nil {
		return fmt.Errorf("encoding summary: %w", err)
	}
	warnings, err := json.Marshal(nonNil(r.Warnings))
	if err != nil {
		return fmt.Errorf("encoding warnings: %w", err)
	}
	fmt.Fprintf(bw, "{\"schemaVersion\":%q,\n\"metadata\":%s,\n\"summary\":%s,\n\"warnings\":%s,\n", AuditSchemaVersion, meta, summary, warnings)
	if r.Baseline != nil {
		b, err := json.Marshal(baselineJSONOf(r.Baseline))
		if err != nil {
			return fmt.Errorf("encoding the baseline: %w", err)
		}
		fmt.Fprintf(bw, "\"baseline\":%s,\n", b)
	}
	bw.WriteString("\"findings\":[")
	for i := range r.Findings {
		f, err := json.Marshal(&r.Findings[i])
		if err != nil {
			return fmt.Errorf("encoding finding %s %s: %w", r.Findings[i].CheckID, r.Findings[i].Subject, err)
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n")
		bw.Write(f)
	}
	bw.WriteString("\n]}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing audit report: %w", err)
	}
	return nil
}

// baselineJSON is the "baseline" object of a report run with --baseline.
type baselineJSON struct {
	File  string          `json:"file"`
	New   int             `json:"new"`
	Known int             `json:"known"`
	Fixed []audit.Finding `json:"fixed"`
}

func baselineJSONOf(b *audit.BaselineResult) baselineJSON {
	fixed := b.Fixed
	if fixed == nil {
		fixed = []audit.Finding{}
	}
	return baselineJSON{File: b.File, New: b.New, Known: b.Known, Fixed: fixed}
}
