// Package verdict holds the typed outcomes every part of the egress gateway
// shares: the decision, the reason behind it and the enforcement mode. It has no
// I/O so the allowlist, the address guard and the proxy can all depend on it
// without depending on each other.
package verdict

import "fmt"

// Decision is the outcome of checking one connection.
type Decision uint8

// Decisions. WouldDeny is what report mode records where enforce would deny.
const (
	Allow Decision = iota
	Deny
	WouldDeny
)

var decisionNames = [...]string{Allow: "allow", Deny: "deny", WouldDeny: "would_deny"}

func (d Decision) String() string {
	if int(d) < len(decisionNames) {
		return decisionNames[d]
	}
	return fmt.Sprintf("decision(%d)", uint8(d))
}

// Reason says why a connection was allowed or denied. Metric labels and audit
// lines use String(), so the names are part of the documented interface.
type Reason uint8

// Reasons. ReasonNone accompanies an allow by an allowlist rule.
const (
	ReasonNone Reason = iota
	ReasonDefaultAllow
	ReasonUnidentified
	ReasonHostNotAllowed
	ReasonPortNotAllowed
	ReasonInvalidHost
	ReasonNonCanonicalIP
	ReasonIPNotAllowed
	ReasonDeniedAddress
	ReasonMixedAddresses
	ReasonResolveFailed
	ReasonHostMismatch
	ReasonBadRequest
	ReasonHeaderTooLarge
	ReasonHeaderTimeout
	ReasonMethodNotAllowed
	ReasonTooManyTunnels
	ReasonTooManyFromSource
	ReasonDialFailed
	ReasonTooManyFromAddress
	ReasonUpstreamProtocol
	reasonCount
)

var reasonNames = [...]string{
	ReasonNone:              "rule",
	ReasonDefaultAllow:      "default_allow",
	ReasonUnidentified:      "unidentified_source",
	ReasonHostNotAllowed:    "host_not_allowed",
	ReasonPortNotAllowed:    "port_not_allowed",
	ReasonInvalidHost:       "invalid_host",
	ReasonNonCanonicalIP:    "non_canonical_ip",
	ReasonIPNotAllowed:      "ip_not_allowed",
	ReasonDeniedAddress:     "denied_address",
	ReasonMixedAddresses:    "mixed_addresses",
	ReasonResolveFailed:     "resolve_failed",
	ReasonHostMismatch:      "host_mismatch",
	ReasonBadRequest:        "bad_request",
	ReasonHeaderTooLarge:    "header_too_large",
	ReasonHeaderTimeout:     "header_timeout",
	ReasonMethodNotAllowed:  "method_not_allowed",
	ReasonTooManyTunnels:    "too_many_tunnels",
	ReasonTooManyFromSource: "too_many_from_source",
	ReasonDialFailed:        "dial_failed",
	// Refused at accept: the caller's address holds MaxConnectionsPerAddress
	// connections already.
	ReasonTooManyFromAddress: "too_many_from_address",
	// The origin broke HTTP/1.1 (RFC 9110 15.2.2: a server must not switch
	// protocols unless the request asked with Upgrade), such as an
	// unsolicited 101 Switching Protocols; nothing of it is relayed.
	ReasonUpstreamProtocol: "upstream_protocol_error",
}

func (r Reason) String() string {
	if r < reasonCount {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// Reasons lists every reason, for documentation and exhaustive tests.
func Reasons() []Reason {
	out := make([]Reason, 0, reasonCount)
	for r := ReasonNone; r < reasonCount; r++ {
		out = append(out, r)
	}
	return out
}

// Relaxable reports whether report mode lets a denial for r through. Only
// allowlist denials are relaxable: the address guard (private, metadata and
// cluster ranges, DNS mixes, odd IP spellings) and protocol checks stay enforced
// in report mode, because report mode exists to roll out an allowlist, not to
// open the metadata service while doing so. Smokescreen does the same: its
// checkIfRequestShouldBeProxied (pkg/smokescreen/smokescreen.go) runs the
// address classifier after an allow-and-report ACL decision and denies.
func (r Reason) Relaxable() bool {
	switch r {
	case ReasonUnidentified, ReasonHostNotAllowed, ReasonPortNotAllowed, ReasonIPNotAllowed:
		return true
	}
	return false
}

// Mode is the enforcement mode of the gateway.
type Mode uint8

// Modes. Report lets policy denials through but records them as WouldDeny.
const (
	Enforce Mode = iota
	Report
)

func (m Mode) String() string {
	if m == Report {
		return "report"
	}
	return "enforce"
}

// ParseMode reads "enforce" or "report"; the empty string means enforce.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "", "enforce":
		return Enforce, nil
	case "report":
		return Report, nil
	}
	return Enforce, fmt.Errorf("unknown egress mode %q (want enforce or report)", s)
}
