package testserver

import (
	"fmt"
	"testing"
)

// recorder is a testing.TB that records Fatalf and Skipf instead of stopping.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Fatalf(format string, args ...any) { r.fatal = fmt.Sprintf(format, args...) }
func (r *recorder) Skipf(format string, args ...any)  { r.skip = fmt.Sprintf(format, args...) }

func TestRequireBinary(t *testing.T) {
	tests := []struct {
		name      string
		ci        string
		path      string
		wantFatal bool
		wantSkip  bool
	}{
		{name: "missing under CI fails", ci: "true", path: "/nonexistent/budnet-server", wantFatal: true},
		{name: "missing on a laptop skips", ci: "", path: "/nonexistent/budnet-server", wantSkip: true},
		{name: "present", ci: "true", path: "/bin/sh"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			r := &recorder{TB: t}
			RequireBinary(r, tc.path, "some-package")
			if (r.fatal != "") != tc.wantFatal || (r.skip != "") != tc.wantSkip {
				t.Errorf("fatal %q, skip %q; want fatal %v, skip %v", r.fatal, r.skip, tc.wantFatal, tc.wantSkip)
			}
		})
	}
}
