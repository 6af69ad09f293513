package audit

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
)

// IgnoreAnnotation suppresses findings about the object it is set on. Its
// value holds entries "CHECK-ID: reason", separated by ";" or newlines.
const IgnoreAnnotation = "budnet.io/ignore"

// Report is the outcome of an audit, what every output format renders.
type Report struct {
	// Source says what was scanned: "files", "chart", "cluster" or "example".
	Source string
	// Inputs name what was read (files, the chart, the cluster context).
	Inputs []string
	// Platform is the model's metadata.name.
	Platform string
	// Checks are the checks that ran, in registry order (SARIF rules, JUnit suites).
	Checks []Check
	// Findings are sorted by guide section, check ID and subject.
	Findings []Finding
	Summary  Summary
	// Warnings are problems that did not stop the audit: duplicate objects,
	// kinds a cluster would not list, suppressions that are malformed or unused.
	Warnings []string
	// FailOn is the threshold the exit code was computed with.
	FailOn Severity
	// Baseline is set by ApplyBaseline (audit --baseline).
	Baseline *BaselineResult
}

// Summary counts findings. Failing counts only unsuppressed fail and partial
// findings; suppressed findings count under Suppressed and their status.
type Summary struct {
	Checks        int `json:"checks"`
	Findings      int `json:"findings"`
	Pass          int `json:"pass"`
	Fail          int `json:"fail"`
	Partial       int `json:"partial"`
	NotApplicable int `json:"notApplicable"`
	Suppressed    int `json:"suppressed"`
	// Baselined counts failing findings already in the baseline
	// (--baseline); they are not in FailingBySeverity.
	Baselined int `json:"baselined,omitempty"`
	// FailingBySeverity counts unsuppressed fail and partial findings per
	// severity name; every severity is present.
	FailingBySeverity map[string]int `json:"failingBySeverity"`
}

// Run runs every check over c and returns the report: findings carrying
// their check's identity, suppressions applied, sorted, and summarised.
func Run(c *Context, checks []Check) *Report {
	r := &Report{Source: c.Source, Checks: checks}
	if c.Platform != nil {
		r.Platform = c.Platform.Metadata.Name
	}
	if c.Inventory != nil {
		for _, w := range c.Inventory.Warnings {
			r.Warnings = append(r.Warnings, w.String())
		}
	}
	known := make(map[string]bool, len(checks))
	for _, chk := range checks {
		known[chk.ID] = true
		for _, res := range chk.Run(c) {
			r.Findings = append(r.Findings, Finding{
				CheckID: chk.ID, Title: chk.Title, Section: chk.Section, Severity: chk.Severity,
				Status: res.Status, Subject: res.Subject, Message: res.Message,
				Evidence: res.Evidence, Remediation: chk.Remediation,
			})
		}
	}
	sup := newSuppressor(c, known)
	for i := range r.Findings {
		sup.apply(&r.Findings[i])
	}
	r.Warnings = append(r.Warnings, sup.warnings()...)
	SortFindings(r.Findings)
	r.Summary = Summarize(len(checks), r.Findings)
	return r
}

// SortFindings orders findings by guide section (numerically: 3.2 before
// 10.1), check ID, then subject.
func SortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		if c := CompareSections(a.Section, b.Section); c != 0 {
			return c
		}
		if c := strings.Compare(a.CheckID, b.CheckID); c != 0 {
			return c
		}
		return strings.Compare(a.Subject, b.Subject)
	})
}

// CompareSections compares dotted guide section numbers numerically.
func CompareSections(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		an, aerr := strconv.Atoi(as[i])
		bn, berr := strconv.Atoi(bs[i])
		if aerr != nil || berr != nil {
			if c := strings.Compare(as[i], bs[i]); c != 0 {
				return c
			}
			continue
		}
		if an != bn {
			return an - bn
		}
	}
	return len(as) - len(bs)
}

// Summarize counts findings by status, suppression and failing severity.
func Summarize(checks int, fs []Finding) Summary {
	s := Summary{Checks: checks, Findings: len(fs), FailingBySeverity: map[string]int{}}
	for l := SeverityInfo; l <= SeverityCritical; l++ {
		s.FailingBySeverity[l.String()] = 0
	}
	for _, f := range fs {
		switch f.Status {
		case StatusPass:
			s.Pass++
		case StatusFail:
			s.Fail++
		case StatusPartial:
			s.Partial++
		case StatusNotApplicable:
			s.NotApplicable++
		}
		if f.Suppressed {
			s.Suppressed++
			continue
		}
		if f.Baselined {
			s.Baselined++
			continue
		}
		if f.Status.Failing() {
			s.FailingBySeverity[f.Severity.String()]++
		}
	}
	return s
}

