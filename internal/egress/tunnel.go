package egress

import (
	"context"
	"io"
	"net"
	"time"

	"github.com/budnet/budnet/internal/egress/allowlist"
	"github.com/budnet/budnet/internal/egress/verdict"
)

const connectEstablished = "HTTP/1.1 200 Connection established\r\n\r\n"

// tunnel handles CONNECT. The client's bytes after the 200 (normally a TLS
// ClientHello) pass through untouched: the gateway authorises the CONNECT
// authority only and never trusts the SNI inside, so a ClientHello naming an
// allowed host cannot open a tunnel to a host the allowlist does not name.
func (s *Server) tunnel(ctx context.Context, c net.Conn, t *pendingTunnel) {
	head, pol, rec, early := t.head, t.pol, t.rec, t.early
	rec.requested = head.Target
	if !hostHeaderAgrees(head, head.Target, 0) {
		rec.decision, rec.reason = verdict.Deny, verdict.ReasonHostMismatch
		rec.detail = "Host header " + truncate(head.Host) + " differs from CONNECT authority"
		s.reject(c, rec)
		return
	}
	addr, ok := s.authorize(ctx, pol, rec, head.Target)
	if !ok {
		s.reject(c, rec)
		return
	}
	release, limit := s.acquire(sourceKey(rec))
	if limit != verdict.ReasonNone {
		rec.decision, rec.reason = verdict.Deny, limit
		s.reject(c, rec)
		return
	}
	defer release()
	up, err := s.dial(ctx, addr)
	if err != nil {
		rec.decision, rec.reason, rec.detail = verdict.Deny, verdict.ReasonDialFailed, err.Error()
		s.reject(c, rec)
		return
	}
	defer up.Close()
	// early holds what the client pipelined behind the CONNECT head.
	_ = c.SetWriteDeadline(time.Now().Add(s.cfg.HeaderTimeout))
	if _, err := io.WriteString(c, connectEstablished); err != nil {
		rec.decision, rec.reason, rec.detail = verdict.Deny, verdict.ReasonDialFailed, "client went away: "+err.Error()
		s.emit(rec)
		return
	}
	_ = c.SetWriteDeadline(time.Time{})
	rec.status, rec.live = 200, true
	s.metrics.Request(rec.sourceLabel(), rec.destinationLabel(), rec.decision, rec.reason)
	sentC, recvC := s.metrics.ByteCounters(rec.sourceLabel(), rec.destinationLabel())
	if len(early) > 0 {
		if _, err := up.Write(early); err != nil {
			rec.detail = "write early data: " + err.Error()
			s.emit(rec)
			return
		}
		rec.sent += int64(len(early))
		sentC.Add(float64(len(early)))
	}
	s.metrics.TunnelOpened()
	sent, received := relay(c, up, s.cfg.IdleTimeout, sentC, recvC, s.relay)
	s.metrics.TunnelClosed()
	rec.sent += sent
	rec.received = received
	s.emit(rec)
}

// hostHeaderAgrees reports whether an optional Host header names the same
// host and port as the request target. defaultPort applies to a Host without a
// port; 0 means the target's port.
func hostHeaderAgrees(head *requestHead, authority string, defaultPort uint16) bool {
	if !head.HostHeader {
		return true
	}
	th, tp, err := allowlist.ParseHostPort(authority)
	if err != nil {
		return true // the authority itself is refused later, with its own reason
	}
	if defaultPort == 0 {
		defaultPort = tp
	}
	hh, hp, ok := splitHostDefault(head.Host, defaultPort)
	if !ok {
		return false
	}
	return hh == th && hp == tp
}

// splitHostDefault parses a Host header value, adding defaultPort when absent.
func splitHostDefault(v string, defaultPort uint16) (allowlist.Host, uint16, bool) {
	if h, p, err := allowlist.ParseHostPort(v); err == nil {
		return h, p, true
	}
	hostPart := v
	if len(v) > 1 && v[0] == '[' && v[len(v)-1] == ']' {
		hostPart = v[1 : len(v)-1]
	}
	h, err := allowlist.NormalizeHost(hostPart)
	if err != nil {
		return allowlist.Host{}, 0, false
	}
	return h, defaultPort, true
}
