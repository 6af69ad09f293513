package report

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/budnet/budnet/internal/audit"
	"github.com/budnet/budnet/internal/diff"
	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/reach"
)

// DiffSchemaVersion names the JSON form of `budnet diff` (docs/diff.md).
// Fields are only ever added under this name.
const DiffSchemaVersion = "budnet.io/diff/v1"

// jsonPorts renders a port set as reach's JSON does (AppendPortsJSON): [] for none.
type jsonPorts netpol.PortSet

func (p jsonPorts) MarshalJSON() ([]byte, error) { return AppendPortsJSON(nil, netpol.PortSet(p)), nil }

type diffJSON struct {
	SchemaVersion string             `json:"schemaVersion"`
	Metadata      diffJSONMeta       `json:"metadata"`
	Connections   []diffJSONChange   `json:"connections"`
	NewlyBroken   []diffJSONFlow     `json:"newlyBroken"`
	Repaired      []diffJSONFlow     `json:"repaired"`
	Findings      diffJSONFindingSet `json:"findings"`
}

type diffJSONMeta struct {
	Base     diff.SideMeta `json:"base"`
	Head     diff.SideMeta `json:"head"`
	Platform string        `json:"platform,omitempty"`
	FailOn   string        `json:"failOn"`
	// Failed says whether the exit code is 1; Failures say why.
	Failed   bool     `json:"failed"`
	Failures []string `json:"failures"`
	Notes    []string `json:"notes"`
}

type diffJSONChange struct {
	DiffType          diff.Kind        `json:"diffType"`
	Src               string           `json:"src"`
	Dst               string           `json:"dst"`
	Base              jsonPorts        `json:"base"`
	Head              jsonPorts        `json:"head"`
	Opened            jsonPorts        `json:"opened"`
	Closed            jsonPorts        `json:"closed"`
	WorkloadsDiffInfo string           `json:"workloadsDiffInfo,omitempty"`
	Intent            diff.Intent      `json:"intent"`
	IntentPorts       jsonPorts        `json:"intentPorts"`
	Flow              string           `json:"flow,omitempty"`
	Guide             string           `json:"guide,omitempty"`
	Port              diffJSONPort     `json:"port"`
	BaseDecision      diffJSONDecision `json:"baseDecision"`
	HeadDecision      diffJSONDecision `json:"headDecision"`
}

// diffJSONPort is the sample port the decisions explain.
type diffJSONPort struct {
	Protocol string `json:"protocol"`
	Port     int32  `json:"port"`
}

type diffJSONDecision struct {
	Allowed  bool     `json:"allowed"`
	Policies []string `json:"policies"`
	Reason   string   `json:"reason"`
}

type diffJSONFlow struct {
	Src      string    `json:"src"`
	Dst      string    `json:"dst"`
	Ports    jsonPorts `json:"ports"`
	Flow     string    `json:"flow"`
	Guide    string    `json:"guide"`
	Policies []string  `json:"policies"`
	Reason   string    `json:"reason"`
}

type diffJSONFindingSet struct {
	New   []audit.Finding `json:"new"`
	Fixed []audit.Finding `json:"fixed"`
}

// WriteDiffJSON writes the documented JSON form of `budnet diff`
// (docs/diff.md): metadata (both sides, the verdict and why), the changed
// connections, the intended flows newly broken and repaired, and the new
// and fixed findings in audit's JSON form.
func WriteDiffJSON(w io.Writer, r *diff.Result) error {
	out := diffJSON{
		SchemaVersion: DiffSchemaVersion,
		Metadata: diffJSONMeta{Base: r.Base, Head: r.Head, Platform: r.Platform, FailOn: r.FailOn.String(),
			Failed: len(r.Failures) > 0, Failures: nonNil(r.Failures), Notes: nonNil(r.Notes)},
		Connections: []diffJSONChange{},
		NewlyBroken: flowsJSON(r.NewlyBroken),
		Repaired:    flowsJSON(r.Repaired),
		Findings:    diffJSONFindingSet{New: nonNilFindings(r.NewFindings), Fixed: nonNilFindings(r.FixedFindings)},
	}
	for _, c := range r.Connections {
		out.Connections = append(out.Connections, diffJSONChange{
			DiffType: c.Kind, Src: c.Src, Dst: c.Dst, Base: jsonPorts(c.Before), Head: jsonPorts(c.After),
			Opened: jsonPorts(c.Opened), Closed: jsonPorts(c.Closed), WorkloadsDiffInfo: c.Workloads,
			Intent: c.Intent, IntentPorts: jsonPorts(c.IntentPorts), Flow: c.Flow, Guide: c.Guide, Port: diffJSONPort{Protocol: string(c.Port.Protocol), Port: c.Port.Start},
			BaseDecision: decisionJSON(c.Base), HeadDecision: decisionJSON(c.Head),
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // "src => dst" stays readable
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("writing diff: %w", err)
	}
	return nil
}

func decisionJSON(d diff.Decision) diffJSONDecision {
	return diffJSONDecision{Allowed: d.Allowed, Policies: nonNil(d.Policies), Reason: d.Reason}
}

func flowsJSON(ds []reach.Discrepancy) []diffJSONFlow {
	out := []diffJSONFlow{}
	for _, d := range ds {
		out = append(out, diffJSONFlow{Src: d.Src, Dst: d.Dst, Ports: jsonPorts(d.Ports), Flow: d.Flow, Guide: d.Guide,
			Policies: nonNil(d.Policies), Reason: d.Reason})
	}
	return out
}

func nonNilFindings(fs []audit.Finding) []audit.Finding {
	if fs == nil {
		return []audit.Finding{}
	}
	return fs
}