// ExitCode is 1 when an unsuppressed finding of severity failOn or above
// fails (or partly fails), else 0. Usage and input errors (2) are the
// command's to report.
func ExitCode(fs []Finding, failOn Severity) int {
	for _, f := range fs {
		if f.Counts() && f.Severity >= failOn {
			return 1
		}
	}
	return 0
}

// ignoreCheckID matches the check IDs suppressions may name, as the platform
// model validates them.
var ignoreCheckID = regexp.MustCompile(`^BUD-[0-9]+(\.[0-9]+)*-[0-9]{2}$`)

// objectRule is one suppression: a check, optionally narrowed to one object.
type objectRule struct {
	check, kind, namespace, name string
	reason                       string
	origin                       string // where it was written, for warnings
	used                         bool
	// until is the last day the rule holds (zero: no expiry); expired is
	// set when it matched a finding after that day.
	until   time.Time
	expired bool
}

// suppressor applies annotation and platform-file suppressions.
type suppressor struct {
	// byObject holds annotation suppressions keyed by the object's ref.
	byObject map[string][]*objectRule
	rules    []*objectRule // from the platform file
	problems []string
	now      time.Time // suppressions' until: dates are judged against it
}

func newSuppressor(c *Context, known map[string]bool) *suppressor {
	s := &suppressor{byObject: map[string][]*objectRule{}, now: c.Now}
	if s.now.IsZero() {
		s.now = time.Now()
	}
	if c.Inventory != nil {
		for _, o := range c.Inventory.Objects {
			s.addAnnotation(o, known)
		}
	}
	if c.Platform != nil {
		for i, ig := range c.Platform.Spec.Ignore {
			s.addPlatformRule(i, ig, known)
		}
	}
	return s
}

func (s *suppressor) addAnnotation(o *manifest.Object, known map[string]bool) {
	if o.Unstructured == nil {
		return
	}
	value, ok := o.Unstructured.GetAnnotations()[IgnoreAnnotation]
	if !ok {
		return
	}
	at := o.At("metadata.annotations[" + IgnoreAnnotation + "]")
	entries, problems := ParseIgnoreAnnotation(value)
	for _, p := range problems {
		s.problems = append(s.problems, fmt.Sprintf("%s: %s annotation on %s: %s", at, IgnoreAnnotation, o.Ref(), p))
	}
	for _, e := range entries {
		if !known[e.Check] {
			s.problems = append(s.problems, fmt.Sprintf("%s: %s annotation on %s names %s, which is not a check", at, IgnoreAnnotation, o.Ref(), e.Check))
			continue
		}
		until, err := untilOf(e.Until, e.HasUntil)
		if err != nil {
			// ValidateSuppressions refuses it (exit 2); never read as no expiry.
			s.problems = append(s.problems, fmt.Sprintf("%s: %s annotation on %s: %s until: %v", at, IgnoreAnnotation, o.Ref(), e.Check, err))
			continue
		}
		ref := o.Ref()
		s.byObject[ref] = append(s.byObject[ref], &objectRule{check: e.Check, reason: e.Reason, origin: at, until: until})
	}
}

func (s *suppressor) addPlatformRule(i int, ig platform.Suppression, known map[string]bool) {
	origin := fmt.Sprintf("platform spec.ignore[%d]", i)
	if !known[ig.Check] {
		s.problems = append(s.problems, fmt.Sprintf("%s names %s, which is not a check", origin, ig.Check))
		return
	}
	until, err := untilOf(ig.Until, ig.Until != "")
	if err != nil {
		s.problems = append(s.problems, fmt.Sprintf("%s.until: %v", origin, err))
		return
	}
	r := &objectRule{check: ig.Check, reason: ig.Reason, origin: origin, until: until}
	if ig.Object != "" {
		parts := strings.Split(ig.Object, "/")
		switch len(parts) {
		case 2:
			r.kind, r.name = parts[0], parts[1]
		case 3:
			r.kind, r.namespace, r.name = parts[0], parts[1], parts[2]
		default:
			s.problems = append(s.problems, fmt.Sprintf("%s: object %q is not kind/namespace/name or kind/name", origin, ig.Object))
			return
		}
	}
	s.rules = append(s.rules, r)
}

// apply marks f suppressed when a rule covers it. Only failing findings are
// suppressed: a suppression accepts a gap, it does not hide passing checks.
func (s *suppressor) apply(f *Finding) {
	if !f.Status.Failing() {
		return
	}
	refs := findingObjects(f)
	for _, ref := range refs {
		for _, r := range s.byObject[ref] {
			if r.check == f.CheckID && s.holds(r, f) {
				return
			}
		}
	}
	for _, r := range s.rules {
		if r.check == f.CheckID && r.matches(refs) && s.holds(r, f) {
			return
		}
	}
}

