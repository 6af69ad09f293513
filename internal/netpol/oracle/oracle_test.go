package oracle_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/netpol/netpoltest"
	"github.com/budnet/budnet/internal/testenv"
)

// oracleCases is how many connections each differential test judges: the
// brief's 100,000 in CI, fewer locally to keep `go test` quick.
func oracleCases() int {
	if testenv.CI() {
		return 100_000
	}
	return 20_000
}

// connCase is one generated connection: each end a pod index or an address.
type connCase struct {
	src, dst netpol.Peer
	proto    corev1.Protocol
	port     int32
}

// randomConn draws a connection; pod ends are more likely than addresses, and
// two addresses are never paired (no policy can apply).
func randomConn(r *rand.Rand, c netpol.Cluster) connCase {
	addrs, ports, protos := netpoltest.Addresses(), netpoltest.Ports(), netpoltest.Protocols()
	end := func() netpol.Peer {
		if r.IntN(4) == 0 {
			return netpol.AddressPeer(addrs[r.IntN(len(addrs))])
		}
		return netpol.PodPeer(r.IntN(len(c.Pods)))
	}
	cc := connCase{src: end(), dst: end(), proto: protos[r.IntN(len(protos))], port: ports[r.IntN(len(ports))]}
	if _, ok := cc.src.IsPod(); !ok {
		if _, ok := cc.dst.IsPod(); !ok {
			cc.dst = netpol.PodPeer(r.IntN(len(c.Pods)))
		}
	}
	// Named ports are only interesting on ports the destination declares.
	if di, ok := cc.dst.IsPod(); ok && len(c.Pods[di].Ports) > 0 && r.IntN(2) == 0 {
		cp := c.Pods[di].Ports[r.IntN(len(c.Pods[di].Ports))]
		cc.port, cc.proto = cp.Port, cp.Protocol
		if cc.proto == "" {
			cc.proto = corev1.ProtocolTCP
		}
	}
	return cc
}

// apiDefaulted is the policy as the API server stores and serves it, which is
// what both oracles expect: protocol defaulted to TCP, policyTypes filled in,
// and empty lists read back as absent (protobuf, the storage encoding, does not
// keep the difference; the semantics of the two are the same for rule and peer
// lists, which TestSemantics checks on the engine itself).
func apiDefaulted(np *networkingv1.NetworkPolicy) *networkingv1.NetworkPolicy {
	out := np.DeepCopy()
	if out.Namespace == "" {
		out.Namespace = "default"
	}
	if len(out.Spec.PolicyTypes) == 0 {
		out.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		if len(out.Spec.Egress) > 0 {
			out.Spec.PolicyTypes = append(out.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		}
	}
	tcp := corev1.ProtocolTCP
	fix := func(ports []networkingv1.NetworkPolicyPort) []networkingv1.NetworkPolicyPort {
		if len(ports) == 0 {
			return nil
		}
		for i := range ports {
			if ports[i].Protocol == nil {
				ports[i].Protocol = &tcp
			}
		}
		return ports
	}
	if len(out.Spec.Ingress) == 0 {
		out.Spec.Ingress = nil
	}
	for i := range out.Spec.Ingress {
		out.Spec.Ingress[i].Ports = fix(out.Spec.Ingress[i].Ports)
		if len(out.Spec.Ingress[i].From) == 0 {
			out.Spec.Ingress[i].From = nil
		}
	}
	if len(out.Spec.Egress) == 0 {
		out.Spec.Egress = nil
	}
	for i := range out.Spec.Egress {
		out.Spec.Egress[i].Ports = fix(out.Spec.Egress[i].Ports)
		if len(out.Spec.Egress[i].To) == 0 {
			out.Spec.Egress[i].To = nil
		}
	}
	return out
}

// describeCase renders a disagreement so that it can be turned into a test.
func describeCase(c netpol.Cluster, cc connCase, v netpol.Verdict) string {
	return fmt.Sprintf("connection: %s -> %s %s/%d\nengine: %s\n%s",
		peerString(c, cc.src), peerString(c, cc.dst), cc.proto, cc.port, v, netpoltest.Describe(c))
}

func peerString(c netpol.Cluster, p netpol.Peer) string {
	if i, ok := p.IsPod(); ok {
		return c.Pods[i].Namespace + "/" + c.Pods[i].Name
	}
	return p.Addr().String()
}

// podIP is the pod's first address. A pod whose address the manifests do
// not give is handed to oracles that need one (cyclonus parses every peer's
// address) as 192.0.2.1 (TEST-NET-1), only in cases whose policies have no
// ipBlock that could tell it apart from any other unknown address.
func podIP(p *netpol.Pod) netip.Addr {
	if len(p.IPs) == 0 {
		return netip.MustParseAddr("192.0.2.1")
	}
	return p.IPs[0]
}
