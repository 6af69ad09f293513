// Package diff compares two analyses of a deployment, the base and the head
// of a change: the connections the NetworkPolicies allow (added, removed,
// changed, each with the policies that decide it on both sides and what the
// platform model intends of it) and the hardening checklist (new and fixed
// findings). np-guard/netpol-analyzer's `diff` (pkg/netpol/diff) is the
// anchor for the connectivity part; this package adds the model's intent and
// the checklist. No I/O: the CLI loads the inputs, report renders Result.
package diff

import (
	"fmt"

	"github.com/budnet/budnet/internal/audit"
	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/reach"
)

// Side is one input's analysis: audit's report, and the connectivity the
// audit computed (audit.Context.Reach), so both sides are judged exactly as
// `budnet audit` and `budnet reach --intended` judge them.
type Side struct {
	// Inputs name what was read (files, a chart, "REF:path").
	Inputs []string
	Reach  *audit.ReachView
	Audit  *audit.Report
}

// Options are the thresholds of Compute.
type Options struct {
	// FailOn is the lowest severity of a new finding that fails the change.
	FailOn audit.Severity
}

// Kind is how a connection changed, in netpol-analyzer's words.
type Kind string

// Kinds, in the order outputs list them (netpol-analyzer's: changed, added, removed).
const (
	Changed Kind = "changed"
	Added   Kind = "added"
	Removed Kind = "removed"
)

// Intent is what the model says of a connection change.
type Intent string

// Intents of a change. A change may open some ports and close others; the
// first that applies, in this order, names it.
const (
	// Unintended: the change opens ports the model does not intend (the head's
	// over-permissive connections). It fails the change.
	Unintended Intent = "unintended"
	// Breaks: the change closes ports of an intended flow (the head's broken
	// flows that the base did not have). It fails the change.
	Breaks Intent = "breaks"
	// Fixes: the change opens ports of an intended flow the base blocked.
	Fixes Intent = "fixes"
	// Tightens: the change closes ports the model did not intend.
	Tightens Intent = "tightens"
	// Consistent: the head's comparison with the model flags none of the
	// ports the change opens or closes: they are intended, or outside what
	// the model judges (traffic among workloads it does not describe).
	Consistent Intent = "consistent"
)

// Fails reports whether a change of this intent fails the gate.
func (i Intent) Fails() bool { return i == Unintended || i == Breaks }

// Decision is how one side decides a changed connection, explained on one
// sample port (Port) and the first pod of each workload, as `reach --from
// --to` explains it.
type Decision struct {
	Allowed bool
	// Policies decide it: those whose rules allow it, or, on a deny, those
	// that isolate the side that denies.
	Policies []string
	// Reason is the engine's explanation of both sides.
	Reason string
}

// Change is one connection that differs between base and head.
type Change struct {
	Kind     Kind
	Src, Dst string
	// Before and After are the ports allowed in base and head; Opened and
	// Closed what the change adds and takes away.
	Before, After, Opened, Closed netpol.PortSet
	// Port is the sample the decisions explain: the first opened port, else
	// the first closed one.
	Port       netpol.PortRange
	Base, Head Decision
	// Workloads says when a side of the pair exists in one input only
	// ("workload bud/x[Deployment] added"), as netpol-analyzer's
	// workloads-diff-info does.
	Workloads string
	Intent    Intent
	// IntentPorts are the ports the intent is about (the unintended ports
	// opened, the intended ones closed, ...).
	IntentPorts netpol.PortSet
	// Flow and Guide name the model's flow and the guide row it implements,
	// where the intent names one.
	Flow, Guide string
}

