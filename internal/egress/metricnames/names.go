// Package metricnames holds the egress gateway's metric and label names:
// its monitoring interface. docs/egress.md documents them, and the alert rules
// budnet generates and the checks audit runs refer to them, so they live in
// this leaf package rather than in the runtime gateway: generate and audit
// name the metrics without importing the proxy. Change them only together.
package metricnames

const (
	Requests      = "budnet_egress_requests_total"        // counter: source, destination, decision, reason; tunnels count when established
	Bytes         = "budnet_egress_bytes_total"           // counter: source, destination, direction; tunnels add as they relay
	ActiveTunnels = "budnet_egress_active_tunnels"        // gauge
	ActiveConns   = "budnet_egress_active_connections"    // gauge: client connections of any kind
	ConnLimit     = "budnet_egress_connection_limit"      // gauge: --max-connections, for ratios in alerts
	DialDuration  = "budnet_egress_dial_duration_seconds" // histogram
	Reloads       = "budnet_egress_reloads_total"         // counter: result
	RelayBursts   = "budnet_egress_relay_bursts_total"    // counter: relay; a burst is one read (or splice) of what a tunnel's source holds and its write onward

	LabelSource      = "source"      // workload name, or "unidentified"
	LabelDestination = "destination" // matched allowlist pattern, or "unlisted"
	LabelDecision    = "decision"    // allow, deny, would_deny
	LabelReason      = "reason"      // verdict.Reason names
	LabelDirection   = "direction"   // sent (to the destination) or received (from it)
	LabelResult      = "result"      // success or failure
	LabelRelay       = "relay"       // copy or splice: how a burst moved (--relay)

	// Values used where a label has no natural value. Destinations are the
	// model's patterns, never raw request hosts, so a caller probing random
	// names cannot blow up the series count.
	SourceUnidentified  = "unidentified"
	DestinationUnlisted = "unlisted"
	DirectionSent       = "sent"
	DirectionReceived   = "received"
)
