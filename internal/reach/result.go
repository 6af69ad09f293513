// Package reach answers who can talk to whom: it turns an inventory of
// manifests into the policy engine's input, names workloads the way users of
// connectivity tools read them, and compares the computed matrix with the
// platform model's intended firewall matrix.
package reach

import (
	"fmt"
	"strings"

	"github.com/budnet/budnet/internal/netpol"
)

// Meta describes how a result was computed; it is part of the JSON output.
type Meta struct {
	Inputs []string `json:"inputs"`
	// IPBlockMatchesPods records the ipBlock interpretation: false means ipBlock
	// peers match only addresses outside the cluster, as the API reference intends.
	IPBlockMatchesPods bool `json:"ipBlockMatchesPods"`
	// HostNetworkPods records the host-network reading: "node" (their
	// traffic is the node's, no policy isolates them) or "pod" (policies
	// apply to them as to any pod).
	HostNetworkPods string   `json:"hostNetworkPods"`
	Platform        string   `json:"platform,omitempty"`
	Notes           []string `json:"notes,omitempty"`
	Workloads       int      `json:"workloads"`
	Pods            int      `json:"pods"`
	Policies        int      `json:"policies"`
	// Tiers counts the evaluated policies of the other tiers and CNIs by kind.
	Tiers map[string]int `json:"tiers,omitempty"`
	// Unjudged lists policy objects the engine does not (fully) evaluate:
	// the connections shown may differ from the cluster's where they apply.
	Unjudged []Unjudged `json:"unjudged,omitempty"`
}

// Discrepancy is one difference between the allowed and the intended matrix.
type Discrepancy struct {
	// Src and Dst name the sides: workloads, address ranges, or for a flow to
	// external host names those names joined with commas (Hosts has them).
	Src, Dst string
	// Hosts are the host names of an egress flow's external side, as the
	// model writes them ("api.openai.com", "*.amazonaws.com"); empty otherwise.
	Hosts []string
	Ports netpol.PortSet
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
	// OpenedByFQDN lists flows to external host names that the matrix shows
	// blocked but the toFQDNs rules of Cilium policies open (Policies names
	// them): Cilium enforces the union of every policy's allow rules.
	OpenedByFQDN []Discrepancy
	// Drift lists model workloads whose flows are blocked on ports that none
	// of their matched workloads declares (the model says ClickHouse serves
	// 8443; the chart serves 8123 and 9000, and its policy admits only
	// those). Those connections are not listed in Broken, so one out-of-date
	// port is one entry, not a broken flow per caller.
	Drift []Drift
	// Notes say how matching went where it was not exact.
	Notes []string
}

// Drift is a model workload whose flows are blocked on ports that the
// manifest workloads matched to it do not declare.
type Drift struct {
	// Model is the model workload, "zone/name".
	Model string
	// Ports are the intended, blocked ports none of Workloads declares.
	Ports netpol.PortSet
	// Workloads are the manifest workloads matched to Model; Serves the
	// ports they declare.
	Workloads []string
	Serves    netpol.PortSet
	// Flows are the model flows that intend Ports; Connections counts the
	// blocked connections (source to destination workload) they stand for.
	Flows       []string
	Connections int
}

// String says what disagrees, for notes and findings.
func (d Drift) String() string {
	return fmt.Sprintf("model drift: the model's %s is intended to serve %s (flow %s), but %s %s only %s; "+
		"the %d blocked %s on those ports are one finding here, not broken flows: serve the ports or correct the model",
		d.Model, d.Ports, strings.Join(d.Flows, ", "), strings.Join(d.Workloads, ", "), declareVerb(len(d.Workloads)), d.Serves,
		d.Connections, plural(d.Connections, "connection", "connections"))
}

func declareVerb(n int) string {
	if n == 1 {
		return "declares"
	}
	return "declare"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
