package audit

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/platform"
)

// Guide section 3.2: network policies. Every question here is answered by
// the policy engine (internal/netpol), so a policy that isolates pods but
// allows everything does not pass for a default deny.

func checkDefaultDeny() Check {
	return Check{
		ID: "BUD-3.2-01", Title: "Every namespace denies ingress and egress by default", Section: "3.2", Severity: SeverityCritical,
		Remediation: "Apply the default-deny NetworkPolicy `budnet generate` emits for every zone (podSelector {} with policyTypes Ingress and Egress and no rules), then its allow policies.",
		Doc:         docOf("BUD-3.2-01"),
		Run:         runDefaultDeny,
	}
}

func runDefaultDeny(c *Context) []Result {
	pr, err := newProbe(c)
	if err != nil {
		return []Result{res(StatusFail, "policies", err.Error())}
	}
	m := pr.matrix()
	var externals []string
	for _, n := range m.Names() {
		if m.IsExternal(n) {
			externals = append(externals, n)
		}
	}
	_, _, dnsPorts := dnsOf(c.Platform)
	dns := portSetOf(dnsPorts)
	in := c.Reach().Input
	byNS := map[string][]string{}
	for _, w := range in.Workloads {
		byNS[w.Namespace] = append(byNS[w.Namespace], w.Name)
	}
	var out []Result
	for _, ns := range sortedKeys(byNS) {
		p, ok := pr.nsPod[ns]
		if !ok || systemNamespace(c, ns) {
			continue
		}
		self, other := netpol.PodPeer(p), netpol.PodPeer(pr.outside)
		ing := pr.eng.Evaluate(other, self, corev1.ProtocolTCP, 1).Ingress
		eg := pr.eng.Evaluate(self, other, corev1.ProtocolTCP, 1).Egress
		if !ing.Isolated || !eg.Isolated {
			out = append(out, notIsolated(c, pr, ns, byNS[ns], ing.Isolated, eg.Isolated))
			continue
		}
		var ingOpen, egOpen netpol.PortSet
		for _, src := range append([]string{probeName(probeOutside)}, externals...) {
			ps, _ := m.Lookup(src, probeName(ns))
			ingOpen = ingOpen.Union(ps)
		}
		for _, dst := range append([]string{probeName(probeOutside)}, externals...) {
			ps, _ := m.Lookup(probeName(ns), dst)
			egOpen = egOpen.Union(ps)
		}
		egOpen = egOpen.Minus(dns)
		if ingOpen.IsEmpty() && egOpen.IsEmpty() {
			pols := policyStrings(append(ing.Isolating, eg.Isolating...))
			out = append(out, res(StatusPass, ns, fmt.Sprintf("every pod of %s is isolated both ways and a pod no rule names gets nothing", ns),
				Evidence{Object: ns + "[Namespace]", Policies: pols, Detail: "isolated by " + strings.Join(pols, ", ")}))
			continue
		}
		out = append(out, openNamespace(pr, ns, ingOpen, egOpen))
	}
	return out
}

func portSetOf(ports []platform.Port) netpol.PortSet {
	var rs []netpol.PortRange
	for _, p := range ports {
		end := p.EndPort
		if end == 0 {
			end = p.Port
		}
		rs = append(rs, netpol.PortRange{Protocol: protocolOf(p.Protocol), Start: p.Port, End: end})
	}
	return netpol.NewPortSet(rs...)
}

func notIsolated(c *Context, pr *probe, ns string, workloads []string, ingIso, egIso bool) Result {
	var dirs []string
	if !ingIso {
		dirs = append(dirs, "ingress")
	}
	if !egIso {
		dirs = append(dirs, "egress")
	}
	in := c.Reach().Input
	var open []string
	for _, name := range workloads {
		w, _ := in.Workload(name)
		self, other := netpol.PodPeer(w.Pod), netpol.PodPeer(pr.outside)
		if !pr.eng.Evaluate(other, self, corev1.ProtocolTCP, 1).Ingress.Isolated || !pr.eng.Evaluate(self, other, corev1.ProtocolTCP, 1).Egress.Isolated {
			open = append(open, name)
		}
	}
	msg := fmt.Sprintf("no policy in %s selects every pod for %s, so a pod no policy names is open", ns, strings.Join(dirs, " and "))
	if len(open) > 0 {
		msg += fmt.Sprintf("; %d of %d workloads are not isolated both ways: %s", len(open), len(workloads), listing(open, 5))
	}
	return res(StatusFail, ns, msg, Evidence{Object: ns + "[Namespace]", Detail: "no default-deny policy for " + strings.Join(dirs, " and ")})
}

