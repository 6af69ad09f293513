// Package testenv is the one place that decides what a test does when the
// machine lacks something it needs (a server, a browser, a harness binary,
// root): skip on a developer's laptop, fail under CI=true, where a skipped
// integration test would let CI pass without running it.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"
)

// CI reports whether the tests run under CI (CI=true), where nothing they
// need may be missing and the differential tests run their full counts.
func CI() bool { return os.Getenv("CI") == "true" }

// Missing stops tb because something it needs is missing: a skip, or under
// CI=true a failure. The message says what is missing and how to get it.
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if CI() {
		tb.Fatalf("%s (CI=true forbids skipping)", msg)
	}
	tb.Skip(msg)
}

// Chromium returns the path of a Chromium binary (Debian's chromium), or
// stops tb through Missing.
func Chromium(tb testing.TB) string {
	tb.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	Missing(tb, "chromium not found: apt-get install -y chromium to run the browser tests")
	return ""
}

// WaitFor polls cond every 20 ms until it holds, failing tb once within has
// passed or the test's context has ended: the tests against real servers
// assert that something converges, never how fast.
func WaitFor(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tb.Context().Done():
			tb.Fatalf("never: %s (test ended)", what)
		case <-timer.C:
			tb.Fatalf("never: %s (waited %v)", what, within)
		case <-tick.C:
		}
	}
}
