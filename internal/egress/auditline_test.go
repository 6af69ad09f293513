package egress

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/budnet/budnet/internal/egress/identity"
	"github.com/budnet/budnet/internal/egress/verdict"
)

// slogAuditLine is the reference: what the gateway wrote through slog's JSON
// handler before auditLog, attribute for attribute.
func slogAuditLine(r *record, now time.Time) []byte {
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, nil)
	rec := slog.NewRecord(now, slog.LevelInfo, AuditMessage, 0)
	rec.AddAttrs(
		slog.String(AuditSource, r.id.Workload),
		slog.String(AuditIDMethod, r.id.Method.String()),
		slog.String(AuditIDDetail, r.id.Detail),
		slog.String(AuditSourceAddr, addrPortString(r.srcAddr)),
		slog.String(AuditMethod, r.method),
		slog.String(AuditRequested, r.requested),
		slog.String(AuditResolved, addrPortString(r.resolved)),
		slog.String(AuditDecision, r.decision.String()),
		slog.String(AuditReason, r.reason.String()),
		slog.String(AuditRule, r.rule),
		slog.String(AuditDestination, r.destination),
		slog.String(AuditDetail, r.detail),
		slog.Int(AuditStatus, r.status),
		slog.Int64(AuditSent, r.sent),
		slog.Int64(AuditReceived, r.received),
		slog.Float64(AuditDuration, float64(now.Sub(r.start).Microseconds())/1000),
	)
	if err := h.Handle(context.Background(), rec); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func TestAuditLineMatchesSlog(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 34, 56, 789012345, time.UTC)
	berlin := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		rec  record
		now  time.Time
	}{
		{name: "empty record", rec: record{start: now}, now: now},
		{name: "allowed tunnel", now: now, rec: record{
			start:   now.Add(-1234567 * time.Microsecond),
			id:      identity.Identity{Workload: "budgateway", Method: identity.MethodCertificate, Detail: "spiffe://cluster.local/ns/bud-system/sa/budgateway"},
			srcAddr: netip.MustParseAddrPort("10.244.1.7:51234"), method: "CONNECT", requested: "api.openai.com:443",
			resolved: netip.MustParseAddrPort("[2606:4700::6810:7b60]:443"), decision: verdict.Allow, reason: verdict.ReasonNone,
			rule: "llm-providers", destination: "*.openai.com", status: 200, sent: 1 << 40, received: 12345}},
		{name: "denied with hostile strings", now: now.In(berlin), rec: record{
			start:  now.Add(-7 * time.Millisecond),
			method: "GET\x00\x1f\x7f", requested: "\"quoted\"\\back\nline\rret\ttab<script>&amp;",
			decision: verdict.Deny, reason: verdict.ReasonHostNotAllowed,
			detail: "bad utf8 \xff\xfe, separators \u2028\u2029, emoji 😀, mapped " + netip.MustParseAddrPort("[::ffff:10.0.0.1]:80").String(),
			status: 403, sent: -1, received: 0}},
		{name: "sub-microsecond duration", now: now, rec: record{start: now.Add(-999 * time.Nanosecond), status: 400}},
		{name: "long duration", now: now, rec: record{start: now.Add(-49 * time.Hour), srcAddr: netip.MustParseAddrPort("[fe80::1%eth0]:1")}},
		{name: "negative duration", now: now, rec: record{start: now.Add(3 * time.Millisecond)}},
		{name: "truncated utf8 at end", now: now, rec: record{detail: "ab\xe2\x80"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := appendAuditLine(nil, &tc.rec, tc.now)
			want := slogAuditLine(&tc.rec, tc.now)
			if !bytes.Equal(got, want) {
				t.Fatalf("audit line differs from slog's\n got: %s\nwant: %s", got, want)
			}
			if !json.Valid(bytes.TrimSpace(got)) {
				t.Fatalf("not JSON: %s", got)
			}
		})
	}
}

func FuzzAuditLineMatchesSlog(f *testing.F) {
	f.Add("budgateway", "GET", "api.openai.com:443", "detail", int64(1500), int64(7))
	f.Add("\x00\"\\", "\u2028\u2029", "\xff\xfe\xe2\x80", "<>&\t\r\n", int64(0), int64(-1))
	f.Add(strings.Repeat("é", 40), "CONNECT", "[::1]:443", "\x7f\x80", int64(1)<<62, int64(999))
	f.Fuzz(func(t *testing.T, workload, method, requested, detail string, sent, durUS int64) {
		now := time.Date(2026, 11, 27, 12, 0, 0, 5, time.UTC)
		r := &record{start: now.Add(-time.Duration(durUS) * time.Microsecond), id: identity.Identity{Workload: workload},
			method: method, requested: requested, detail: detail, rule: workload + detail, sent: sent, status: int(durUS % 600)}
		got := appendAuditLine(nil, r, now)
		if want := slogAuditLine(r, now); !bytes.Equal(got, want) {
			t.Fatalf("audit line differs from slog's\n got: %q\nwant: %q", got, want)
		}
	})
}

func BenchmarkAuditLine(b *testing.B) {
	now := time.Now()
	r := &record{start: now.Add(-3 * time.Millisecond), id: identity.Identity{Workload: "budgateway", Method: identity.MethodCIDR, Detail: "10.244.0.0/16"},
		srcAddr: netip.MustParseAddrPort("10.244.1.7:51234"), method: "GET", requested: "plain.example:80",
		resolved: netip.MustParseAddrPort("93.184.215.14:80"), decision: verdict.Allow, reason: verdict.ReasonNone,
		rule: "llm", destination: "plain.example", status: 200, sent: 312, received: 1024}
	b.Run("auditLog", func(b *testing.B) {
		a := &auditLog{w: discardWriter{}}
		b.ReportAllocs()
		for b.Loop() {
			a.write(r, now)
		}
	})
	b.Run("slog", func(b *testing.B) {
		l := slog.New(slog.NewJSONHandler(discardWriter{}, nil))
		b.ReportAllocs()
		for b.Loop() {
			l.LogAttrs(context.Background(), slog.LevelInfo, AuditMessage,
				slog.String(AuditSource, r.id.Workload), slog.String(AuditIDMethod, r.id.Method.String()),
				slog.String(AuditIDDetail, r.id.Detail), slog.String(AuditSourceAddr, addrPortString(r.srcAddr)),
				slog.String(AuditMethod, r.method), slog.String(AuditRequested, r.requested),
				slog.String(AuditResolved, addrPortString(r.resolved)), slog.String(AuditDecision, r.decision.String()),
				slog.String(AuditReason, r.reason.String()), slog.String(AuditRule, r.rule),
				slog.String(AuditDestination, r.destination), slog.String(AuditDetail, r.detail),
				slog.Int(AuditStatus, r.status), slog.Int64(AuditSent, r.sent), slog.Int64(AuditReceived, r.received),
				slog.Float64(AuditDuration, float64(time.Since(r.start).Microseconds())/1000))
		}
	})
}

// discardWriter is io.Discard without its io.StringWriter and ReaderFrom
// shortcuts, like a real output stream.
type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }

func addrPortString(a netip.AddrPort) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
