package platform

import (
	"regexp"
	"strings"
)

// Cilium's toFQDNs selectors, both ways: what a model host becomes
// (HostPattern.CiliumSelectors) and whether selectors admit a model host
// (FQDNSelectors.Admits), so the two readings cannot drift apart.

const (
	// CiliumAnyDepthMinor is the first Cilium minor release whose
	// matchPattern reads a leading "**." as one or more labels
	// (pkg/fqdn/matchpattern subdomainWildcardSpecifierPrefix, new in
	// v1.19.0). Before it, "*" and "**" alike match characters within one
	// label.
	CiliumAnyDepthMinor = 19
	// CiliumWildcardDepth is how many labels below the domain a "*.domain"
	// host reaches on Cilium before v1.19, which can only say one label per
	// "*": "*.domain" is written up to "*.*.*.*.domain". Deeper names (rare:
	// bucket.s3.dualstack.us-east-1.amazonaws.com is four) are refused
	// there; docs/generate.md says so.
	CiliumWildcardDepth = 4
)

// FQDNSelector is one entry of a CiliumNetworkPolicy's toFQDNs list.
type FQDNSelector struct {
	MatchName    string `json:"matchName,omitempty"`
	MatchPattern string `json:"matchPattern,omitempty"`
}

// CiliumSelectors are the toFQDNs selectors that admit exactly the names h
// means on Cilium minor release minor (1.minor): an exact name is
// matchName; "*.domain" is matchPattern "**.domain" from v1.19, and before
// it one pattern per depth up to CiliumWildcardDepth, since there "*"
// stays within one label. hack/cilium-matchpattern runs Cilium's own
// matcher over them (generate's TestCiliumMatchPatterns).
func (h HostPattern) CiliumSelectors(minor int) []FQDNSelector {
	switch {
	case h.domain == "":
		return nil
	case !h.wildcard:
		return []FQDNSelector{{MatchName: h.domain}}
	case minor >= CiliumAnyDepthMinor:
		return []FQDNSelector{{MatchPattern: "**." + h.domain}}
	}
	out := make([]FQDNSelector, 0, CiliumWildcardDepth)
	for d := 1; d <= CiliumWildcardDepth; d++ {
		out = append(out, FQDNSelector{MatchPattern: strings.Repeat("*.", d) + h.domain})
	}
	return out
}

// FQDNSelectors is a toFQDNs list read for the question "does it admit
// every name this model host stands for?", with the meaning Cilium gives
// it from v1.19 (the CRD version budnet pins): matchName is an exact name;
// a matchPattern "**.domain" is every name below domain (the model's
// "*.domain"); any other pattern is Cilium's own regular expression, "*"
// within one label (https://docs.cilium.io/en/stable/security/policy/language/#dns-based),
// which can admit exact names only. Older Cilium reads "**." within one
// label: CiliumSelectors writes for them what they read.
type FQDNSelectors []FQDNSelector

// Admits reports whether the selectors admit every name h stands for.
func (s FQDNSelectors) Admits(h HostPattern) bool {
	if h.domain == "" {
		return false
	}
	for _, sel := range s {
		if sel.admits(h) {
			return true
		}
	}
	return false
}

func (sel FQDNSelector) admits(h HostPattern) bool {
	if sel.MatchName != "" {
		// A name the model cannot hold (an underscore label) matches no model host.
		n, err := ReadHostPattern(sel.MatchName)
		return err == nil && !n.wildcard && !h.wildcard && n.domain == h.domain
	}
	p := strings.ToLower(strings.TrimSpace(sel.MatchPattern))
	switch {
	case p == "":
		return false
	case ciliumMatchAll.MatchString(p):
		return true
	}
	if rest, ok := strings.CutPrefix(strings.TrimLeft(p, "*"), "."); ok && strings.HasPrefix(p, "**") && !strings.Contains(rest, "*") {
		if d, err := NormalizeName(rest); err == nil {
			return HostPattern{domain: d, wildcard: true}.Covers(h)
		}
	}
	if h.wildcard {
		return false
	}
	re, err := regexp.Compile(CiliumPatternRegexp(p))
	return err == nil && re.MatchString(h.domain)
}

// ciliumMatchAll is Cilium's match-all pattern ("*", "**", "*.", ...):
// dnsWildcardRegex in pkg/fqdn/matchpattern/matchpattern.go, cilium v1.20.2.
var ciliumMatchAll = regexp.MustCompile(`^[*]+[.]?$`)

// CiliumPatternRegexp is Cilium's ToAnchoredRegexp for a lower-case
// pattern that is not match-all (pkg/fqdn/matchpattern, cilium v1.20.2),
// for a name without its trailing dot: "." is literal, a leading "**." is
// one or more whole labels, any other run of "*" is DNS characters within
// one label.
func CiliumPatternRegexp(p string) string {
	p = strings.TrimSuffix(p, ".")
	p = strings.ReplaceAll(p, ".", "[.]")
	p = ciliumSubdomains.ReplaceAllString(p, "([-a-zA-Z0-9_]+([.][-a-zA-Z0-9_]+){0,})[.]")
	p = ciliumWildcard.ReplaceAllString(p, "[-a-zA-Z0-9_]*")
	return "^" + p + "$"
}

var (
	ciliumSubdomains = regexp.MustCompile(`^[*]{2,}\[\.\]`)
	ciliumWildcard   = regexp.MustCompile(`[*]+`)
)
