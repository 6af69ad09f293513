package netpol

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// The protocols a NetworkPolicyPort may name, in the order PortSet stores them.
var protocols = [numProtocols]corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}

const (
	numProtocols = 3
	minPort      = 1
	maxPort      = 65535
)

// protoIndex maps a protocol to its PortSet slot; "" is TCP, the API default.
func protoIndex(p corev1.Protocol) (int, bool) {
	switch p {
	case corev1.ProtocolTCP, "":
		return 0, true
	case corev1.ProtocolUDP:
		return 1, true
	case corev1.ProtocolSCTP:
		return 2, true
	}
	return 0, false
}

// PortRange is an inclusive range of ports of one protocol.
type PortRange struct {
	Protocol   corev1.Protocol
	Start, End int32
}

// String is "TCP/80" or "TCP/8000-8080".
func (r PortRange) String() string {
	if r.Start == r.End {
		return fmt.Sprintf("%s/%d", r.Protocol, r.Start)
	}
	return fmt.Sprintf("%s/%d-%d", r.Protocol, r.Start, r.End)
}

type span struct{ lo, hi int32 }

// PortSet is a set of (protocol, port) pairs kept as sorted, disjoint, merged
// ranges per protocol, so "all ports" costs one range, not 65,535 entries.
// The zero value is empty. PortSets are values: operations return new sets.
type PortSet struct {
	spans [numProtocols][]span
}

// AllPorts is every port of every protocol.
func AllPorts() PortSet {
	var s PortSet
	for i := range s.spans {
		s.spans[i] = []span{{minPort, maxPort}}
	}
	return s
}

// NewPortSet builds a set from ranges; invalid protocols are ignored and ports
// are clamped to 1-65535.
func NewPortSet(ranges ...PortRange) PortSet {
	var s PortSet
	for _, r := range ranges {
		s = s.Union(singleRange(r))
	}
	return s
}

func singleRange(r PortRange) PortSet {
	var s PortSet
	pi, ok := protoIndex(r.Protocol)
	lo, hi := max(r.Start, minPort), min(r.End, maxPort)
	if !ok || lo > hi {
		return s
	}
	s.spans[pi] = []span{{lo, hi}}
	return s
}

// allOf is every port of one protocol.
func allOf(pi int) PortSet {
	var s PortSet
	s.spans[pi] = []span{{minPort, maxPort}}
	return s
}

// IsEmpty reports whether no port is in the set.
func (s PortSet) IsEmpty() bool {
	for _, sp := range s.spans {
		if len(sp) > 0 {
			return false
		}
	}
	return true
}

// All reports whether every port of TCP, UDP and SCTP is in the set.
func (s PortSet) All() bool {
	for _, sp := range s.spans {
		if len(sp) != 1 || sp[0] != (span{minPort, maxPort}) {
			return false
		}
	}
	return true
}

// Contains reports whether the port of the protocol is in the set.
func (s PortSet) Contains(proto corev1.Protocol, port int32) bool {
	pi, ok := protoIndex(proto)
	if !ok {
		return false
	}
	sp := s.spans[pi]
	// Binary search: the sets built from real policies are small, but a union
	// over many workloads can hold hundreds of ranges.
	lo, hi := 0, len(sp)
	for lo < hi {
		m := (lo + hi) / 2
		switch {
		case port < sp[m].lo:
			hi = m
		case port > sp[m].hi:
			lo = m + 1
		default:
			return true
		}
	}
	return false
}

// Ranges lists the set's ranges, TCP first, then UDP, then SCTP, each ascending.
func (s PortSet) Ranges() []PortRange {
	var out []PortRange
	for pi, sp := range s.spans {
		for _, r := range sp {
			out = append(out, PortRange{Protocol: protocols[pi], Start: r.lo, End: r.hi})
		}
	}
	return out
}

// Equal reports whether both sets hold the same ports.
func (s PortSet) Equal(o PortSet) bool {
	for pi := range s.spans {
		a, b := s.spans[pi], o.spans[pi]
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
	}
	return true
}

// Union is the ports in either set.
func (s PortSet) Union(o PortSet) PortSet {
	var out PortSet
	for pi := range s.spans {
		out.spans[pi] = unionSpans(s.spans[pi], o.spans[pi])
	}
	return out
}

// Intersect is the ports in both sets.
func (s PortSet) Intersect(o PortSet) PortSet {
	var out PortSet
	for pi := range s.spans {
		out.spans[pi] = intersectSpans(s.spans[pi], o.spans[pi])
	}
	return out
}

func unionSpans(a, b []span) []span {
	if len(a) == 0 {
		return b
	}
	if len(b) == 0 {
		return a
	}
	out := make([]span, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var next span
		if j >= len(b) || (i < len(a) && a[i].lo <= b[j].lo) {
			next, i = a[i], i+1
		} else {
			next, j = b[j], j+1
		}
		// Adjacent ranges merge too (80-80 and 81-90 become 80-90) so that equal
		// sets have one representation.
		if n := len(out); n > 0 && next.lo <= out[n-1].hi+1 {
			out[n-1].hi = max(out[n-1].hi, next.hi)
			continue
		}
		out = append(out, next)
	}
	return out
}

func intersectSpans(a, b []span) []span {
	var out []span
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		lo, hi := max(a[i].lo, b[j].lo), min(a[i].hi, b[j].hi)
		if lo <= hi {
			out = append(out, span{lo, hi})
		}
		if a[i].hi < b[j].hi {
			i++
		} else {
			j++
		}
	}
	return out
}

// String is "all", "none", or the ranges comma-separated ("TCP/80,UDP/53").
func (s PortSet) String() string {
	if s.All() {
		return "all"
	}
	if s.IsEmpty() {
		return "none"
	}
	var b strings.Builder
	for i, r := range s.Ranges() {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(r.String())
	}
	return b.String()
}

// key is a canonical encoding used to intern equal sets.
func (s PortSet) key(buf []byte) []byte {
	for pi, sp := range s.spans {
		buf = append(buf, byte(pi))
		for _, r := range sp {
			buf = strconv.AppendInt(buf, int64(r.lo), 10)
			buf = append(buf, '-')
			buf = strconv.AppendInt(buf, int64(r.hi), 10)
			buf = append(buf, ',')
		}
	}
	return buf
}
