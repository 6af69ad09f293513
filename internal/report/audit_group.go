package report

import (
	"strings"

	"github.com/budnet/budnet/internal/audit"
)

// groupSubjects is how many subjects a grouped line names before "and N more".
const groupSubjects = 3

// FindingGroup is findings of one check that share a status, a message and
// a suppression: one cause. No default deny in a namespace, for example,
// makes hundreds of BUD-4.2-01 findings that all say "allowed but not
// intended on all ports"; the human reports print such a cause once, with
// the count and the first subjects. JSON and SARIF keep every finding.
type FindingGroup struct {
	// Findings are the group's members in report order; Findings[0] stands
	// for the group.
	Findings []audit.Finding
	// Index is the report index of each member, for anchors.
	Index []int
}

// First is the finding that stands for the group.
func (g FindingGroup) First() audit.Finding { return g.Findings[0] }

// Subjects names the first n subjects and how many more there are.
func (g FindingGroup) Subjects(n int) (first []string, more int) {
	for i, f := range g.Findings {
		if i == n {
			return first, len(g.Findings) - n
		}
		first = append(first, f.Subject)
	}
	return first, 0
}

type groupKey struct {
	check      string
	status     audit.Status
	message    string
	suppressed bool
	reason     string
	baselined  bool
	expired    string
}

// GroupFindings groups findings by check and cause, in the order each
// cause first appears. start is the report index of fs[0].
func GroupFindings(fs []audit.Finding, start int) []FindingGroup {
	var out []FindingGroup
	at := map[groupKey]int{}
	for i, f := range fs {
		k := groupKey{f.CheckID, f.Status, f.Message, f.Suppressed, f.SuppressionReason, f.Baselined, f.SuppressionExpired}
		j, ok := at[k]
		if !ok {
			j = len(out)
			at[k] = j
			out = append(out, FindingGroup{})
		}
		out[j].Findings = append(out[j].Findings, f)
		out[j].Index = append(out[j].Index, start+i)
	}
	return out
}

// groupSubjectsText names a group's first subjects, each through quote,
// and how many more there are.
func groupSubjectsText(g FindingGroup, quote func(string) string) string {
	first, more := g.Subjects(groupSubjects)
	for i, s := range first {
		first[i] = quote(s)
	}
	text := strings.Join(first, ", ")
	if more > 0 {
		text += ", and " + itoa(more) + " more"
	}
	return text
}
