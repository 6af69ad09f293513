package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/budnet/budnet/internal/egress/allowlist"
	"github.com/budnet/budnet/internal/egress/guard"
	"github.com/budnet/budnet/internal/egress/identity"
	"github.com/budnet/budnet/internal/egress/verdict"
)

// Decision is what the gateway decides for one requested authority: the
// audit record's decision fields, and the one address to dial.
type Decision struct {
	Target      string // normalised host:port, once the authority parsed
	Decision    verdict.Decision
	Reason      verdict.Reason
	Rule        string         // the egress flow that allowed it
	Destination string         // the allowlist pattern or CIDR that matched
	Detail      string         // why, for a refusal
	Resolved    netip.AddrPort // the checked address to dial, or the refused one
	// Unresolved is set when no resolver was given and the host is a name:
	// only the allowlist was consulted, not the address guard.
	Unresolved bool
}

// Allowed reports whether the request may proceed (allowed, or denied only in
// report mode).
func (d Decision) Allowed() bool { return d.Decision != verdict.Deny }

// Decide checks a request from the caller id to authority against pol: the
// allowlist, then (unless resolver is nil) the name resolved exactly once
// within timeout as an absolute name (see allowlist.Host.Absolute; no
// search domain ever applies) and every answer checked by the address guard. The gateway
// dials exactly Resolved, so a DNS answer that changes between check and
// connect (rebinding) cannot redirect the connection. `budnet egress check`
// calls it with the same policy the gateway would load.
func Decide(ctx context.Context, pol *Policy, resolver Resolver, timeout time.Duration, id identity.Identity, authority string) Decision {
	hd := decideHost(pol, id, authority)
	return decideAddress(ctx, pol, resolver, timeout, &hd)
}

// hostDecision is the part of a decision that depends only on the policy,
// the caller's identity and the authority as written: parsing, the
// allowlist, the enforcement mode. A keep-alive connection keeps the last one
// (see forwarder.decide) while all three stay the same; the name's addresses
// and the address guard are never part of it and run on every request
// (decideAddress).
type hostDecision struct {
	d        Decision
	host     allowlist.Host
	port     uint16
	absolute string // host.Absolute(), kept so a repeated lookup allocates no name
	final    bool   // d is complete: refused before any lookup, or no resolver needed
}

func decideHost(pol *Policy, id identity.Identity, authority string) hostDecision {
	var hd hostDecision
	d := &hd.d
	host, port, err := allowlist.ParseHostPort(authority)
	if err != nil {
		hostRefused(pol, d, authority, err)
		hd.final = true
		return hd
	}
	hd.host, hd.port, hd.absolute = host, port, host.Absolute()
	d.Target = net.JoinHostPort(host.String(), strconv.Itoa(int(port)))
	if host.IsIP() {
		// The audit line names the address whichever check refuses it.
		d.Resolved = netip.AddrPortFrom(host.Addr, port)
	}
	switch {
	case !id.Known() && pol.DefaultAllow:
		d.Reason, d.Rule = verdict.ReasonDefaultAllow, "default"
	case !id.Known():
		d.Reason = verdict.ReasonUnidentified
	default:
		m := pol.Allowlist.Check(id.Workload, host, port)
		if m.Allowed() {
			d.Rule, d.Destination = m.Rule.Name, m.Pattern
		} else {
			d.Reason = m.Reason
		}
	}
	if d.Reason.Relaxable() {
		if pol.Mode == verdict.Enforce {
			d.Decision = verdict.Deny
			hd.final = true
			return hd
		}
		d.Decision = verdict.WouldDeny
	}
	return hd
}