func openNamespace(pr *probe, ns string, ingOpen, egOpen netpol.PortSet) Result {
	self, other := netpol.PodPeer(pr.nsPod[ns]), netpol.PodPeer(pr.outside)
	var parts, pols []string
	if !ingOpen.IsEmpty() {
		proto, port := firstPort(ingOpen)
		v := pr.eng.Evaluate(other, self, proto, port).Ingress
		pols = append(pols, ruleStrings(v.Allowing)...)
		parts = append(parts, "ingress from any namespace or address on "+ingOpen.String())
	}
	if !egOpen.IsEmpty() {
		proto, port := firstPort(egOpen)
		v := pr.eng.Evaluate(self, other, proto, port).Egress
		pols = append(pols, ruleStrings(v.Allowing)...)
		parts = append(parts, "egress to any namespace or address on "+egOpen.String())
	}
	return res(StatusFail, ns,
		fmt.Sprintf("policies select every pod of %s but allow a pod no rule names %s: that is not a default deny", ns, strings.Join(parts, "; ")),
		Evidence{Object: ns + "[Namespace]", Policies: pols, Detail: "allowed by " + strings.Join(pols, ", ")})
}

func checkPoliciesSelectPods() Check {
	return Check{
		ID: "BUD-3.2-02", Title: "Every NetworkPolicy selects some pod", Section: "3.2", Severity: SeverityHigh,
		Remediation: "Select pods by labels they carry; for Dapr apps use dapr.io/sidecar-injected or dapr.io/app-id (set by the injector), never dapr.io/enabled, which is an annotation. `budnet generate` selects by the model's podLabels.",
		Doc:         docOf("BUD-3.2-02"),
		Run: func(c *Context) []Result {
			var out []Result
			for _, np := range c.Inventory.NetworkPolicies {
				out = append(out, policySelects(c.Inventory, np))
			}
			return out
		},
	}
}

// acmeSolverLabel marks cert-manager's HTTP-01 solver pods.
const acmeSolverLabel = "acme.cert-manager.io/http01-solver"

func policySelects(inv *manifest.Inventory, np *manifest.NetworkPolicy) Result {
	p := np.Policy
	subject := np.Object.Ref()
	sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
	if err != nil {
		return res(StatusFail, subject, "invalid podSelector: "+err.Error(), ObjectEvidence(np.Object, "spec.podSelector", err.Error()))
	}
	n, inNS := 0, 0
	for _, w := range inv.Workloads {
		if w.Namespace != np.Object.Namespace {
			continue
		}
		inNS++
		if w.SelectedBy(sel) {
			n++
		}
	}
	switch {
	case inNS == 0:
		return res(StatusNotApplicable, subject, "no workload of namespace "+np.Object.Namespace+" is in the input")
	case n > 0:
		return res(StatusPass, subject, fmt.Sprintf("selects %s", plural(n, "workload", "workloads")))
	case p.Spec.PodSelector.MatchLabels[acmeSolverLabel] == "true":
		// cert-manager creates its HTTP-01 solver pods only while a
		// challenge is open (pkg/issuer/acme/http pod.go), so no manifest
		// carries them; the policy is for those.
		return res(StatusNotApplicable, subject, "selects cert-manager's HTTP-01 solver pods ("+acmeSolverLabel+"), which exist only while a challenge is open")
	}
	msg := fmt.Sprintf("podSelector %s matches none of the %s of namespace %s: the policy does nothing", selectorString(&p.Spec.PodSelector),
		plural(inNS, "workload", "workloads"), np.Object.Namespace)
	if selectorKeys(&p.Spec.PodSelector)["dapr.io/enabled"] {
		msg += `; dapr.io/enabled is a pod annotation, not a label: the injector labels pods dapr.io/sidecar-injected: "true" and dapr.io/app-id`
	}
	return res(StatusFail, subject, msg, ObjectEvidence(np.Object, "spec.podSelector", selectorString(&p.Spec.PodSelector)))
}

func selectorString(s *metav1.LabelSelector) string {
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return "(invalid)"
	}
	if sel.Empty() {
		return "{} (all pods)"
	}
	return sel.String()
}

func selectorKeys(s *metav1.LabelSelector) map[string]bool {
	out := map[string]bool{}
	for k := range s.MatchLabels {
		out[k] = true
	}
	for _, e := range s.MatchExpressions {
		out[e.Key] = true
	}
	return out
}

func checkNamespaceSelectors() Check {
	return Check{
		ID: "BUD-3.2-03", Title: "Namespace selectors match labels namespaces carry", Section: "3.2", Severity: SeverityHigh,
		Remediation: "Select namespaces by kubernetes.io/metadata.name, which the API server sets on every namespace; `budnet generate` does. A hand-made label such as name: bud-infra matches nothing unless someone adds it.",
		Doc:         docOf("BUD-3.2-03"),
		Run: func(c *Context) []Result {
			var out []Result
			for _, np := range c.Inventory.NetworkPolicies {
				out = append(out, namespaceSelectorResults(c.Inventory, np)...)
			}
			return out
		},
	}
}