// Result is the comparison of base and head.
type Result struct {
	Base, Head SideMeta
	// Platform is the model's metadata.name.
	Platform string
	// Connections are the changes, changed first, then added, then removed,
	// each sorted by source and destination.
	Connections []Change
	// NewlyBroken are intended flows the head blocks and the base did not
	// (ports the base already blocked are left out); Repaired are flows the
	// base blocked and the head no longer does.
	NewlyBroken, Repaired []reach.Discrepancy
	// NewFindings fail in the head, unsuppressed, and not in the base;
	// FixedFindings failed in the base and no longer do (audit.CompareFindings).
	NewFindings, FixedFindings []audit.Finding
	// Notes say where the comparison was partial (unmatched model
	// workloads, policy kinds the engine does not evaluate).
	Notes  []string
	FailOn audit.Severity
	// Failures say why the change fails the gate (exit 1); empty when it passes.
	Failures []string
	// Checks are the head's checks, for SARIF rules.
	Checks []audit.Check
}

// SideMeta describes one input in the output.
type SideMeta struct {
	Inputs    []string `json:"inputs"`
	Workloads int      `json:"workloads"`
	Policies  int      `json:"policies"`
	// FailingFindings counts the side's unsuppressed failing findings.
	FailingFindings int `json:"failingFindings"`
}

// Compute compares base with head. Both must carry a connectivity analysis
// without error; the intent needs the model's comparison (ReachView.Diff) on
// both sides.
func Compute(base, head Side, opts Options) (*Result, error) {
	for _, s := range []struct {
		name string
		side Side
	}{{"base", base}, {"head", head}} {
		switch {
		case s.side.Reach == nil || s.side.Audit == nil:
			return nil, fmt.Errorf("%s: no analysis", s.name)
		case s.side.Reach.Err != nil:
			return nil, fmt.Errorf("%s: %w", s.name, s.side.Reach.Err)
		case s.side.Reach.Diff == nil:
			return nil, fmt.Errorf("%s: no comparison with the model", s.name)
		}
	}
	r := &Result{Base: metaOf(base), Head: metaOf(head), Platform: head.Audit.Platform, FailOn: opts.FailOn, Checks: head.Audit.Checks}
	ix := newIntentIndex(base.Reach.Diff, head.Reach.Diff)
	r.Connections = connectionChanges(base.Reach, head.Reach, ix)
	r.NewlyBroken, r.Repaired = ix.newlyBroken, ix.repairedList
	r.NewFindings, r.FixedFindings = audit.CompareFindings(base.Audit.Findings, head.Audit.Findings)
	r.Notes = notes(base.Reach, head.Reach)
	r.Failures = failures(r)
	return r, nil
}

func metaOf(s Side) SideMeta {
	m := SideMeta{Inputs: s.Inputs, Workloads: len(s.Reach.Input.Workloads), Policies: len(s.Reach.Input.Cluster.Policies)}
	for i := range s.Audit.Findings {
		if s.Audit.Findings[i].Counts() {
			m.FailingFindings++
		}
	}
	return m
}

// failures lists why the change fails: connections opened that the model
// does not intend, intended flows it breaks, and new findings at or above
// FailOn.
func failures(r *Result) []string {
	var out []string
	for _, c := range r.Connections {
		if c.Intent == Unintended {
			out = append(out, fmt.Sprintf("opens %s => %s : %s, which the model does not intend", c.Src, c.Dst, c.IntentPorts))
		}
	}
	for _, d := range r.NewlyBroken {
		out = append(out, fmt.Sprintf("breaks the intended flow %s (%s => %s : %s)", d.Flow, d.Src, d.Dst, d.Ports))
	}
	for _, f := range r.NewFindings {
		if f.Severity >= r.FailOn {
			out = append(out, fmt.Sprintf("new %s finding %s on %s", f.Severity, f.CheckID, f.Subject))
		}
	}
	return out
}

// notes says what the comparison could not judge, per side.
func notes(base, head *audit.ReachView) []string {
	var out []string
	for _, s := range []struct {
		name string
		v    *audit.ReachView
	}{{"base", base}, {"head", head}} {
		if n := len(s.v.Diff.Unmatched); n > 0 {
			out = append(out, fmt.Sprintf("%s: %d model workloads match no workload of the input; their flows are not judged", s.name, n))
		}
		for _, u := range s.v.Input.Unjudged {
			out = append(out, fmt.Sprintf("%s: not judged: %s %s (%s): %s", s.name, u.Kind, u.Object, u.Source, u.Why))
		}
	}
	return out
}