func (r *objectRule) matches(refs []string) bool {
	if r.kind == "" {
		return true
	}
	for _, ref := range refs {
		ns, name, kind, ok := ParseRef(ref)
		if ok && strings.EqualFold(kind, r.kind) && ns == r.namespace && name == r.name {
			return true
		}
	}
	return false
}

// warnings lists malformed suppressions and platform rules that matched no
// failing finding, so stale suppressions are noticed.
func (s *suppressor) warnings() []string {
	out := slices.Clone(s.problems)
	out = append(out, s.expiredWarnings()...)
	for _, r := range s.rules {
		if !r.used {
			out = append(out, fmt.Sprintf("%s (%s) matched no failing finding", r.origin, r.check))
		}
	}
	return out
}

// findingObjects names the objects a finding is about: its subject, when it
// is an object reference, and the object of its first evidence.
func findingObjects(f *Finding) []string {
	var refs []string
	if _, _, _, ok := ParseRef(f.Subject); ok {
		refs = append(refs, f.Subject)
	}
	for _, e := range f.Evidence {
		if e.Object != "" {
			if e.Object != f.Subject {
				refs = append(refs, e.Object)
			}
			break
		}
	}
	return refs
}

// ParseRef splits an object reference "namespace/name[Kind]" or "name[Kind]"
// (manifest.Object.Ref's form).
func ParseRef(ref string) (namespace, name, kind string, ok bool) {
	open := strings.LastIndexByte(ref, '[')
	if open <= 0 || !strings.HasSuffix(ref, "]") {
		return "", "", "", false
	}
	kind = ref[open+1 : len(ref)-1]
	path := ref[:open]
	if ns, n, found := strings.Cut(path, "/"); found {
		if ns == "" {
			return "", "", "", false
		}
		namespace, name = ns, n
	} else {
		name = path
	}
	if kind == "" || name == "" || strings.Contains(name, "/") {
		return "", "", "", false
	}
	return namespace, name, kind, true
}

// IgnoreEntry is one entry of a budnet.io/ignore annotation.
type IgnoreEntry struct {
	Check, Reason string
	// Until is the entry's expiry day as written ("2027-01-31"), from an
	// "until: DATE" part after it; empty means none. ValidateSuppressions
	// checks it.
	Until string
	// HasUntil says an until: part was written, so that an empty date is
	// refused rather than read as no expiry.
	HasUntil bool
}

// ParseIgnoreAnnotation reads "BUD-3.2-01: reason; BUD-4.1-02: reason"
// (entries separated by ";" or newlines). Entries without a check ID or a
// reason are returned as problems and not applied: like the platform file's
// ignore list, every suppression must say why. A part "until: 2027-01-31"
// gives the entry before it an expiry day ("BUD-3.2-01: reason; until:
// 2027-01-31"); one with no entry before it is a problem.
func ParseIgnoreAnnotation(value string) (entries []IgnoreEntry, problems []string) {
	lastIsEntry := false
	for _, raw := range strings.FieldsFunc(value, func(r rune) bool { return r == ';' || r == '\n' }) {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		if key, date, ok := strings.Cut(raw, ":"); ok && strings.EqualFold(strings.TrimSpace(key), "until") {
			switch {
			case !lastIsEntry:
				problems = append(problems, fmt.Sprintf("%q follows no suppression: write it after one, %q", raw, "BUD-3.2-01: reason; "+raw))
			case entries[len(entries)-1].HasUntil:
				problems = append(problems, fmt.Sprintf("%q: %s already has until: %s", raw, entries[len(entries)-1].Check, entries[len(entries)-1].Until))
			default:
				entries[len(entries)-1].Until, entries[len(entries)-1].HasUntil = strings.TrimSpace(date), true
			}
			continue
		}
		lastIsEntry = false
		id, reason, _ := strings.Cut(raw, ":")
		id, reason = strings.TrimSpace(id), strings.TrimSpace(reason)
		switch {
		case !ignoreCheckID.MatchString(id):
			problems = append(problems, fmt.Sprintf("%q does not start with a check ID such as BUD-3.2-01", raw))
		case reason == "":
			problems = append(problems, fmt.Sprintf("%q has no reason: write %q", raw, id+": why the finding is accepted"))
		default:
			entries = append(entries, IgnoreEntry{Check: id, Reason: reason})
			lastIsEntry = true
		}
	}
	return entries, problems
}
