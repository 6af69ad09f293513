package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/budnet/budnet/internal/audit"
)

// JUnit XML as CI systems read it (the Ant/Surefire schema, as Jenkins,
// GitLab and GitHub test reporters accept it): one testsuite per check, one
// testcase per check and subject.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// WriteAuditJUnit writes JUnit XML: a testsuite per check (checks without
// findings have an empty suite), a testcase per finding named by its
// subject; failing findings are failures, not-applicable and suppressed
// ones are skipped with the reason.
func WriteAuditJUnit(w io.Writer, r *audit.Report) error {
	suites := junitSuites{Name: "budnet audit"}
	byCheck := map[string][]audit.Finding{}
	for _, f := range r.Findings {
		byCheck[f.CheckID] = append(byCheck[f.CheckID], f)
	}
	for _, c := range r.Checks {
		s := junitSuite{Name: c.ID + " " + c.Title, Cases: []junitCase{}}
		for _, f := range byCheck[c.ID] {
			tc := junitCaseOf(f)
			s.Tests++
			switch {
			case tc.Failure != nil:
				s.Failures++
			case tc.Skipped != nil:
				s.Skipped++
			}
			s.Cases = append(s.Cases, tc)
		}
		suites.Tests += s.Tests
		suites.Failures += s.Failures
		suites.Skipped += s.Skipped
		suites.Suites = append(suites.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("writing JUnit: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(suites); err != nil {
		return fmt.Errorf("writing JUnit: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("writing JUnit: %w", err)
	}
	return nil
}

func junitCaseOf(f audit.Finding) junitCase {
	tc := junitCase{Name: f.Subject, Classname: f.CheckID}
	var ev []string
	for _, e := range f.Evidence {
		ev = append(ev, EvidenceText(e))
	}
	detail := strings.Join(ev, "\n")
	switch {
	case f.Suppressed:
		tc.Skipped = &junitSkipped{Message: "suppressed " + string(f.Status) + ": " + f.SuppressionReason}
		tc.SystemOut = f.Message
	case f.Baselined:
		tc.Skipped = &junitSkipped{Message: "known " + string(f.Status) + ": in the baseline"}
		tc.SystemOut = f.Message
	case f.Status.Failing():
		text := detail
		if f.Remediation != "" {
			text = strings.TrimSpace(text + "\nfix: " + f.Remediation)
		}
		tc.Failure = &junitFailure{Message: f.Message, Type: string(f.Status) + "/" + f.Severity.String(), Text: text}
	case f.Status == audit.StatusNotApplicable:
		tc.Skipped = &junitSkipped{Message: "not applicable: " + f.Message}
	default:
		tc.SystemOut = f.Message
	}
	return tc
}
