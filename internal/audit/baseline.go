package audit

// FindingKey is a finding's identity from one run of audit to the next, which
// baselines (audit --baseline) and `budnet diff` compare findings by: the
// check, the subject it judged, and the object its evidence names first.
// Messages, evidence lines and file names are left out on purpose: a message
// is reworded between releases and a line moves when a file is edited above
// it, and neither makes a finding new. Severity and status are left out too:
// a check raised from medium to high, or a fail become partial, is still the
// same gap.
type FindingKey struct {
	Check   string `json:"checkId"`
	Subject string `json:"subject"`
	Object  string `json:"object,omitempty"`
}

// KeyOf is f's identity.
func KeyOf(f *Finding) FindingKey {
	k := FindingKey{Check: f.CheckID, Subject: f.Subject}
	for _, e := range f.Evidence {
		if e.Object != "" {
			k.Object = e.Object
			break
		}
	}
	return k
}

// CompareFindings compares the findings of two runs. Added are the findings
// of head that fail, unsuppressed, with no failing unsuppressed finding of
// the same key in base; fixed are the failing unsuppressed findings of base
// that no failing finding of head (suppressed or not: an accepted gap is not
// fixed) has the key of. Keys are counted, so a second finding of one key is
// new. A finding whose suppression expired is unsuppressed, so it is new
// against a baseline taken while it was suppressed.
func CompareFindings(base, head []Finding) (added, fixed []Finding) {
	known := map[FindingKey]int{}
	for i := range base {
		if base[i].Status.Failing() && !base[i].Suppressed {
			known[KeyOf(&base[i])]++
		}
	}
	failing := map[FindingKey]int{}
	for i := range head {
		f := &head[i]
		if !f.Status.Failing() {
			continue
		}
		k := KeyOf(f)
		failing[k]++
		if f.Suppressed {
			continue
		}
		if known[k] > 0 {
			known[k]--
			continue
		}
		added = append(added, *f)
	}
	for i := range base {
		f := &base[i]
		if !f.Status.Failing() || f.Suppressed {
			continue
		}
		k := KeyOf(f)
		if failing[k] > 0 {
			failing[k]--
			continue
		}
		fixed = append(fixed, *f)
	}
	return added, fixed
}

// BaselineResult is what audit --baseline adds to a report.
type BaselineResult struct {
	// File names the baseline read.
	File string
	// New counts the failing findings not in the baseline (they fail the
	// run); Known the failing ones that are (marked Baselined).
	New, Known int
	// Fixed are the baseline's failing findings that no longer fail.
	Fixed []Finding
}

// ApplyBaseline marks the findings of r that were already failing in base
// (the findings of an earlier `audit -o json`) as Baselined, so that only new
// ones count against --fail-on, lists the baseline's findings that no longer
// fail, and recomputes the summary.
func ApplyBaseline(r *Report, file string, base []Finding) {
	_, fixed := CompareFindings(base, r.Findings)
	known := map[FindingKey]int{}
	for i := range base {
		if base[i].Status.Failing() && !base[i].Suppressed {
			known[KeyOf(&base[i])]++
		}
	}
	res := &BaselineResult{File: file, Fixed: fixed}
	for i := range r.Findings {
		f := &r.Findings[i]
		if !f.Status.Failing() || f.Suppressed {
			continue
		}
		// As CompareFindings counts: the first findings of a key take the
		// baseline's, any more are new.
		if k := KeyOf(f); known[k] > 0 {
			known[k]--
			f.Baselined = true
			res.Known++
			continue
		}
		res.New++
	}
	SortFindings(res.Fixed)
	r.Baseline = res
	r.Summary = Summarize(len(r.Checks), r.Findings)
}
