package report

import (
	"strings"

	"github.com/budnet/budnet/internal/audit"
)

type htmlChecklistGroup struct {
	ID, Title string
	Items     []htmlChecklistItem
}

// htmlChecklistItem is one section 11 box. State is pass, fail, partial or
// not-judged: fail when every deciding finding fails outright, partial when
// some pass or the failures are partial.
type htmlChecklistItem struct {
	Text, State, Why, Note string
	Checks                 []htmlLink
	Failing                []htmlLink
	FailingOmitted         int
}

type htmlLink struct {
	Anchor, Text string
}

type htmlSection struct {
	ID, Title string
	Checks    []htmlCheck
}

type htmlCheck struct {
	ID, Anchor, Title, Severity, Remediation string
	Pass, Fail, Partial, NA                  int
	Findings                                 []htmlFinding
	Omitted                                  int
}

type htmlFinding struct {
	Anchor, Key, CheckID, Subject, Status, Message string
	Suppressed                                     bool
	Reason                                         string
	Evidence                                       []htmlEvidence
	// Members is set for a cause shared by several findings (GroupFindings):
	// the row shows the count and FirstSubjects, and every member keeps its
	// own anchor in a list under it.
	Members       []htmlMember
	Count         int
	FirstSubjects string
}

// htmlMember is one finding of a grouped cause.
type htmlMember struct {
	Anchor, Key, Subject string
}

type htmlEvidence struct {
	Location, Object, Field, Connection, Detail string
	Policies                                    []string
}

func checkAnchor(id string) string { return "check-" + id }

// findingAnchor names a finding by its index in the report: subjects hold
// spaces and arrows, which make poor fragment identifiers.
func findingAnchor(i int) string { return "f" + itoa(i) }

// findingIndex maps check and subject, which identify a finding (suppressions
// key on them too), to the finding's index in the report.
func findingIndex(r *audit.Report) map[pairKey]int {
	m := make(map[pairKey]int, len(r.Findings))
	for i, f := range r.Findings {
		m[pairKey{f.CheckID, f.Subject}] = i
	}
	return m
}

func htmlChecklist(r *audit.Report) []htmlChecklistGroup {
	var out []htmlChecklistGroup
	index := findingIndex(r)
	for _, st := range audit.EvaluateChecklist(r) {
		if len(out) == 0 || out[len(out)-1].ID != st.Item.Group {
			out = append(out, htmlChecklistGroup{ID: st.Item.Group, Title: audit.ChecklistGroupTitle(st.Item.Group)})
		}
		it := htmlChecklistItem{Text: strings.ReplaceAll(st.Item.Text, "**", ""), Note: st.Item.Note}
		for _, id := range st.Checks {
			it.Checks = append(it.Checks, htmlLink{Anchor: checkAnchor(id), Text: id})
		}
		switch {
		case len(st.Checks) == 0:
			it.State, it.Why = "not-judged", "no check decides it"
		case !st.Judged:
			it.State, it.Why = "not-judged", "the deciding checks found nothing to judge in these inputs"
		case st.Ticked:
			it.State, it.Why = "pass", plural(len(st.Passing), "1 passing finding", itoa(len(st.Passing))+" passing findings")
		default:
			it.State = "fail"
			if len(st.Passing) > 0 || !allFail(st.Failing) {
				it.State = "partial"
			}
			it.Why = itoa(len(st.Failing)) + " failing, " + itoa(len(st.Passing)) + " passing"
		}
		groups := GroupFindings(st.Failing, 0)
		for i, g := range groups {
			if i == maxChecklistEvidence {
				for _, g := range groups[i:] {
					it.FailingOmitted += len(g.Findings)
				}
				break
			}
			f := g.First()
			text := f.CheckID + " " + f.Subject
			if len(g.Findings) > 1 {
				text = f.CheckID + " (" + itoa(len(g.Findings)) + " findings) " + f.Message
			}
			it.Failing = append(it.Failing, htmlLink{Anchor: findingAnchor(index[pairKey{f.CheckID, f.Subject}]), Text: text})
		}
		out[len(out)-1].Items = append(out[len(out)-1].Items, it)
	}
	return out
}

func allFail(fs []audit.Finding) bool {
	for _, f := range fs {
		if f.Status != audit.StatusFail {
			return false
		}
	}
	return true
}

