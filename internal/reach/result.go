// Package reach answers who can talk to whom: it turns an inventory of
// manifests into the policy engine's input, names workloads the way users of
// connectivity tools read them, and compares the computed matrix with the
// platform model's intended firewall matrix.
package reach

import (
	"budnet/internal/netpol"
)

// Meta describes how a result was computed; it is part of the JSON output.
type Meta struct {
	Inputs []string `json:"inputs"`
	// IPBlockMatchesPods records the ipBlock interpretation: false means ipBlock
	// peers match only addresses outside the cluster, as the API reference intends.
	IPBlockMatchesPods bool     `json:"ipBlockMatchesPods"`
	Platform           string   `json:"platform,omitempty"`
	Notes              []string `json:"notes,omitempty"`
	Workloads          int      `json:"workloads"`
	Pods               int      `json:"pods"`
	Policies           int      `json:"policies"`
}

// Discrepancy is one difference between the allowed and the intended matrix.
type Discrepancy struct {
	Src, Dst string
	Ports    netpol.PortSet
	// Flow and Guide name the intended flow concerned (for broken flows, the
	// flow that is blocked; for over-permissive ones, the flow between the same
	// pair whose ports were exceeded, if any).
	Flow  string
	Guide string
	// Policies are the policies that decide the connection: the ones that allow
	// an over-permissive connection, or isolate the side that blocks a broken one.
	Policies []string
	// Reason explains the finding in a sentence.
	Reason string
}

// Diff is the comparison of a matrix with the platform model.
type Diff struct {
	OverPermissive []Discrepancy
	Broken         []Discrepancy
	// Unmatched lists model workloads no manifest workload matched, whose flows
	// could therefore not be judged.
	Unmatched []string
	// Notes say how matching went where it was not exact.
	Notes []string
}
