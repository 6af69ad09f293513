package egress

import (
	"net/netip"
	"time"

	"github.com/budnet/budnet/internal/egress/identity"
	"github.com/budnet/budnet/internal/egress/metricnames"
	"github.com/budnet/budnet/internal/egress/verdict"
)

// Audit attribute keys: one JSON line per CONNECT tunnel or plain HTTP request,
// in log/slog's JSON handler format (see auditLog). docs/egress.md documents them.
const (
	AuditMessage     = "egress"
	AuditSource      = "source"       // workload or ""
	AuditIDMethod    = "source_id_by" // certificate, pod, cidr, none
	AuditIDDetail    = "source_id"    // SPIFFE ID, CN, pod or CIDR
	AuditSourceAddr  = "source_addr"
	AuditMethod      = "method"    // CONNECT or the HTTP method
	AuditRequested   = "requested" // host:port as the client asked
	AuditResolved    = "resolved"  // address:port dialled (or refused)
	AuditDecision    = "decision"
	AuditReason      = "reason"
	AuditRule        = "rule"
	AuditDestination = "destination" // matched pattern
	AuditDetail      = "detail"
	AuditStatus      = "status" // HTTP status the client got (or 200 for a tunnel)
	AuditSent        = "bytes_sent"
	AuditReceived    = "bytes_received"
	AuditDuration    = "duration_ms"
)

// record is one audit entry, filled in as the request proceeds.
type record struct {
	start       time.Time
	id          identity.Identity
	srcAddr     netip.AddrPort
	method      string
	requested   string
	target      string // normalised host:port, set once the authority parsed
	resolved    netip.AddrPort
	decision    verdict.Decision
	reason      verdict.Reason
	rule        string
	destination string
	detail      string
	status      int
	sent        int64
	received    int64
	live        bool // an established tunnel: request and bytes were counted as they happened
}

func (r *record) sourceLabel() string {
	if r.id.Workload == "" {
		return metricnames.SourceUnidentified
	}
	return r.id.Workload
}

func (r *record) destinationLabel() string {
	if r.destination == "" {
		return metricnames.DestinationUnlisted
	}
	return r.destination
}

// emit writes the audit line and the request metrics for r.
func (s *Server) emit(r *record) {
	if !r.live {
		s.metrics.Request(r.sourceLabel(), r.destinationLabel(), r.decision, r.reason)
		if r.sent > 0 || r.received > 0 {
			s.metrics.Bytes(r.sourceLabel(), r.destinationLabel(), r.sent, r.received)
		}
	}
	if s.audit != nil {
		s.audit.write(r, time.Now())
	}
}
