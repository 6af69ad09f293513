package platform

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/budnet/budnet/internal/addrset"
)

// Placeholders are values the reference models carry where a real
// deployment needs its own: documentation address ranges and example
// domains. Generating from them works, and is wrong: a control-plane group
// of 192.0.2.0/28 opens the admission webhooks to nobody. generate warns
// for each one the model still carries; audit reports those it finds in
// deployed objects.

// PlaceholderPrefix says why a CIDR or address is a placeholder: it lies in
// a documentation range (RFC 5737, RFC 3849, RFC 9637), which the egress
// gateway's address guard also refuses (addrset.SpecialPurpose). Empty when it
// is not one.
func PlaceholderPrefix(pfx netip.Prefix) string {
	for _, r := range addrset.SpecialPurpose() {
		if r.Name == "documentation" && r.Prefix.Bits() <= pfx.Bits() && r.Prefix.Contains(pfx.Addr()) {
			return fmt.Sprintf("%s is inside %s, a documentation range: no real address is there", pfx, r.Prefix)
		}
	}
	return ""
}

// placeholderDomains are the names reserved for documentation and testing
// (RFC 2606, RFC 6761): no one can register them, so a host or mailbox there
// is never real.
var placeholderDomains = []string{"example.com", "example.net", "example.org", "example", "test", "invalid", "localhost"}

// PlaceholderHost says why a host name (or *.wildcard) is a placeholder: it
// is, or lies under, a reserved example domain. Empty when it is not one.
func PlaceholderHost(h string) string {
	h = strings.TrimPrefix(NormalizeHost(h), "*.")
	for _, d := range placeholderDomains {
		if h == d || strings.HasSuffix(h, "."+d) {
			return fmt.Sprintf("%s is under %s, a domain reserved for examples (RFC 2606, RFC 6761)", h, d)
		}
	}
	return ""
}

// PlaceholderEmail says why an email address is a placeholder: its domain
// is an example domain. Empty when it is not one.
func PlaceholderEmail(e string) string {
	_, domain, ok := strings.Cut(e, "@")
	if !ok {
		return ""
	}
	return PlaceholderHost(domain)
}
