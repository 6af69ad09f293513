package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"budnet/internal/egress/allowlist"
	"budnet/internal/egress/guard"
	"budnet/internal/egress/verdict"
)

// authorize decides whether rec's caller may reach authority and, if so,
// returns the one address to dial. It resolves the name exactly once and the
// caller dials exactly the returned address, so a DNS answer that changes
// between check and connect (rebinding) cannot redirect the connection.
func (s *Server) authorize(ctx context.Context, pol *Policy, rec *record, authority string) (netip.AddrPort, bool) {
	rec.requested = authority
	host, port, err := allowlist.ParseHostPort(authority)
	if err != nil {
		s.hostRefused(pol, rec, err)
		return netip.AddrPort{}, false
	}
	rec.target = net.JoinHostPort(host.String(), strconv.Itoa(int(port)))
	switch {
	case !rec.id.Known() && pol.DefaultAllow:
		rec.reason, rec.rule = verdict.ReasonDefaultAllow, "default"
	case !rec.id.Known():
		rec.reason = verdict.ReasonUnidentified
	default:
		m := pol.Allowlist.Check(rec.id.Workload, host, port)
		if m.Allowed() {
			rec.rule, rec.destination = m.Rule.Name, m.Pattern
		} else {
			rec.reason = m.Reason
		}
	}
	if rec.reason.Relaxable() {
		if pol.Mode == verdict.Enforce {
			rec.decision = verdict.Deny
			return netip.AddrPort{}, false
		}
		rec.decision = verdict.WouldDeny
	}
	addrs := []netip.Addr{host.Addr}
	if !host.IsIP() {
		rctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
		addrs, err = s.resolver.LookupNetIP(rctx, "ip", host.Name)
		cancel()
		if err != nil || len(addrs) == 0 {
			rec.decision, rec.reason = verdict.Deny, verdict.ReasonResolveFailed
			rec.detail = resolveDetail(host.Name, err)
			return netip.AddrPort{}, false
		}
		addrs = guard.NormalizeResolved(addrs)
	}
	// Only the gateway-wide allowedCIDRs exempt addresses from the guard; a
	// rule's own CIDRs do not, so an egress flow naming a private range (the
	// kube API endpoints, say) cannot turn the gateway into a path into it.
	res := pol.Guard.Check(addrs, nil)
	if res.Denied() {
		rec.decision, rec.reason = verdict.Deny, res.Reason
		rec.resolved = netip.AddrPortFrom(res.Bad, port)
		rec.detail = fmt.Sprintf("%s is in a denied range (%s); %d address(es) resolved", res.Bad, res.Range, len(addrs))
		return netip.AddrPort{}, false
	}
	rec.resolved = netip.AddrPortFrom(res.Addr, port)
	return rec.resolved, true
}

// hostRefused records a host that failed parsing. A non-canonical IPv4
// spelling is reported as the address it denotes when that address is denied,
// so "2130706433" reads as loopback in the audit log.
func (s *Server) hostRefused(pol *Policy, rec *record, err error) {
	rec.decision, rec.reason, rec.detail = verdict.Deny, verdict.ReasonInvalidHost, err.Error()
	var he *allowlist.HostError
	if !errors.As(err, &he) {
		return
	}
	rec.reason = he.Reason
	if he.Addr.IsValid() {
		if name, denied := pol.Guard.DeniedRange(he.Addr, nil); denied {
			rec.reason = verdict.ReasonDeniedAddress
			rec.detail = fmt.Sprintf("%s (written %q) is in a denied range (%s)", he.Addr, he.Input, name)
		}
	}
}

func resolveDetail(name string, err error) string {
	if err == nil {
		return name + ": no addresses"
	}
	var de *net.DNSError
	if errors.As(err, &de) && de.IsNotFound {
		return name + ": no such host"
	}
	return err.Error()
}

// dial connects to exactly addr, never a name.
func (s *Server) dial(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	t0 := time.Now()
	c, err := s.dialer.DialContext(dctx, "tcp", addr.String())
	s.metrics.Dial(time.Since(t0))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return c, nil
}

// sourceKey is what per-source limits count against.
func sourceKey(rec *record) string {
	if rec.id.Known() {
		return rec.id.Workload
	}
	return "addr:" + rec.srcAddr.Addr().String()
}
