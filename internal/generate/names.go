package generate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/budnet/budnet/internal/platform"
)

// maxNameLen is the limit on NetworkPolicy names: a DNS-1123 subdomain
// (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#dns-subdomain-names).
const maxNameLen = 253

// objectName joins parts into a DNS-1123 subdomain: lower case, runs of
// characters outside [a-z0-9-] become one dash, empty parts are dropped. A
// name longer than maxNameLen keeps its head and gets a hash of the whole, so
// it stays stable and unique.
func objectName(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		p = sanitize(p)
		if p == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('-')
		}
		b.WriteString(p)
	}
	name := b.String()
	if len(name) <= maxNameLen {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	suffix := hex.EncodeToString(sum[:])[:10]
	head := strings.TrimRight(name[:maxNameLen-len(suffix)-1], "-")
	return head + "-" + suffix
}

func sanitize(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
			continue
		}
		if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}

// selectorName describes a flow selector for a policy name: the workload when
// one is named, else zone, role and "dapr-sidecars" as set.
func selectorName(s platform.Selector) string {
	if s.Workload != "" {
		return s.Workload
	}
	var parts []string
	if s.Zone != "" {
		parts = append(parts, s.Zone)
	}
	if s.Role != "" {
		parts = append(parts, string(s.Role))
	}
	if s.Dapr {
		parts = append(parts, "dapr-sidecars")
	}
	return strings.Join(parts, "-")
}

// portsName renders port ranges for a policy name: "5432", "8123-9000" for
// two ports, "30000to30010" for a range, "udp53" for a non-TCP port.
func portsName(ranges []platform.PortRange) string {
	seen := map[string]bool{}
	var parts []string
	for _, r := range sortedRanges(ranges) {
		s := fmt.Sprint(r.Port)
		if r.EndPort != r.Port {
			s = fmt.Sprintf("%dto%d", r.Port, r.EndPort)
		}
		if r.Protocol != platform.DefaultProtocol {
			s = strings.ToLower(r.Protocol) + s
		}
		if !seen[s] {
			seen[s] = true
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "-")
}

// sortedRanges returns the ranges by protocol, then port, without duplicates.
func sortedRanges(ranges []platform.PortRange) []platform.PortRange {
	out := slices.Clone(ranges)
	slices.SortFunc(out, func(a, b platform.PortRange) int {
		if c := strings.Compare(a.Protocol, b.Protocol); c != 0 {
			return c
		}
		if a.Port != b.Port {
			return int(a.Port - b.Port)
		}
		return int(a.EndPort - b.EndPort)
	})
	return slices.Compact(out)
}

// guideAnnotation is the guide row a flow implements, or what the model says
// about a flow the guide lacks.
func guideAnnotation(g platform.Guide, purpose string) string {
	if g != "" {
		return string(g)
	}
	if purpose != "" {
		return "not in the guide: " + purpose
	}
	return "not in the guide"
}
