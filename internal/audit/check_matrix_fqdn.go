package audit

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"budnet/internal/manifest"
	"budnet/internal/netpol"
	"budnet/internal/reach"
)

// The matrix is computed from NetworkPolicies, which cannot name hosts, so a
// flow to an external host name carried only by a CiliumNetworkPolicy
// toFQDNs rule looks blocked to it. Cilium enforces the union of the allow
// rules of every policy that selects an endpoint, NetworkPolicies and
// CiliumNetworkPolicies alike
// (https://docs.cilium.io/en/stable/security/policy/intro/), so such a flow
// is open. fqdnCarrier finds the policy that opens it.

// fqdnCarrier returns the CiliumNetworkPolicy or
// CiliumClusterwideNetworkPolicy with an egress rule whose toFQDNs names the
// discrepancy's destination host and whose toPorts cover every port of it,
// for an endpoint selector that selects the source workload; nil if none.
func fqdnCarrier(c *Context, d reach.Discrepancy) *manifest.Object {
	host := strings.ToLower(d.Dst)
	if !strings.Contains(host, ".") || strings.ContainsAny(host, "/[") {
		return nil
	}
	var src *manifest.Workload
	for _, w := range c.Inventory.Workloads {
		if w.Ref() == d.Src {
			src = w
			break
		}
	}
	if src == nil {
		return nil
	}
	for _, o := range objectsOf(c.Inventory, groupsCilium, "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy") {
		if o.Kind == "CiliumNetworkPolicy" && o.Namespace != src.Namespace {
			continue
		}
		for _, spec := range ciliumSpecs(o) {
			if !ciliumSelects(asMap(spec["endpointSelector"]), src) {
				continue
			}
			left := d.Ports
			for _, r := range sliceIn(spec, "egress") {
				rm := asMap(r)
				if namesHost(sliceIn(rm, "toFQDNs"), host) {
					left = left.Minus(ciliumPorts(sliceIn(rm, "toPorts")))
				}
			}
			if left.IsEmpty() {
				return o
			}
		}
	}
	return nil
}

// ciliumSelects matches an endpointSelector's matchLabels against the pod
// labels; Cilium's "k8s:" source prefix is dropped and its namespace label
// compared with the workload's namespace. A selector with matchExpressions
// is not judged (nil result is the safe side: the flow stays broken).
func ciliumSelects(sel map[string]any, w *manifest.Workload) bool {
	if sel == nil || len(sliceIn(sel, "matchExpressions")) > 0 {
		return false
	}
	for k, v := range asMap(sel["matchLabels"]) {
		want, _ := v.(string)
		k = strings.TrimPrefix(k, "k8s:")
		if k == "io.kubernetes.pod.namespace" {
			if want != w.Namespace {
				return false
			}
			continue
		}
		if w.Labels[k] != want {
			return false
		}
	}
	return true
}

// namesHost reports whether a toFQDNs list admits host: matchName exactly,
// matchPattern with "*" standing for DNS name characters within one label
// and a lone "*" for every name
// (https://docs.cilium.io/en/stable/security/policy/language/#dns-based).
func namesHost(fqdns []any, host string) bool {
	for _, f := range fqdns {
		fm := asMap(f)
		if strings.EqualFold(strings.TrimSuffix(stringIn(fm, "matchName"), "."), host) {
			return true
		}
		p := strings.ToLower(strings.TrimSuffix(stringIn(fm, "matchPattern"), "."))
		switch {
		case p == "":
		case p == "*":
			return true
		default:
			re := "^" + strings.ReplaceAll(regexp.QuoteMeta(p), `\*`, `[-a-z0-9_]*`) + "$"
			if ok, _ := regexp.MatchString(re, host); ok {
				return true
			}
		}
	}
	return false
}

// ciliumPorts is the port set of a rule's toPorts; no toPorts means every
// port. Named ports cannot apply to an external host and are skipped.
func ciliumPorts(toPorts []any) netpol.PortSet {
	if len(toPorts) == 0 {
		return netpol.AllPorts()
	}
	var ranges []netpol.PortRange
	for _, tp := range toPorts {
		for _, p := range sliceIn(asMap(tp), "ports") {
			pm := asMap(p)
			// Cilium's protocol defaults to ANY: TCP, UDP and SCTP alike.
			protos := []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}
			if pr := strings.ToUpper(stringIn(pm, "protocol")); pr != "" && pr != "ANY" {
				protos = []corev1.Protocol{corev1.Protocol(pr)}
			}
			port, err := strconv.Atoi(fmt.Sprint(pm["port"]))
			if err != nil || port < 0 || port > 65535 {
				continue
			}
			start, end := int32(port), int32(port)
			if e, ok := pm["endPort"].(int64); ok && e >= int64(port) && e <= 65535 {
				end = int32(e)
			}
			if port == 0 {
				start, end = 1, 65535
			}
			for _, proto := range protos {
				ranges = append(ranges, netpol.PortRange{Protocol: proto, Start: start, End: end})
			}
		}
	}
	return netpol.NewPortSet(ranges...)
}
