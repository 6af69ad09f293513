package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/budnet/budnet/internal/diff"
	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/reach"
)

// noConnections is netpol-analyzer's word for an empty side of a diff line.
const noConnections = "No Connections"

// DiffPortsText renders one side's ports of a diff line: "TCP 5432",
// "All Connections", or "No Connections".
func DiffPortsText(ports netpol.PortSet) string {
	if ports.IsEmpty() {
		return noConnections
	}
	return string(AppendPortsText(nil, ports))
}

// WriteDiffText writes `budnet diff`'s text form: a header per side, the
// connection lines in netpol-analyzer's form ("diff-type: changed, source:
// ..., destination: ..., base: ..., head: ...") followed by what the model
// says of each and the policies that decide it on both sides, the intended
// flows newly broken or repaired, the checklist's new and fixed findings,
// and the verdict.
func WriteDiffText(w io.Writer, r *diff.Result) error {
	bw := bufio.NewWriter(w)
	writeDiffSideText(bw, "base", r.Base)
	writeDiffSideText(bw, "head", r.Head)
	for _, n := range r.Notes {
		fmt.Fprintf(bw, "# note: %s\n", n)
	}
	bw.WriteString("\nConnectivity diff:\n")
	if len(r.Connections) == 0 {
		bw.WriteString("(no connection changed)\n")
	}
	for _, c := range r.Connections {
		fmt.Fprintf(bw, "diff-type: %s, source: %s, destination: %s, base: %s, head: %s", c.Kind, c.Src, c.Dst, DiffPortsText(c.Before), DiffPortsText(c.After))
		if c.Workloads != "" {
			fmt.Fprintf(bw, ", workloads-diff-info: %s", c.Workloads)
		}
		bw.WriteString("\n")
		fmt.Fprintf(bw, "    model: %s\n", DiffIntentText(c))
		fmt.Fprintf(bw, "    base %s: %s\n", c.Port, decisionText(c.Base))
		fmt.Fprintf(bw, "    head %s: %s\n", c.Port, decisionText(c.Head))
	}
	writeDiscrepancyList(bw, "Intended flows the change breaks", r.NewlyBroken, "blocked by")
	writeDiscrepancyList(bw, "Intended flows the change repairs", r.Repaired, "were blocked by")
	fmt.Fprintf(bw, "\nChecklist: %d new failing %s, %d fixed\n", len(r.NewFindings), plural(len(r.NewFindings), "finding", "findings"), len(r.FixedFindings))
	for _, f := range r.NewFindings {
		fmt.Fprintf(bw, "  NEW   %s [%s] %s: %s\n", f.CheckID, f.Severity, f.Subject, f.Message)
		for _, e := range f.Evidence {
			if text := EvidenceText(e); !strings.Contains(f.Message, text) {
				fmt.Fprintf(bw, "        %s\n", text)
			}
		}
	}
	for _, f := range r.FixedFindings {
		fmt.Fprintf(bw, "  FIXED %s [%s] %s: %s\n", f.CheckID, f.Severity, f.Subject, f.Title)
	}
	bw.WriteString("\n" + diffVerdict(r) + "\n")
	for _, f := range r.Failures {
		fmt.Fprintf(bw, "  - %s\n", f)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing diff: %w", err)
	}
	return nil
}

func writeDiffSideText(bw *bufio.Writer, name string, m diff.SideMeta) {
	inputs := strings.Join(m.Inputs, ", ")
	if inputs == "" {
		inputs = "(nothing)"
	}
	fmt.Fprintf(bw, "# %s: %s: %d workloads, %d network policies, %d failing findings\n", name, inputs, m.Workloads, m.Policies, m.FailingFindings)
}

// DiffIntentText says what the model says of a change, with the flow and
// guide row it concerns.
func DiffIntentText(c diff.Change) string {
	var s string
	switch c.Intent {
	case diff.Unintended:
		s = "UNINTENDED: opens " + DiffPortsText(c.IntentPorts) + ", which the model does not intend"
		if c.Flow != "" {
			s += " (beyond flow " + c.Flow + ")"
		}
	case diff.Breaks:
		s = "BREAKS: closes " + DiffPortsText(c.IntentPorts) + " of the intended flow " + c.Flow
	case diff.Fixes:
		s = "fixes: opens " + DiffPortsText(c.IntentPorts) + " of the intended flow " + c.Flow + ", which the base blocked"
	case diff.Tightens:
		s = "tightens: closes " + DiffPortsText(c.IntentPorts) + ", which the model did not intend"
	default:
		return "consistent: the model's comparison flags none of these ports"
	}
	if c.Guide != "" {
		s += " [" + c.Guide + "]"
	}
	return s
}

// decisionText is the engine's explanation of one side, or why there is
// none (a workload that input lacks).
func decisionText(d diff.Decision) string {
	if d.Reason == "" {
		return map[bool]string{true: "allowed", false: "denied"}[d.Allowed]
	}
	return d.Reason
}

func writeDiscrepancyList(bw *bufio.Writer, title string, ds []reach.Discrepancy, verb string) {
	if len(ds) == 0 {
		return
	}
	fmt.Fprintf(bw, "\n%s: %d\n", title, len(ds))
	for _, d := range ds {
		fmt.Fprintf(bw, "  %s => %s : %s (flow %s", d.Src, d.Dst, DiffPortsText(d.Ports), d.Flow)
		if d.Guide != "" {
			fmt.Fprintf(bw, "; %s", d.Guide)
		}
		bw.WriteString(")")
		if len(d.Policies) > 0 {
			fmt.Fprintf(bw, "  %s: %s", verb, strings.Join(d.Policies, ", "))
		}
		bw.WriteString("\n")
	}
}

// diffVerdict is the line that says whether the change fails the gate.
func diffVerdict(r *diff.Result) string {
	if len(r.Failures) == 0 {
		return fmt.Sprintf("PASS: the change opens nothing the model does not intend, breaks no intended flow and adds no finding at or above %s", r.FailOn)
	}
	return fmt.Sprintf("FAIL: %d %s (--fail-on %s)", len(r.Failures), plural(len(r.Failures), "reason", "reasons"), r.FailOn)
}
