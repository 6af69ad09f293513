package audit

import (
	"strings"
	"testing"
)

// FuzzParseIgnoreAnnotation: whatever an annotation holds, every entry
// applied names a valid check ID and a reason, and every non-blank segment
// is either applied (an entry, or the until: of the entry before it) or
// reported.
func FuzzParseIgnoreAnnotation(f *testing.F) {
	for _, seed := range []string{
		"BUD-3.2-01: reason",
		"BUD-3.2-01: a; BUD-4.1-02: b\nBUD-11-01: c: d",
		"BUD-3.2-01",
		"BUD-3.2-01:",
		";;\n\n",
		"SEC-005: x",
		"BUD-3.2.1.1-99: deep; BUD--01: bad",
		"  BUD-10.1-01 :  spaced  ",
		"BUD-3.2-01: a; until: 2027-01-31",
		"until: 2027-01-31; BUD-3.2-01: a",
		"BUD-3.2-01: a\nUntil:\nuntil: x",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		entries, problems := ParseIgnoreAnnotation(value)
		untils := 0
		for _, e := range entries {
			if e.HasUntil {
				untils++
			}
			if !ignoreCheckID.MatchString(e.Check) || strings.TrimSpace(e.Reason) == "" {
				t.Fatalf("applied entry %+v from %q", e, value)
			}
		}
		segments := 0
		for _, s := range strings.FieldsFunc(value, func(r rune) bool { return r == ';' || r == '\n' }) {
			if strings.TrimSpace(s) != "" {
				segments++
			}
		}
		if len(entries)+untils+len(problems) != segments {
			t.Fatalf("%d entries and %d problems for %d segments of %q", len(entries), len(problems), segments, value)
		}
	})
}

// FuzzParseRef: a parsed reference renders back to itself.
func FuzzParseRef(f *testing.F) {
	for _, seed := range []string{"bud/budapp[Deployment]", "bud[Namespace]", "a => b", "x/y/z[K]", "[K]", "n[]"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		ns, name, kind, ok := ParseRef(ref)
		if !ok {
			return
		}
		back := name + "[" + kind + "]"
		if ns != "" {
			back = ns + "/" + back
		}
		if back != ref {
			t.Fatalf("ParseRef(%q) = %q %q %q, renders %q", ref, ns, name, kind, back)
		}
	})
}