// decideAddress completes hd: the name resolved (from the resolver's cache
// when it has a fresh answer, else one lookup bounded by timeout) and every
// answer checked by the address guard, on every call.
func decideAddress(ctx context.Context, pol *Policy, resolver Resolver, timeout time.Duration, hd *hostDecision) Decision {
	d := hd.d
	if hd.final {
		return d
	}
	host, port := hd.host, hd.port
	addrs := []netip.Addr{host.Addr}
	if !host.IsIP() {
		if resolver == nil {
			d.Unresolved = true
			return d
		}
		var err error
		addrs, err = lookup(ctx, resolver, timeout, hd.absolute)
		if err != nil || len(addrs) == 0 {
			d.Decision, d.Reason = verdict.Deny, verdict.ReasonResolveFailed
			d.Detail = resolveDetail(host.Name, err)
			return d
		}
	}
	// Only the gateway-wide allowedCIDRs exempt addresses from the guard; a
	// rule's own CIDRs do not, so an egress flow naming a private range (the
	// kube API endpoints, say) cannot turn the gateway into a path into it.
	res := pol.Guard.Check(addrs, nil)
	if res.Denied() {
		d.Decision, d.Reason = verdict.Deny, res.Reason
		d.Resolved = netip.AddrPortFrom(res.Bad, port)
		d.Detail = fmt.Sprintf("%s is in a denied range (%s); %d address(es) resolved", res.Bad, res.Range, len(addrs))
		return d
	}
	d.Resolved = netip.AddrPortFrom(res.Addr, port)
	return d
}

// lookup resolves the absolute name abs (never a resolv.conf search
// candidate). A CachedResolver with a fresh answer answers at once, without
// the context and timer a blocking lookup needs (3.8% of the gateway's CPU
// per plain request in a profile). The answer is normalised (4in6 addresses
// unmapped) without touching the cache's own slice.
func lookup(ctx context.Context, resolver Resolver, timeout time.Duration, abs string) ([]netip.Addr, error) {
	if cr, ok := resolver.(CachedResolver); ok {
		if addrs, hit := cr.Cached("ip", abs); hit {
			if slices.ContainsFunc(addrs, netip.Addr.Is4In6) {
				addrs = guard.NormalizeResolved(slices.Clone(addrs))
			}
			return addrs, nil
		}
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addrs, err := resolver.LookupNetIP(rctx, "ip", abs)
	return guard.NormalizeResolved(addrs), err
}

// authorize decides rec's request with Decide and records the outcome.
func (s *Server) authorize(ctx context.Context, pol *Policy, rec *record, authority string) (netip.AddrPort, bool) {
	return s.recordDecision(rec, authority, Decide(ctx, pol, s.resolver, s.cfg.DialTimeout, rec.id, authority))
}

// recordDecision copies d into rec and returns the address to dial and whether the
// request may proceed.
func (s *Server) recordDecision(rec *record, authority string, d Decision) (netip.AddrPort, bool) {
	rec.requested = authority
	rec.target, rec.decision, rec.reason, rec.rule = d.Target, d.Decision, d.Reason, d.Rule
	rec.destination, rec.detail, rec.resolved = d.Destination, d.Detail, d.Resolved
	return d.Resolved, d.Allowed()
}

// hostRefused records a host that failed parsing. A non-canonical IPv4
// spelling is reported as the address it denotes (in Resolved, with the
// authority's port when it has a valid one), and as denied_address when that
// address is denied, so "2130706433" reads as loopback in the audit log.
func hostRefused(pol *Policy, d *Decision, authority string, err error) {
	d.Decision, d.Reason, d.Detail = verdict.Deny, verdict.ReasonInvalidHost, err.Error()
	var he *allowlist.HostError
	if !errors.As(err, &he) {
		return
	}
	d.Reason = he.Reason
	if he.Addr.IsValid() {
		var port uint16
		if _, p, err := net.SplitHostPort(authority); err == nil {
			port, _ = allowlist.ParsePort(p)
		}
		d.Resolved = netip.AddrPortFrom(he.Addr, port)
		if name, denied := pol.Guard.DeniedRange(he.Addr, nil); denied {
			d.Reason = verdict.ReasonDeniedAddress
			d.Detail = fmt.Sprintf("%s (written %q) is in a denied range (%s)", he.Addr, he.Input, name)
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
