package audit

import (
	"fmt"
	"slices"
	"strings"

	"github.com/budnet/budnet/internal/reach"
)

// Guide section 4.2: the computed matrix against the model's intended one
// (`budnet reach --intended`). Each discrepancy is one finding, named by its
// connection so a suppression can target it.

func checkOverPermissive() Check {
	return Check{
		ID: "BUD-4.2-01", Title: "No connection is allowed that the model does not intend", Section: "4.2", Severity: SeverityHigh,
		Remediation: "Replace the policies that allow it with the default deny and per-flow allow policies `budnet generate` emits from the model's flows.",
		Doc:         docOf("BUD-4.2-01"),
		Run: func(c *Context) []Result {
			return discrepancies(c, func(d *reach.Diff) []reach.Discrepancy { return d.OverPermissive }, "allowed but not intended")
		},
	}
}

func checkBroken() Check {
	return Check{
		ID: "BUD-4.2-02", Title: "Every intended connection is allowed", Section: "4.2", Severity: SeverityMedium,
		Remediation: "Add the allow policy `budnet generate` emits for the flow (or fix the selector or port that keeps it from matching). " +
			"Model drift (the model intends a port that no workload implementing it serves): serve the port, or correct the model's ports and flows in your platform file.",
		Doc: docOf("BUD-4.2-02"),
		Run: func(c *Context) []Result {
			// Host flows that Cilium toFQDNs or network-policy-api
			// domainNames rules open are judged by reach alone (the engine's
			// host rules, reach.Diff.OpenedByFQDN): they are not broken, so
			// they are not here, and audit adds no verdict of its own.
			out := discrepancies(c, func(d *reach.Diff) []reach.Discrepancy { return d.Broken }, "intended but blocked")
			if d := drift(c); len(d) > 0 {
				// Drift is blocked connections too: the matrix does not pass.
				out = slices.DeleteFunc(out, func(r Result) bool { return r.Subject == "matrix" && r.Status == StatusPass })
				out = append(out, d...)
			}
			return out
		},
	}
}

// portsPhrase reads a netpol.PortSet string in a sentence.
func portsPhrase(ports string) string {
	if ports == "all" {
		return "all ports"
	}
	if strings.ContainsRune(ports, ',') {
		return "ports " + ports
	}
	return "port " + ports
}

// discrepancies turns the diff's picked list into findings.
func discrepancies(c *Context, pick func(*reach.Diff) []reach.Discrepancy, what string) []Result {
	if c.Platform == nil {
		return nil
	}
	rv := c.Reach()
	if rv.Err != nil || rv.Diff == nil {
		msg := "the matrix could not be compared with the model"
		if rv.Err != nil {
			msg += ": " + rv.Err.Error()
		}
		return []Result{res(StatusFail, "matrix", msg)}
	}
	list := pick(rv.Diff)
	if len(list) == 0 {
		if len(rv.Input.Workloads) == 0 {
			return nil
		}
		return []Result{res(StatusPass, "matrix", "no connection is "+what)}
	}
	out := make([]Result, 0, len(list))
	for _, d := range list {
		conn := d.Src + " => " + d.Dst
		ports := d.Ports.String()
		// The subject already names the connection; the message says what is
		// wrong with it.
		msg := what + " on " + portsPhrase(ports)
		if d.Flow != "" {
			msg += fmt.Sprintf(" (flow %s", d.Flow)
			if d.Guide != "" {
				msg += ", guide " + d.Guide
			}
			msg += ")"
		}
		// The engine's explanation is the evidence, not the message.
		why := strings.TrimPrefix(d.Reason, what+": ")
		out = append(out, res(StatusFail, conn, msg, Evidence{Connection: conn + " : " + ports, Policies: d.Policies, Detail: why}))
	}
	return out
}

// drift reports each model workload whose flows intend ports that no
// manifest workload implementing it serves: one finding per model workload,
// where the flows to those ports would otherwise each fail as blocked.
func drift(c *Context) []Result {
	if c.Platform == nil {
		return nil
	}
	rv := c.Reach()
	if rv.Err != nil || rv.Diff == nil {
		return nil
	}
	out := make([]Result, 0, len(rv.Diff.Drift))
	for _, d := range rv.Diff.Drift {
		ev := []Evidence{{Connection: strings.Join(d.Workloads, ", ") + " : " + d.Ports.String(), Detail: "serves " + d.Serves.String()}}
		if mw, ok := c.Platform.Workload(d.Model[strings.IndexByte(d.Model, '/')+1:]); ok {
			ev = append(ev, modelEvidence(c.Platform, "model workload "+mw.Name+" ports", mw.Source))
		}
		out = append(out, res(StatusFail, "model drift: "+d.Model, d.String(), ev...))
	}
	return out
}
