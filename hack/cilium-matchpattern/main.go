// Command cilium-matchpattern decides which DNS names Cilium's own FQDN
// selector code matches, so budnet's tests can check generated toFQDNs
// selectors against the Cilium version they target instead of against
// budnet's reading of Cilium's documentation.
//
// It reads one JSON object on standard input,
//
//	{"selectors": [{"matchName": "api.openai.com"}, {"matchPattern": "**.amazonaws.com"}],
//	 "names": ["s3.us-east-1.amazonaws.com", "api.openai.com.evil.io"]}
//
// and writes one JSON object on standard output: for every selector its
// validation error (as the CiliumNetworkPolicy sanitizer reports it) or,
// for every name, whether the selector matches it. Selectors are turned into
// regular expressions exactly as pkg/policy/api FQDNSelector.ToRegex does
// (dns.FQDN for matchName, matchpattern.Sanitize for matchPattern), names
// are made fully qualified as the DNS proxy sees them (dns.FQDN). The
// Cilium version is the one this module's go.mod (or the -modfile the build
// script passes) requires.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"

	"github.com/cilium/cilium/pkg/fqdn/dns"
	"github.com/cilium/cilium/pkg/fqdn/matchpattern"
)

// allowedMatchNameChars is pkg/policy/api's check of MatchName (fqdn.go),
// which is unexported there.
var allowedMatchNameChars = regexp.MustCompile("^[-a-zA-Z0-9_.]+$")

type selector struct {
	MatchName    string `json:"matchName,omitempty"`
	MatchPattern string `json:"matchPattern,omitempty"`
}

type input struct {
	Selectors []selector `json:"selectors"`
	Names     []string   `json:"names"`
}

type result struct {
	Selector selector        `json:"selector"`
	Error    string          `json:"error,omitempty"`
	Matches  map[string]bool `json:"matches,omitempty"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "cilium-matchpattern:", err)
		os.Exit(2)
	}
}

func run() error {
	var in input
	dec := json.NewDecoder(os.Stdin)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return fmt.Errorf("reading the request: %w", err)
	}
	if len(in.Selectors) == 0 || len(in.Names) == 0 {
		return fmt.Errorf("expected selectors and names, got %d and %d", len(in.Selectors), len(in.Names))
	}
	out := make([]result, 0, len(in.Selectors))
	for _, s := range in.Selectors {
		r := result{Selector: s}
		re, err := compile(s)
		if err != nil {
			r.Error = err.Error()
		} else {
			r.Matches = map[string]bool{}
			for _, n := range in.Names {
				r.Matches[n] = re.MatchString(dns.FQDN(n))
			}
		}
		out = append(out, r)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(map[string]any{"results": out})
}

// compile is pkg/policy/api FQDNSelector.sanitize followed by ToRegex,
// without the regexp LRU (which needs the agent's option package
// initialised): ValidateWithoutCache runs the same checks.
func compile(s selector) (*regexp.Regexp, error) {
	switch {
	case s.MatchName != "" && s.MatchPattern != "":
		return nil, fmt.Errorf("only one of MatchName or MatchPattern is allowed in an FQDNSelector")
	case s.MatchName != "":
		if !allowedMatchNameChars.MatchString(s.MatchName) {
			return nil, fmt.Errorf("invalid characters in MatchName: %q", s.MatchName)
		}
		return matchpattern.ValidateWithoutCache(dns.FQDN(s.MatchName))
	}
	if _, err := matchpattern.ValidateWithoutCache(s.MatchPattern); err != nil {
		return nil, err
	}
	return matchpattern.ValidateWithoutCache(matchpattern.Sanitize(s.MatchPattern))
}