// htmlSections groups the (already sorted) findings by guide section, then
// by check, keeping at most limit findings per check and failing ones first.
func htmlSections(r *audit.Report, limit int) []htmlSection {
	var out []htmlSection
	for i := 0; i < len(r.Findings); {
		j := i
		for j < len(r.Findings) && r.Findings[j].CheckID == r.Findings[i].CheckID {
			j++
		}
		f0 := r.Findings[i]
		if len(out) == 0 || out[len(out)-1].ID != f0.Section {
			out = append(out, htmlSection{ID: f0.Section, Title: SectionTitle(f0.Section)})
		}
		out[len(out)-1].Checks = append(out[len(out)-1].Checks, htmlCheckOf(r.Findings[i:j], i, limit))
		i = j
	}
	return out
}

// htmlCheckOf renders one check's findings, fs, which start at index first
// of the report.
func htmlCheckOf(fs []audit.Finding, first, limit int) htmlCheck {
	f0 := fs[0]
	c := htmlCheck{ID: f0.CheckID, Anchor: checkAnchor(f0.CheckID), Title: f0.Title, Severity: f0.Severity.String(), Remediation: f0.Remediation}
	for _, f := range fs {
		switch f.Status {
		case audit.StatusPass:
			c.Pass++
		case audit.StatusFail:
			c.Fail++
		case audit.StatusPartial:
			c.Partial++
		default:
			c.NA++
		}
	}
	// Failing findings are what a reader acts on, so they go first and are
	// the last to be cut by the cap. Findings that share a cause are one row.
	var failing, other []audit.Finding
	var failingAt, otherAt []int
	for k, f := range fs {
		if f.Status.Failing() {
			failing, failingAt = append(failing, f), append(failingAt, first+k)
		} else {
			other, otherAt = append(other, f), append(otherAt, first+k)
		}
	}
	// The cap counts rows, so one large cause cannot crowd out the others;
	// a cause lists at most as many of its members as the cap.
	rows := 0
	for _, part := range []struct {
		fs []audit.Finding
		at []int
	}{{failing, failingAt}, {other, otherAt}} {
		for _, g := range groupAt(part.fs, part.at) {
			if rows == limit {
				c.Omitted += len(g.Findings)
				continue
			}
			rows++
			hf := htmlGroupOf(g)
			if len(hf.Members) > limit {
				c.Omitted += len(hf.Members) - limit
				hf.Members = hf.Members[:limit]
			}
			c.Findings = append(c.Findings, hf)
		}
	}
	return c
}

// groupAt groups fs, whose report indexes are at.
func groupAt(fs []audit.Finding, at []int) []FindingGroup {
	gs := GroupFindings(fs, 0)
	for i := range gs {
		for k, local := range gs[i].Index {
			gs[i].Index[k] = at[local]
		}
	}
	return gs
}

// htmlGroupOf renders a cause: a lone finding as itself, a shared cause as
// one row with its members listed under it.
func htmlGroupOf(g FindingGroup) htmlFinding {
	if len(g.Findings) == 1 {
		return htmlFindingOf(g.First(), g.Index[0])
	}
	f := g.First()
	hf := htmlFinding{CheckID: f.CheckID, Status: string(f.Status), Message: f.Message, Suppressed: f.Suppressed,
		Reason: f.SuppressionReason, Count: len(g.Findings), FirstSubjects: groupSubjectsText(g, func(s string) string { return s })}
	for k, m := range g.Findings {
		hf.Members = append(hf.Members, htmlMember{Anchor: findingAnchor(g.Index[k]), Key: m.CheckID + " " + m.Subject, Subject: m.Subject})
	}
	return hf
}

func htmlFindingOf(f audit.Finding, i int) htmlFinding {
	hf := htmlFinding{Anchor: findingAnchor(i), Key: f.CheckID + " " + f.Subject, CheckID: f.CheckID, Subject: f.Subject,
		Status: string(f.Status), Message: f.Message, Suppressed: f.Suppressed, Reason: f.SuppressionReason}
	for _, e := range f.Evidence {
		hf.Evidence = append(hf.Evidence, htmlEvidence{Location: EvidenceLocation(e), Object: e.Object, Field: e.Field,
			Connection: e.Connection, Detail: e.Detail, Policies: e.Policies})
	}
	return hf
}
