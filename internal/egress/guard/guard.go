// Package guard decides whether the gateway may connect to an IP address. It is
// the safety floor under the allowlist: whatever a rule says, a destination that
// resolves into a private, loopback, link-local, metadata, cluster or otherwise
// special range is refused unless the model names that range explicitly.
package guard

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/budnet/budnet/internal/addrset"
	"github.com/budnet/budnet/internal/egress/verdict"
)

// Range is a denied prefix with the name audit lines give it; its home is
// internal/addrset, which reach, generate and platform read too.
type Range = addrset.Range

// DefaultDenied returns the ranges no egress may reach: the special-purpose
// set of internal/addrset (one home for it, so the gateway refuses exactly
// what reach and generate treat as not public). A fresh slice each call.
func DefaultDenied() []Range { return addrset.SpecialPurpose() }

// Config is what a Guard checks against.
type Config struct {
	// Denied ranges; DefaultDenied plus the cluster's pod and service CIDRs in
	// production. Tests may drop a range (say loopback) to reach a local
	// upstream; nothing in production code does.
	Denied []Range
	// Allowed ranges are exempt from Denied: the model's explicit allowances.
	Allowed []netip.Prefix
}

// Guard checks addresses. It is immutable and safe for concurrent use.
type Guard struct {
	denied  []Range
	allowed []netip.Prefix
}

// New validates cfg and builds a Guard.
func New(cfg Config) (*Guard, error) {
	var errs []error
	g := &Guard{}
	for _, r := range cfg.Denied {
		if !r.Prefix.IsValid() {
			errs = append(errs, fmt.Errorf("invalid denied range %q", r.Name))
			continue
		}
		g.denied = append(g.denied, Range{Prefix: r.Prefix.Masked(), Name: r.Name})
	}
	for i, p := range cfg.Allowed {
		if !p.IsValid() {
			errs = append(errs, fmt.Errorf("invalid allowed range #%d", i))
			continue
		}
		g.allowed = append(g.allowed, p.Masked())
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("address guard: %w", errors.Join(errs...))
	}
	return g, nil
}

// Result is the outcome of checking the addresses of one destination.
type Result struct {
	Addr   netip.Addr // the address to dial; valid only when Reason is ReasonNone
	Reason verdict.Reason
	Bad    netip.Addr // the first refused address
	Range  string     // name of the range Bad fell in
}

// Denied reports whether the result refuses the destination.
func (r Result) Denied() bool { return r.Reason != verdict.ReasonNone }

// Check applies the guard to every address a destination resolved to. All must
// pass: a name answering with one public and one private address is refused
// (ReasonMixedAddresses) rather than trimmed to the public one, because its
// owner is either misconfigured or probing (smokescreen's resolveTCPAddr checks
// only the first answer). extra are further exempt ranges. The first address
// is the one to dial.
func (g *Guard) Check(addrs []netip.Addr, extra []netip.Prefix) Result {
	if len(addrs) == 0 {
		return Result{Reason: verdict.ReasonResolveFailed}
	}
	var bad netip.Addr
	var badRange string
	denied := 0
	for _, a := range addrs {
		if name, ok := g.deniedRange(a, extra); ok {
			if denied == 0 {
				bad, badRange = a, name
			}
			denied++
		}
	}
	switch {
	case denied == 0:
		return Result{Addr: addrs[0]}
	case denied == len(addrs):
		return Result{Reason: verdict.ReasonDeniedAddress, Bad: bad, Range: badRange}
	default:
		return Result{Reason: verdict.ReasonMixedAddresses, Bad: bad, Range: badRange}
	}
}

// DeniedRange returns the name of the range that refuses a, if any.
func (g *Guard) DeniedRange(a netip.Addr, extra []netip.Prefix) (string, bool) {
	return g.deniedRange(a, extra)
}

var (
	nat64WellKnown = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour      = netip.MustParsePrefix("2002::/16")
)

func (g *Guard) deniedRange(a netip.Addr, extra []netip.Prefix) (string, bool) {
	if !a.IsValid() || a.Zone() != "" {
		return "invalid", true
	}
	if contains(g.allowed, a) || contains(extra, a) {
		return "", false
	}
	for _, r := range g.denied {
		if r.Prefix.Contains(a) {
			return r.Name, true
		}
	}
	// Prefixes that carry an IPv4 address inside an IPv6 one reach that IPv4
	// address through a translator or relay, so the embedded address must pass
	// too (RFC 6052 section 2.2, RFC 3056 section 2).
	if nat64WellKnown.Contains(a) {
		b := a.As16()
		if name, ok := g.deniedRange(netip.AddrFrom4([4]byte(b[12:16])), extra); ok {
			return "nat64:" + name, true
		}
	}
	if sixToFour.Contains(a) {
		b := a.As16()
		if name, ok := g.deniedRange(netip.AddrFrom4([4]byte(b[2:6])), extra); ok {
			return "6to4:" + name, true
		}
	}
	return "", false
}

func contains(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// NormalizeResolved unmaps IPv4-mapped IPv6 answers in place. Resolvers have
// returned IPv4 results in ::ffff:a.b.c.d form (golang/go#53554, tailscale#6024);
// the kernel would connect to the IPv4 address, so that is what must be checked
// and dialled. Literals written by a client are not passed through here: a
// client that writes ::ffff:127.0.0.1 is refused as ipv4-mapped.
func NormalizeResolved(addrs []netip.Addr) []netip.Addr {
	for i, a := range addrs {
		addrs[i] = a.Unmap()
	}
	return addrs
}
