package generate

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/budnet/budnet/internal/platform"
)

// DefaultCiliumVersion is the Cilium release generate targets unless
// --cilium-version says otherwise: the version of the CiliumNetworkPolicy
// CRD pinned in internal/crds (VERSIONS.md), which the API server
// tests validate the output against.
const DefaultCiliumVersion = "v1.20.2"

// Cilium releases whose FQDN matching generate knows. Cilium supports its
// three newest minor releases (https://docs.cilium.io/en/stable/contributing/release/),
// so v1.18 is the oldest one still maintained next to v1.20; the tests
// prove the patterns with matchpattern from v1.18.6 and v1.20.2.
const (
	ciliumMinMinor = 18
)

// ciliumMinor reads a Cilium version ("v1.20.2", "1.18", "1.19.0-rc.1"),
// empty meaning DefaultCiliumVersion, and returns its minor number. Releases
// generate has not been proven against are refused, never guessed at.
func ciliumMinor(v string) (int, error) {
	if v == "" {
		v = DefaultCiliumVersion
	}
	s := strings.TrimPrefix(v, "v")
	s, _, _ = strings.Cut(s, "-")
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, fmt.Errorf("cilium version %q: expected MAJOR.MINOR[.PATCH], e.g. %s", v, DefaultCiliumVersion)
	}
	nums := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || p != strconv.Itoa(n) {
			return 0, fmt.Errorf("cilium version %q: %q is not a number", v, p)
		}
		nums[i] = n
	}
	if nums[0] != 1 || nums[1] < ciliumMinMinor {
		return 0, fmt.Errorf("cilium version %q: generate supports Cilium v1.%d and later (older releases are past their support; their toFQDNs patterns are unproven here)", v, ciliumMinMinor)
	}
	return nums[1], nil
}

// CheckCiliumVersion says whether generate can target Cilium release v
// (see ciliumMinor), for commands that check their flags before running.
func CheckCiliumVersion(v string) error {
	_, err := ciliumMinor(v)
	return err
}

// fqdnSelectors are the toFQDNs selectors for a flow's hosts on Cilium
// 1.minor, as the model's host pattern converts itself
// (platform.HostPattern.CiliumSelectors).
func fqdnSelectors(hosts []string, minor int) ([]any, error) {
	out := make([]any, 0, len(hosts))
	for _, h := range hosts {
		hp, err := platform.ParseHostPattern(h)
		if err != nil {
			return nil, err
		}
		for _, sel := range hp.CiliumSelectors(minor) {
			if sel.MatchName != "" {
				out = append(out, map[string]any{"matchName": sel.MatchName})
			} else {
				out = append(out, map[string]any{"matchPattern": sel.MatchPattern})
			}
		}
	}
	return out, nil
}
