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
	// counters, when set and for the same decision and reason, are the
	// metrics emit would look up by label (a keep-alive connection keeps
	// them with its host decision).
	counters *labelCounters
}

// labelCounters are the request and byte counters for one source,
// destination, decision and reason.
type labelCounters struct {
	decision       verdict.Decision
	reason         verdict.Reason
	request        Counter
	sent, received Counter
}

// countersFor returns c when it counts r's labels, else new counters for
// them (stored in c).
func (c *labelCounters) countersFor(m Metrics, r *record) *labelCounters {
	if c.request == nil || c.decision != r.decision || c.reason != r.reason {
		src, dst := r.sourceLabel(), r.destinationLabel()
		*c = labelCounters{decision: r.decision, reason: r.reason, request: m.RequestCounter(src, dst, r.decision, r.reason)}
		c.sent, c.received = m.ByteCounters(src, dst)
	}
	return c
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
	switch c := r.counters; {
	case r.live:
	case c != nil && c.decision == r.decision && c.reason == r.reason:
		c.request.Add(1)
		if r.sent > 0 {
			c.sent.Add(float64(r.sent))
		}
		if r.received > 0 {
			c.received.Add(float64(r.received))
		}
	default:
		s.metrics.Request(r.sourceLabel(), r.destinationLabel(), r.decision, r.reason)
		if r.sent > 0 || r.received > 0 {
			s.metrics.Bytes(r.sourceLabel(), r.destinationLabel(), r.sent, r.received)
		}
	}
	if s.audit != nil {
		s.audit.write(r, time.Now())
	}
}
