package audit

import (
	"slices"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
)

// runFixture has an annotated object (two entries, one without a reason) and
// a plain one, for the suppression tests.
const runFixture = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: budapp
  namespace: bud
  annotations:
    budnet.io/ignore: |
      BUD-9.9-01: staging only, tracked in SEC-12
      BUD-9.9-02
spec:
  selector: {matchLabels: {app: budapp}}
  template:
    metadata: {labels: {app: budapp}}
    spec: {containers: [{name: app, image: budapp}]}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: bud
  annotations:
    budnet.io/ignore: "BUD-9.9-03: accepted; BUD-7.7-99: no such check"
data: {}
`

// fakeCheck reports the given results for every context.
func fakeCheck(id, section string, sev Severity, results ...Result) Check {
	return Check{ID: id, Title: "check " + id, Section: section, Severity: sev, Remediation: "fix " + id,
		Run: func(*Context) []Result { return results }}
}

func objEv(ref string) Evidence { return Evidence{Object: ref} }

func runContext(t *testing.T, ignore ...platform.Suppression) *Context {
	t.Helper()
	inv, err := manifest.LoadBytes("run.yaml", []byte(runFixture), manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := &platform.Platform{Metadata: platform.Metadata{Name: "test"}}
	p.Spec.Ignore = ignore
	return &Context{Inventory: inv, Platform: p, Source: "files"}
}

func TestRunSuppression(t *testing.T) {
	const dep, cm = "bud/budapp[Deployment]", "bud/settings[ConfigMap]"
	checks := []Check{
		fakeCheck("BUD-9.9-01", "9.9", SeverityHigh, Result{Status: StatusFail, Subject: dep, Message: "m"}),
		fakeCheck("BUD-9.9-02", "9.9", SeverityHigh, Result{Status: StatusFail, Subject: dep, Message: "m"}),
		fakeCheck("BUD-9.9-03", "9.9", SeverityCritical,
			Result{Status: StatusPartial, Subject: "bud", Message: "m", Evidence: []Evidence{objEv(cm)}},
			Result{Status: StatusPass, Subject: "other", Message: "m", Evidence: []Evidence{objEv(cm)}}),
		fakeCheck("BUD-9.9-04", "9.9", SeverityMedium,
			Result{Status: StatusFail, Subject: dep, Message: "m"},
			Result{Status: StatusFail, Subject: "bud/other[Deployment]", Message: "m"}),
		fakeCheck("BUD-9.9-05", "9.9", SeverityLow, Result{Status: StatusFail, Subject: "zone x", Message: "m"}),
	}
	ignore := []platform.Suppression{
		{Check: "BUD-9.9-04", Object: "deployment/bud/budapp", Reason: "kind is case-insensitive"},
		{Check: "BUD-9.9-05", Reason: "everywhere"},
		{Check: "BUD-9.9-02", Object: "Deployment/bud/nothing", Reason: "matches nothing"},
		{Check: "BUD-1.1-01", Reason: "not a check"},
	}
	r := Run(runContext(t, ignore...), checks)
	type key struct{ id, subject string }
	got := map[key]Finding{}
	for _, f := range r.Findings {
		got[key{f.CheckID, f.Subject}] = f
	}
	tests := []struct {
		name       string
		id         string
		subject    string
		suppressed bool
		reason     string
	}{
		{name: "annotation on the subject", id: "BUD-9.9-01", subject: dep, suppressed: true, reason: "staging only, tracked in SEC-12"},
		{name: "annotation entry without a reason is not applied", id: "BUD-9.9-02", subject: dep},
		{name: "annotation on the first evidence's object", id: "BUD-9.9-03", subject: "bud", suppressed: true, reason: "accepted"},
		{name: "passing findings are never suppressed", id: "BUD-9.9-03", subject: "other"},
		{name: "platform rule for one object", id: "BUD-9.9-04", subject: dep, suppressed: true, reason: "kind is case-insensitive"},
		{name: "platform rule leaves other objects", id: "BUD-9.9-04", subject: "bud/other[Deployment]"},
		{name: "platform rule without object covers every subject", id: "BUD-9.9-05", subject: "zone x", suppressed: true, reason: "everywhere"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, ok := got[key{tt.id, tt.subject}]
			if !ok {
				t.Fatalf("no finding %s %s", tt.id, tt.subject)
			}
			if f.Suppressed != tt.suppressed || f.SuppressionReason != tt.reason {
				t.Errorf("suppressed = %v (%q), want %v (%q)", f.Suppressed, f.SuppressionReason, tt.suppressed, tt.reason)
			}
			if f.Title != "check "+tt.id || f.Remediation != "fix "+tt.id || f.Section != "9.9" {
				t.Errorf("finding lacks its check's identity: %+v", f)
			}
		})
	}
	wantWarnings := []string{
		`"BUD-9.9-02" has no reason`,
		"names BUD-7.7-99, which is not a check",
		"spec.ignore[2] (BUD-9.9-02) matched no failing finding",
		"spec.ignore[3] names BUD-1.1-01, which is not a check",
	}
	for _, w := range wantWarnings {
		if !slices.ContainsFunc(r.Warnings, func(s string) bool { return strings.Contains(s, w) }) {
			t.Errorf("warnings %q lack %q", r.Warnings, w)
		}
	}
	if !slices.ContainsFunc(r.Warnings, func(s string) bool { return strings.HasPrefix(s, "run.yaml:") }) {
		t.Errorf("annotation warnings %q do not cite the file and line", r.Warnings)
	}
	s := r.Summary
	if s.Checks != 5 || s.Findings != 7 || s.Fail != 5 || s.Partial != 1 || s.Pass != 1 || s.Suppressed != 4 {
		t.Errorf("summary %+v", s)
	}
	if s.FailingBySeverity["high"] != 1 || s.FailingBySeverity["medium"] != 1 || s.FailingBySeverity["critical"] != 0 || s.FailingBySeverity["low"] != 0 {
		t.Errorf("failing by severity %v, want high 1 (9.9-02), medium 1 (9.9-04 other)", s.FailingBySeverity)
	}
}

func TestExitCode(t *testing.T) {
	f := func(sev Severity, st Status, suppressed bool) Finding {
		return Finding{CheckID: "BUD-1-01", Severity: sev, Status: st, Suppressed: suppressed}
	}
	tests := []struct {
		name     string
		findings []Finding
		failOn   Severity
		want     int
	}{
		{name: "no findings", failOn: SeverityLow, want: 0},
		{name: "high fail at --fail-on high", findings: []Finding{f(SeverityHigh, StatusFail, false)}, failOn: SeverityHigh, want: 1},
		{name: "critical fail at --fail-on high", findings: []Finding{f(SeverityCritical, StatusFail, false)}, failOn: SeverityHigh, want: 1},
		{name: "medium fail below --fail-on high", findings: []Finding{f(SeverityMedium, StatusFail, false)}, failOn: SeverityHigh, want: 0},
		{name: "medium fail at --fail-on medium", findings: []Finding{f(SeverityMedium, StatusFail, false)}, failOn: SeverityMedium, want: 1},
		{name: "partial counts", findings: []Finding{f(SeverityHigh, StatusPartial, false)}, failOn: SeverityHigh, want: 1},
		{name: "suppressed does not count", findings: []Finding{f(SeverityCritical, StatusFail, true)}, failOn: SeverityLow, want: 0},
		{name: "pass and not-applicable do not count", findings: []Finding{f(SeverityCritical, StatusPass, false), f(SeverityCritical, StatusNotApplicable, false)}, failOn: SeverityLow, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExitCode(tt.findings, tt.failOn); got != tt.want {
				t.Errorf("ExitCode = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestSortFindings(t *testing.T) {
	fs := []Finding{
		{CheckID: "BUD-10.1-01", Section: "10.1", Subject: "a"},
		{CheckID: "BUD-3.2-02", Section: "3.2", Subject: "b"},
		{CheckID: "BUD-3.2-01", Section: "3.2", Subject: "z"},
		{CheckID: "BUD-3.2-01", Section: "3.2", Subject: "a"},
		{CheckID: "BUD-11-01", Section: "11", Subject: "a"},
		{CheckID: "BUD-4.1-01", Section: "4.1", Subject: "a"},
	}
	SortFindings(fs)
	var got []string
	for _, f := range fs {
		got = append(got, f.CheckID+" "+f.Subject)
	}
	want := []string{"BUD-3.2-01 a", "BUD-3.2-01 z", "BUD-3.2-02 b", "BUD-4.1-01 a", "BUD-10.1-01 a", "BUD-11-01 a"}
	if !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

func TestParseIgnoreAnnotation(t *testing.T) {
	tests := []struct {
		name     string
		value    string
		entries  []IgnoreEntry
		problems int
	}{
		{name: "one", value: "BUD-3.2-01: reason", entries: []IgnoreEntry{{Check: "BUD-3.2-01", Reason: "reason"}}},
		{name: "semicolons and newlines", value: "BUD-3.2-01: a; BUD-4.1-02: b\nBUD-11-01: c: with colon\n",
			entries: []IgnoreEntry{{Check: "BUD-3.2-01", Reason: "a"}, {Check: "BUD-4.1-02", Reason: "b"}, {Check: "BUD-11-01", Reason: "c: with colon"}}},
		{name: "missing reason", value: "BUD-3.2-01", problems: 1},
		{name: "empty reason", value: "BUD-3.2-01:   ", problems: 1},
		{name: "not an ID", value: "SEC-005: because", problems: 1},
		{name: "blank", value: " ;\n ", entries: nil},
		{name: "until after an entry", value: "BUD-3.2-01: a; until: 2027-01-31\nBUD-4.1-02: b",
			entries: []IgnoreEntry{{Check: "BUD-3.2-01", Reason: "a", Until: "2027-01-31", HasUntil: true}, {Check: "BUD-4.1-02", Reason: "b"}}},
		{name: "until read as written, checked later", value: "BUD-3.2-01: a; UNTIL: 31/01/2027",
			entries: []IgnoreEntry{{Check: "BUD-3.2-01", Reason: "a", Until: "31/01/2027", HasUntil: true}}},
		{name: "until alone", value: "until: 2027-01-31", problems: 1},
		{name: "until after a bad entry", value: "BUD-3.2-01; until: 2027-01-31", problems: 2},
		{name: "until twice", value: "BUD-3.2-01: a; until: 2027-01-31; until: 2028-01-31", problems: 1,
			entries: []IgnoreEntry{{Check: "BUD-3.2-01", Reason: "a", Until: "2027-01-31", HasUntil: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries, problems := ParseIgnoreAnnotation(tt.value)
			if !slices.Equal(entries, tt.entries) || len(problems) != tt.problems {
				t.Errorf("got %v %q, want %v and %d problems", entries, problems, tt.entries, tt.problems)
			}
		})
	}
}

func TestParseRef(t *testing.T) {
	tests := []struct {
		name, ref, ns, objName, kind string
		ok                           bool
	}{
		{name: "namespaced", ref: "bud/budapp[Deployment]", ns: "bud", objName: "budapp", kind: "Deployment", ok: true},
		{name: "cluster-scoped", ref: "bud[Namespace]", objName: "bud", kind: "Namespace", ok: true},
		{name: "zone name", ref: "bud-data"},
		{name: "no kind", ref: "bud/x[]"},
		{name: "connection", ref: "bud/a[Deployment] => bud/b[Deployment]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns, n, k, ok := ParseRef(tt.ref)
			if ok != tt.ok || ns != tt.ns || n != tt.objName || k != tt.kind {
				t.Errorf("ParseRef(%q) = %q %q %q %v", tt.ref, ns, n, k, ok)
			}
		})
	}
}

// TestChecklistMapsRegisteredChecks keeps the section 11 mapping in step with
// the registry: every ID it names exists, and every item but those Kubernetes
// objects cannot show is decided by some check.
func TestChecklistMapsRegisteredChecks(t *testing.T) {
	registered := map[string]Check{}
	for _, c := range Checks() {
		registered[c.ID] = c
	}
	for _, it := range Checklist() {
		t.Run(it.Text, func(t *testing.T) {
			for _, id := range it.IDs {
				if _, ok := registered[id]; !ok {
					t.Errorf("names %s, which is not registered", id)
				}
			}
			deciding := 0
			for _, c := range registered {
				if it.Decides(c) {
					deciding++
				}
			}
			if deciding == 0 && it.Note == "" {
				t.Error("no check decides it and no note says why")
			}
		})
	}
}

func TestEvaluateChecklist(t *testing.T) {
	checks := []Check{{ID: "BUD-3.2-01", Section: "3.2"}, {ID: "BUD-3.1-01", Section: "3.1"}, {ID: "BUD-3.1-02", Section: "3.1"}, {ID: "BUD-7-05", Section: "7"}}
	tests := []struct {
		name     string
		findings []Finding
		item     string
		ticked   bool
		judged   bool
	}{
		{name: "all pass ticks", item: "Namespace isolation (logical separation)", ticked: true, judged: true,
			findings: []Finding{{CheckID: "BUD-3.1-01", Status: StatusPass}, {CheckID: "BUD-3.1-02", Status: StatusPass}}},
		{name: "one failing unticks", item: "Namespace isolation (logical separation)", judged: true,
			findings: []Finding{{CheckID: "BUD-3.1-01", Status: StatusPass}, {CheckID: "BUD-3.1-02", Status: StatusPartial}}},
		{name: "suppressed failure still unticks", item: "Web Application Firewall (WAF)", judged: true,
			findings: []Finding{{CheckID: "BUD-7-05", Status: StatusFail, Suppressed: true}}},
		{name: "only not-applicable is not judged", item: "Web Application Firewall (WAF)",
			findings: []Finding{{CheckID: "BUD-7-05", Status: StatusNotApplicable}}},
		{name: "no findings is not judged", item: "Network policies (default deny) - **CRITICAL for production** (SEC-005)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, st := range EvaluateChecklist(&Report{Checks: checks, Findings: tt.findings}) {
				if st.Item.Text != tt.item {
					continue
				}
				if st.Ticked != tt.ticked || st.Judged != tt.judged {
					t.Errorf("ticked %v judged %v, want %v %v", st.Ticked, st.Judged, tt.ticked, tt.judged)
				}
				return
			}
			t.Fatalf("no item %q", tt.item)
		})
	}
}
