package platform

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// HostPattern is what the model means by an egress or edge host: an exact
// DNS name (api.openai.com) or "*.domain", every name below domain at any
// depth and never domain itself (*.openai.azure.com). It is the one home of
// that meaning: the egress gateway's allowlist is built from it, reach and
// audit ask it whether a Cilium toFQDNs list admits a host, infer asks it
// whether the model already allows a host, and generate converts it to
// Cilium's toFQDNs selectors and to ClusterNetworkPolicy domainNames.
//
// The zero value is no pattern; build one with ParseHostPattern (a model's
// host, under the model's rules) or ReadHostPattern (a name read from
// elsewhere: a request, a Cilium selector, an observed flow).
type HostPattern struct {
	domain   string // normalised (NormalizeName): the name, or the domain a wildcard lies below
	wildcard bool
}

// String is the pattern in its normal form ("api.openai.com", "*.openai.azure.com").
func (h HostPattern) String() string {
	if h.wildcard {
		return "*." + h.domain
	}
	return h.domain
}

// Domain is the exact name, or the domain a wildcard matches below.
func (h HostPattern) Domain() string { return h.domain }

// Wildcard reports whether the pattern is "*.domain".
func (h HostPattern) Wildcard() bool { return h.wildcard }

// IsZero reports whether h is no pattern.
func (h HostPattern) IsZero() bool { return h.domain == "" }

// HostPatternError says why a host is not a pattern. Msg reads after the
// host ("%q %s"), as model validation prints it.
type HostPatternError struct {
	Input string
	Msg   string
}

func (e *HostPatternError) Error() string { return fmt.Sprintf("host %q %s", e.Input, e.Msg) }

// ParseHostPattern reads a host of the model: ReadHostPattern's reading,
// then the model's own rules. A wildcard must sit below a registrable
// domain: "*.com" or "*.co.uk" (public suffixes, per
// golang.org/x/net/publicsuffix) would allow anyone's site; and a name must
// be fully qualified, since a single label is resolved through the pod's
// search domains (see allowlist.Host.Absolute).
func ParseHostPattern(s string) (HostPattern, error) {
	h, err := ReadHostPattern(s)
	if err != nil {
		return HostPattern{}, err
	}
	fail := func(format string, args ...any) (HostPattern, error) {
		return HostPattern{}, &HostPatternError{Input: s, Msg: fmt.Sprintf(format, args...)}
	}
	if h.wildcard {
		if suffix, _ := publicsuffix.PublicSuffix(h.domain); suffix == h.domain {
			return fail("matches every domain under the public suffix %q, expected a wildcard below a registrable domain", h.domain)
		}
	}
	if !strings.Contains(h.domain, ".") {
		return fail("is a single label, expected a fully qualified name such as api.example.com")
	}
	return h, nil
}

// ReadHostPattern reads a host name or "*.domain" wildcard as it names
// hosts on the wire: surrounding space and one trailing dot dropped, case
// folded and Unicode names turned into their A-label (punycode) form, as
// the egress gateway normalises a requested host (NormalizeName). It
// refuses IP addresses, anything that is not a bare name (ports, schemes,
// paths, userinfo), a "*" anywhere but a leading "*." label, and a name
// whose last label is numeric, which resolvers read as an IPv4 address.
// It applies none of the model's policy (ParseHostPattern does).
func ReadHostPattern(s string) (HostPattern, error) {
	in := s
	fail := func(format string, args ...any) (HostPattern, error) {
		return HostPattern{}, &HostPatternError{Input: in, Msg: fmt.Sprintf(format, args...)}
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return fail("is empty, expected a DNS name")
	}
	if _, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return fail("is an IP address, expected a DNS name (put addresses in cidrs)")
	}
	if strings.ContainsAny(s, ":/@%\\") {
		return fail("is not a bare host name (ports go in ports, and schemes or paths have no place here)")
	}
	rest, wildcard := strings.CutPrefix(s, "*.")
	if s == "*" || strings.Contains(rest, "*") {
		return fail("has a wildcard other than a leading \"*.\", expected a name like api.example.com or *.example.com")
	}
	name, err := NormalizeName(rest)
	if err != nil {
		return fail("%s", err.Error())
	}
	if last := name[strings.LastIndexByte(name, '.')+1:]; NumericLabel(last) {
		return fail("ends in the numeric label %q, which resolvers read as an IPv4 address, expected a DNS name", last)
	}
	return HostPattern{domain: name, wildcard: wildcard}, nil
}

// Matches reports whether the pattern admits the DNS name name, read as
// ReadHostPattern reads it; a name that is not one (an address, a
// wildcard) matches nothing.
func (h HostPattern) Matches(name string) bool {
	n, err := ReadHostPattern(name)
	return err == nil && !n.wildcard && h.matches(n.domain)
}

// matches is Matches for a normalised name.
func (h HostPattern) matches(name string) bool {
	if h.domain == "" {
		return false
	}
	if !h.wildcard {
		return name == h.domain
	}
	return len(name) > len(h.domain)+1 && strings.HasSuffix(name, h.domain) && name[len(name)-len(h.domain)-1] == '.'
}

