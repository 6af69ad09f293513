package audit

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/budnet/budnet/internal/diag"
	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
)

// untilFixture suppresses two checks on one object, one until a day.
const untilFixture = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: budapp
  namespace: bud
  annotations:
    budnet.io/ignore: |
      BUD-9.9-01: legacy importer, rewrite due in January
      until: 2027-01-31
      BUD-9.9-02: accepted for good
spec:
  selector: {matchLabels: {app: budapp}}
  template:
    metadata: {labels: {app: budapp}}
    spec: {containers: [{name: app, image: budapp}]}
`

// TestSuppressionUntil judges until: dates against a fixed clock
// (Context.Now), in the annotation and in the model's ignore list: through
// the named day the suppression holds; from the next midnight UTC the
// finding fails again, says which suppression expired, and the report warns.
func TestSuppressionUntil(t *testing.T) {
	const dep = "bud/budapp[Deployment]"
	checks := []Check{
		fakeCheck("BUD-9.9-01", "9.9", SeverityHigh, Result{Status: StatusFail, Subject: dep, Message: "m"}),
		fakeCheck("BUD-9.9-02", "9.9", SeverityHigh, Result{Status: StatusFail, Subject: dep, Message: "m"}),
		fakeCheck("BUD-9.9-03", "9.9", SeverityHigh, Result{Status: StatusFail, Subject: "zone", Message: "m"}),
	}
	ignore := []platform.Suppression{{Check: "BUD-9.9-03", Reason: "waiting on the network team", Until: "2027-01-31"}}
	inv, err := manifest.LoadBytes("until.yaml", []byte(untilFixture), manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		now         string
		wantExpired bool
	}{
		{name: "weeks before", now: "2027-01-02T10:00:00Z"},
		{name: "the last second of the day", now: "2027-01-31T23:59:59Z"},
		{name: "the next midnight UTC", now: "2027-02-01T00:00:00Z", wantExpired: true},
		{name: "a year after", now: "2028-01-31T12:00:00Z", wantExpired: true},
		{name: "earlier in UTC than the local day says", now: "2027-02-01T08:00:00+09:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now, err := time.Parse(time.RFC3339, tt.now)
			if err != nil {
				t.Fatal(err)
			}
			p := &platform.Platform{Metadata: platform.Metadata{Name: "test"}}
			p.Spec.Ignore = ignore
			r := Run(&Context{Inventory: inv, Platform: p, Source: "files", Now: now}, checks)
			for _, f := range r.Findings {
				expiring := f.CheckID != "BUD-9.9-02"
				wantSuppressed := !expiring || !tt.wantExpired
				if f.Suppressed != wantSuppressed {
					t.Errorf("%s: suppressed %v, want %v", f.CheckID, f.Suppressed, wantSuppressed)
				}
				if got := f.SuppressionExpired != ""; got != (expiring && tt.wantExpired) {
					t.Errorf("%s: suppressionExpired %q", f.CheckID, f.SuppressionExpired)
				}
				if expiring && tt.wantExpired && !strings.Contains(f.SuppressionExpired, "expired on 2027-01-31") {
					t.Errorf("%s: %q does not say when it expired", f.CheckID, f.SuppressionExpired)
				}
			}
			expiredWarnings := 0
			for _, w := range r.Warnings {
				if strings.Contains(w, "expired on 2027-01-31") {
					expiredWarnings++
				}
			}
			if want := map[bool]int{true: 2, false: 0}[tt.wantExpired]; expiredWarnings != want {
				t.Errorf("%d expiry warnings, want %d: %q", expiredWarnings, want, r.Warnings)
			}
			if want := map[bool]int{true: 1, false: 0}[tt.wantExpired]; ExitCode(r.Findings, SeverityHigh) != want {
				t.Errorf("exit code %d, want %d", ExitCode(r.Findings, SeverityHigh), want)
			}
			if tt.wantExpired && slices.ContainsFunc(r.Warnings, func(w string) bool { return strings.Contains(w, "matched no failing finding") }) {
				t.Errorf("an expired rule is reported as unused: %q", r.Warnings)
			}
		})
	}
}

// TestValidateSuppressions: a malformed until: date is an input error that
// names the file, the annotation's line and the field, and the suppression is
// not applied (a date misread as none would suppress for ever).
func TestValidateSuppressions(t *testing.T) {
	tests := []struct {
		name, until string
		wantErr     bool
	}{
		{name: "valid", until: "2027-01-31"},
		{name: "day first", until: "31/01/2027", wantErr: true},
		{name: "impossible day", until: "2027-02-30", wantErr: true},
		{name: "with a time", until: "2027-01-31T00:00:00Z", wantErr: true},
		{name: "empty", until: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := strings.Replace(untilFixture, "until: 2027-01-31", "until: "+tt.until, 1)
			inv, err := manifest.LoadBytes("until.yaml", []byte(doc), manifest.Options{})
			if err != nil {
				t.Fatal(err)
			}
			c := &Context{Inventory: inv, Source: "files", Now: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}
			err = ValidateSuppressions(c)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil {
				return
			}
			if !diag.IsInput(err) {
				t.Errorf("%v is not an input error", err)
			}
			if want := "until.yaml:7: metadata.annotations[budnet.io/ignore]: BUD-9.9-01 on bud/budapp[Deployment]: until:"; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q does not start with %q", err, want)
			}
			checks := []Check{fakeCheck("BUD-9.9-01", "9.9", SeverityHigh, Result{Status: StatusFail, Subject: "bud/budapp[Deployment]", Message: "m"})}
			if r := Run(c, checks); r.Findings[0].Suppressed {
				t.Error("a suppression with a malformed until: date was applied")
			}
		})
	}
}
