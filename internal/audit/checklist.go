package audit

import (
	"slices"
	"strings"
)

// ChecklistItem is one box of the guide's section 11 hardening checklist and
// the checks whose findings decide it.
type ChecklistItem struct {
	// Group is the subsection the guide lists the item under ("11.1").
	Group string
	// Text is the item as the guide writes it.
	Text string
	// IDs are checks that decide the item.
	IDs []string
	// Sections decide the item through every check of these guide sections
	// ("6" matches 6 and 6.x), so checks added later join their item.
	Sections []string
	// Note says what Kubernetes objects cannot prove about the item.
	Note string
}

// ChecklistGroups are the subsections of guide section 11, in order.
var checklistGroups = [...]struct{ ID, Title string }{
	{"11.1", "Implemented"},
	{"11.2", "Partially Implemented"},
	{"11.3", "Not Implemented (Production Hardening Required)"},
}

// ChecklistGroupTitle returns the guide's title of a section 11 subsection.
func ChecklistGroupTitle(group string) string {
	for _, g := range checklistGroups {
		if g.ID == group {
			return g.Title
		}
	}
	return group
}

// Checklist returns the guide's section 11 items, in the guide's order, each
// mapped to the checks that decide it. The guide's own ticks are not kept:
// the audit computes them.
func Checklist() []ChecklistItem {
	return []ChecklistItem{
		{Group: "11.1", Text: "TLS 1.2+ for external connections (ingress-level)",
			IDs: []string{"BUD-4.1-03", "BUD-6.2-01"}},
		{Group: "11.1", Text: "Namespace isolation (logical separation)",
			Sections: []string{"3.1"}},
		{Group: "11.1", Text: "Dapr sidecar injection",
			IDs:  []string{"BUD-3.2-05"},
			Note: "judged through the pods the injector patches (dapr.io/enabled) and the ports their sidecars need"},
		{Group: "11.2", Text: "mTLS for service-to-service (Dapr CRD exists, verify configuration)",
			IDs: []string{"BUD-5-01", "BUD-5-02"}},
		{Group: "11.2", Text: "Database TLS (connection strings support TLS, verify server configuration)",
			IDs: []string{"BUD-5-03"}, Sections: []string{"6.3"}},
		{Group: "11.2", Text: "Security headers on ingress (requires ingress annotation configuration)",
			IDs: []string{"BUD-7-01", "BUD-7-02", "BUD-7-06"}},
		{Group: "11.3", Text: "Network policies (default deny) - **CRITICAL for production** (SEC-005)",
			IDs: []string{"BUD-3.2-01"}},
		{Group: "11.3", Text: "Web Application Firewall (WAF)",
			IDs: []string{"BUD-7-05"}},
		{Group: "11.3", Text: "DDoS protection (cloud provider)",
			IDs:  []string{"BUD-7-03", "BUD-7-04"},
			Note: "cloud DDoS protection is outside the cluster; only the edge's rate and size limits are judged"},
		{Group: "11.3", Text: "IP allowlisting for admin access",
			IDs: []string{"BUD-4.1-02", "BUD-4.1-04"}},
		{Group: "11.3", Text: "Egress allowlist (explicit destinations)",
			IDs: []string{"BUD-4.3-01", "BUD-8.2-01"}},
		{Group: "11.3", Text: "Network segmentation at cloud VPC level",
			Note: "cloud VPC segmentation is not visible in Kubernetes objects"},
	}
}

// Decides reports whether the check decides the item.
func (it ChecklistItem) Decides(c Check) bool {
	if slices.Contains(it.IDs, c.ID) {
		return true
	}
	for _, s := range it.Sections {
		if c.Section == s || strings.HasPrefix(c.Section, s+".") {
			return true
		}
	}
	return false
}

// ChecklistState is a checklist item judged from an audit's findings.
type ChecklistState struct {
	Item ChecklistItem
	// Checks are the IDs of the registered checks that decide the item.
	Checks []string
	// Ticked is true when deciding checks produced findings and none of them
	// fails, suppressed or not: an accepted gap is still a gap.
	Ticked bool
	// Judged is false when no deciding check produced a finding.
	Judged bool
	// Failing are the deciding findings that fail or partly fail; Passing
	// the rest. Both in report order.
	Failing, Passing []Finding
}

// EvaluateChecklist judges every checklist item from the report.
func EvaluateChecklist(r *Report) []ChecklistState {
	items := Checklist()
	out := make([]ChecklistState, 0, len(items))
	for _, it := range items {
		st := ChecklistState{Item: it}
		deciding := map[string]bool{}
		for _, c := range r.Checks {
			if it.Decides(c) {
				deciding[c.ID] = true
				st.Checks = append(st.Checks, c.ID)
			}
		}
		for _, f := range r.Findings {
			if !deciding[f.CheckID] || f.Status == StatusNotApplicable {
				continue
			}
			if f.Status.Failing() {
				st.Failing = append(st.Failing, f)
			} else {
				st.Passing = append(st.Passing, f)
			}
		}
		st.Judged = len(st.Failing)+len(st.Passing) > 0
		st.Ticked = st.Judged && len(st.Failing) == 0
		out = append(out, st)
	}
	return out
}