// Covers reports whether every name o stands for is one h admits: an exact
// name h matches, or a wildcard at or below h's domain when h is one.
func (h HostPattern) Covers(o HostPattern) bool {
	if o.domain == "" {
		return false
	}
	if !o.wildcard {
		return h.matches(o.domain)
	}
	return h.wildcard && (o.domain == h.domain || h.matches(o.domain))
}

// DomainName is the pattern as a ClusterNetworkPolicy egress domainNames
// entry (policy.networking.k8s.io v1alpha2, network-policy-api v0.3.1,
// internal/crds; type DomainName in apis/v1alpha2/clusternetworkpolicy_types.go
// of sigs.k8s.io/network-policy-api): an exact name matches only itself and
// "*.domain" one or more whole labels below domain, never domain itself
// ("'*' may only be specified as a prefix"; the CRD's pattern is
// ^(\*\.)?([a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.)+[a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.?$),
// which is the model's meaning, so the normal form is the entry. The CRD
// refuses single labels, which ParseHostPattern refuses too.
func (h HostPattern) DomainName() string { return h.String() }

// hostProfile is the UTS #46 lookup profile (non-transitional, STD3 rules,
// Bidi rule, DNS length limits): what browsers and resolvers apply to a
// name before it goes on the wire. See https://pkg.go.dev/golang.org/x/net/idna.
// It is never mutated after initialisation.
var hostProfile = idna.New(
	idna.MapForLookup(),
	idna.Transitional(false),
	idna.BidiRule(),
	idna.VerifyDNSLength(true),
	idna.CheckHyphens(true),
	idna.CheckJoiners(true),
)

// NormalizeName turns a DNS name as written (any case, one trailing dot,
// Unicode or A-labels) into the one form the model and the egress gateway
// compare: lower-case ASCII (A-label) without the trailing dot, so a model
// pattern and a requested host that name the same DNS host are one string.
// It refuses what is not such a name: an empty label, a label that is not
// letters, digits and hyphens (no leading or trailing hyphen), names beyond
// DNS length limits, and an A-label that does not decode to a stable
// Unicode name. It does not look at addresses; callers that may see one
// test for it first. The error reads after the name, as HostPatternError's
// message does.
func NormalizeName(s string) (string, error) {
	name := strings.TrimSuffix(s, ".")
	if plainASCIIName(name) {
		return name, checkLabels(name)
	}
	if isASCII(name) {
		// ASCII case folding is exactly what UTS #46 mapping does to ASCII;
		// the label check then says which label is wrong, in words.
		name = strings.ToLower(name)
		if err := checkLabels(name); err != nil {
			return "", err
		}
		if !hasALabel(name) {
			return name, nil
		}
	}
	a, err := hostProfile.ToASCII(name)
	if err != nil {
		return "", fmt.Errorf("is not a valid internationalised domain name (%w)", err)
	}
	a = strings.TrimSuffix(a, ".")
	// The A-label form must itself be stable, or a pattern and a request
	// could normalise to different strings for the same wire name.
	if again, err := hostProfile.ToASCII(a); err != nil || again != a {
		return "", errors.New("has no stable internationalised (IDNA) form")
	}
	return a, checkLabels(a)
}

// plainASCIIName reports whether s is already lower-case LDH ASCII with no
// A-label, for which normalisation is the identity: the common case, which
// allocates nothing.
func plainASCIIName(s string) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return !hasALabel(s)
}

func hasALabel(s string) bool { return strings.HasPrefix(s, "xn--") || strings.Contains(s, ".xn--") }

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// checkLabels enforces DNS length limits and LDH label syntax on a
// lower-case name.
func checkLabels(name string) error {
	if name == "" {
		return errors.New("is empty, expected a DNS name")
	}
	if len(name) > 253 {
		return errors.New("is longer than 253 characters")
	}
	for label := range strings.SplitSeq(name, ".") {
		if !ldhLabel(label) {
			return fmt.Errorf("has the invalid label %q, expected letters, digits and hyphens", label)
		}
	}
	return nil
}

// ldhLabel reports whether l is 1 to 63 lower-case letters, digits and
// hyphens, neither starting nor ending with a hyphen.
func ldhLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// NumericLabel reports whether a name ending in label l is an IPv4 address
// to a resolver built on inet_aton (glibc getaddrinfo, curl, many proxies)
// and to the WHATWG URL parser: l is decimal digits or a 0x-prefixed
// hexadecimal number (an octal one is digits too). Such a name is never a
// host pattern, and the egress gateway refuses it as a non-canonical
// address.
func NumericLabel(l string) bool {
	if l == "" {
		return false
	}
	if rest, ok := strings.CutPrefix(strings.ToLower(l), "0x"); ok {
		for i := 0; i < len(rest); i++ {
			if c := rest[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(l); i++ {
		if l[i] < '0' || l[i] > '9' {
			return false
		}
	}
	return true
}