func namespaceSelectorResults(inv *manifest.Inventory, np *manifest.NetworkPolicy) []Result {
	var out []Result
	judge := func(field string, peer networkingv1.NetworkPolicyPeer) {
		s := peer.NamespaceSelector
		if s == nil || (len(s.MatchLabels) == 0 && len(s.MatchExpressions) == 0) {
			return
		}
		subject := np.Object.Ref() + " " + field
		sel, err := metav1.LabelSelectorAsSelector(s)
		if err != nil {
			out = append(out, res(StatusFail, subject, "invalid namespaceSelector: "+err.Error(), ObjectEvidence(np.Object, field, err.Error())))
			return
		}
		var matched []string
		for _, ns := range inv.Namespaces {
			if sel.Matches(labels.Set(ns.Labels)) {
				matched = append(matched, ns.Name)
			}
		}
		if len(matched) > 0 {
			out = append(out, res(StatusPass, subject, "matches namespace "+strings.Join(matched, ", ")))
			return
		}
		if name, only := onlyNameLabel(s); only {
			out = append(out, res(StatusNotApplicable, subject, "selects namespace "+name+" by its automatic name label; it is not in the input"))
			return
		}
		msg := fmt.Sprintf("namespaceSelector %s matches no namespace: the peer allows nothing", sel.String())
		if _, ok := s.MatchLabels["name"]; ok {
			msg += "; the label the API server sets is kubernetes.io/metadata.name, not name"
		}
		out = append(out, res(StatusFail, subject, msg, ObjectEvidence(np.Object, field+".namespaceSelector", sel.String())))
	}
	for i, r := range np.Policy.Spec.Ingress {
		for j, p := range r.From {
			judge(fmt.Sprintf("spec.ingress[%d].from[%d]", i, j), p)
		}
	}
	for i, r := range np.Policy.Spec.Egress {
		for j, p := range r.To {
			judge(fmt.Sprintf("spec.egress[%d].to[%d]", i, j), p)
		}
	}
	return out
}

func onlyNameLabel(s *metav1.LabelSelector) (string, bool) {
	if len(s.MatchExpressions) > 0 || len(s.MatchLabels) != 1 {
		return "", false
	}
	v, ok := s.MatchLabels[manifest.NamespaceNameLabel]
	return v, ok
}

func checkDNSReachable() Check {
	return Check{
		ID: "BUD-3.2-04", Title: "Pods with isolated egress can reach the cluster DNS", Section: "3.2", Severity: SeverityHigh,
		Remediation: "Allow egress to the cluster DNS pods (kube-system, k8s-app: kube-dns) on UDP and TCP 53 in every zone; `budnet generate` emits an allow-dns policy per zone next to the default deny.",
		Doc:         docOf("BUD-3.2-04"),
		Run: func(c *Context) []Result {
			pr, err := newProbe(c)
			if err != nil {
				return []Result{res(StatusFail, "policies", err.Error())}
			}
			_, _, ports := dnsOf(c.Platform)
			var out []Result
			for _, w := range c.Reach().Input.Workloads {
				self := netpol.PodPeer(w.Pod)
				if !pr.eng.Evaluate(self, netpol.PodPeer(pr.outside), corev1.ProtocolTCP, 1).Egress.Isolated {
					continue
				}
				out = append(out, dnsResult(pr, w.Name, self, ports))
			}
			return out
		},
	}
}

func dnsResult(pr *probe, name string, self netpol.Peer, ports []platform.Port) Result {
	var blocked, pols []string
	for _, pt := range ports {
		ok := false
		var v netpol.Verdict
		for _, d := range pr.dns {
			v = pr.eng.Evaluate(self, netpol.PodPeer(d), protocolOf(pt.Protocol), pt.Port)
			if v.Allowed {
				ok = true
				break
			}
		}
		if !ok {
			blocked = append(blocked, fmt.Sprintf("%s/%d", protocolOf(pt.Protocol), pt.Port))
			pols = append(pols, policyStrings(v.Egress.Isolating)...)
			pols = append(pols, policyStrings(v.Ingress.Isolating)...)
		}
	}
	if len(blocked) == 0 {
		return res(StatusPass, name, "reaches the cluster DNS on every DNS port")
	}
	sort.Strings(pols)
	return res(StatusFail, name, fmt.Sprintf("%s cannot reach the cluster DNS on %s: name lookups fail", name, strings.Join(blocked, ", ")),
		Evidence{Connection: name + " => cluster DNS : " + strings.Join(blocked, ", "), Policies: pols, Detail: "denied"})
}
