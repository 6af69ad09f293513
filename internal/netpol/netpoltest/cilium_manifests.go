package netpoltest

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// ciliumNamespaceLabel is the label Cilium gives every endpoint's identity
// with its namespace (pkg/k8s/apis/cilium.io const.go PodNamespaceLabel).
const ciliumNamespaceLabel = "k8s:io.kubernetes.pod.namespace"

// RandomCiliumPolicies draws 1-4 CiliumNetworkPolicies (cilium.io/v2), and
// in two of three draws a CiliumClusterwideNetworkPolicy, over RandomCluster's label,
// namespace, port and CIDR pools, as objects ready to encode (JSON or
// YAML): endpointSelector (empty, by labels, by namespace for the
// clusterwide kind); fromEndpoints/toEndpoints with Cilium's namespace
// label and the empty selector; fromEntities/toEntities (world and its
// families, cluster, cluster-mesh, host, remote-node, all, none; rarely
// kube-apiserver and health, which the engine lists as unjudged) and their
// one-reserved-label selectors; fromCIDR/toCIDR and
// fromCIDRSet/toCIDRSet with except; toPorts with single ports, ranges
// (endPort) and protocol ANY; ingressDeny/egressDeny; and
// enableDefaultDeny off in either direction.
func RandomCiliumPolicies(r *rand.Rand, namespaces []string) []map[string]any {
	g := &rgen{r: r}
	var out []map[string]any
	for i := range 1 + r.IntN(4) {
		ns := namespaces[r.IntN(len(namespaces))]
		out = append(out, map[string]any{
			"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
			"metadata": map[string]any{"name": fmt.Sprintf("cnp%d", i), "namespace": ns},
			"spec":     g.ciliumManifestRule(namespaces, false),
		})
	}
	if r.IntN(3) > 0 {
		out = append(out, map[string]any{
			"apiVersion": "cilium.io/v2", "kind": "CiliumClusterwideNetworkPolicy",
			"metadata": map[string]any{"name": "ccnp"},
			"spec":     g.ciliumManifestRule(namespaces, true),
		})
	}
	return out
}

func (g *rgen) ciliumManifestRule(namespaces []string, clusterwide bool) map[string]any {
	rule := map[string]any{"endpointSelector": g.ciliumManifestSelector(namespaces, clusterwide)}
	dirs := []struct{ key, peer string }{{"ingress", "from"}, {"egress", "to"}, {"ingressDeny", "from"}, {"egressDeny", "to"}}
	some := false
	for i, d := range dirs {
		n := g.r.IntN(3)
		if i >= 2 {
			n = g.r.IntN(4) / 3 // deny rules now and then
		}
		var rules []any
		for range n {
			rules = append(rules, g.ciliumManifestPeerRule(namespaces, d.peer))
		}
		if n > 0 {
			rule[d.key] = rules
			some = true
		}
	}
	if !some {
		rule["ingress"] = []any{map[string]any{}} // an empty rule: selects, allows nothing
	}
	if g.r.IntN(5) == 0 {
		rule["enableDefaultDeny"] = map[string]any{"ingress": g.r.IntN(2) == 0, "egress": g.r.IntN(2) == 0}
	}
	return rule
}

func (g *rgen) ciliumManifestSelector(namespaces []string, clusterwide bool) map[string]any {
	ml := map[string]any{}
	switch g.r.IntN(4) {
	case 0: // every endpoint (of the namespace, for a namespaced policy)
	case 1:
		k := g.pick(labelKeys)
		ml[k] = g.pick(labelPool[k])
	default:
		k := g.pick(labelKeys)
		ml[k] = g.pick(labelPool[k])
		if clusterwide || g.r.IntN(2) == 0 {
			ml[ciliumNamespaceLabel] = g.pick(namespaces)
		}
	}
	if g.r.IntN(6) == 0 {
		expr := map[string]any{"key": g.pick(labelKeys), "operator": []string{"In", "NotIn", "Exists", "DoesNotExist"}[g.r.IntN(4)]}
		if op := expr["operator"]; op == "In" || op == "NotIn" {
			expr["values"] = g.ciliumManifestValues()
		}
		return map[string]any{"matchExpressions": []any{expr}}
	}
	return map[string]any{"matchLabels": ml}
}

func (g *rgen) ciliumManifestValues() []any {
	vs := labelPool["app"]
	return []any{vs[g.r.IntN(len(vs))]}
}

// ciliumPeerRule is one rule of a direction ("from" or "to" peers); deny
// rules take the same peers and ports (they have no L7 part).
func (g *rgen) ciliumManifestPeerRule(namespaces []string, side string) map[string]any {
	rule := map[string]any{}
	switch g.r.IntN(5) {
	case 0, 1:
		var sels []any
		for range 1 + g.r.IntN(2) {
			sels = append(sels, g.ciliumManifestSelector(namespaces, true))
		}
		rule[side+"Endpoints"] = sels
	case 2:
		// Entities the engine judges, and now and then one it lists as
		// unjudged (kube-apiserver, health: it cannot know their
		// addresses), or the one-reserved-label selector of an entity.
		ents := []string{"world", "world-ipv4", "world-ipv6", "cluster", "cluster-mesh", "host", "remote-node", "all", "none"}
		ent := g.pick(ents)
		if g.r.IntN(40) == 0 {
			ent = g.pick([]string{"kube-apiserver", "health"})
		}
		if g.r.IntN(6) == 0 && ent != "all" && !strings.HasPrefix(ent, "world") && !strings.HasPrefix(ent, "cluster") {
			rule[side+"Endpoints"] = []any{map[string]any{"matchLabels": map[string]any{"reserved:" + ent: ""}}}
			break
		}
		rule[side+"Entities"] = []any{ent}
	case 3:
		cidr := g.pick(cidrPool)
		set := map[string]any{"cidr": cidr}
		if ex := exceptPool[cidr]; len(ex) > 0 && g.r.IntN(2) == 0 {
			set["except"] = []any{g.pick(ex)}
		}
		rule[side+"CIDRSet"] = []any{set}
	default:
		rule[side+"CIDR"] = []any{g.pick(cidrPool)}
	}
	if g.r.IntN(3) > 0 {
		var ports []any
		for range 1 + g.r.IntN(2) {
			p := map[string]any{"port": strconv.Itoa(int(portNums[g.r.IntN(len(portNums))])),
				"protocol": []string{"TCP", "UDP", "SCTP", "ANY"}[g.r.IntN(4)]}
			if g.r.IntN(3) == 0 {
				lo, _ := strconv.Atoi(p["port"].(string))
				p["endPort"] = lo + g.r.IntN(50)
			}
			ports = append(ports, p)
		}
		rule["toPorts"] = []any{map[string]any{"ports": ports}}
	}
	return rule
}
