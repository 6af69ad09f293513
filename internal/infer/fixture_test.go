package infer

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/manifest"
)

// TestFixturePrecisionRecall infers over testdata/bud and compares the flows
// with those written down by hand first (expected-flows.txt).
func TestFixturePrecisionRecall(t *testing.T) {
	inv, err := manifest.Load(context.Background(), []string{"testdata/bud"}, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, p := inferValid(t, inv)
	got := tuples(p)
	want := readExpected(t, "testdata/bud/expected-flows.txt")
	tp := 0
	for _, g := range got {
		if slices.Contains(want, g) {
			tp++
		} else {
			t.Errorf("inferred but not expected: %s", g)
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("expected but not inferred: %s", w)
		}
	}
	t.Logf("flows: inferred %d, expected %d, true positives %d: precision %.3f, recall %.3f",
		len(got), len(want), tp, float64(tp)/float64(len(got)), float64(tp)/float64(len(want)))
	// Passwords in URLs and Secrets never reach the output.
	out, err := res.YAML()
	if err != nil {
		t.Fatal(err)
	}
	js, err := res.JSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"p%40ss", "not-a-real-password", ":pw@", "guest@"} {
		if strings.Contains(string(out), secret) || strings.Contains(string(js), secret) {
			t.Errorf("output contains the secret %q", secret)
		}
	}
	wantUnresolved := []string{"bud-otel-collector", "budeval", "rabbitmq", "only at runtime", "not base64"}
	if len(res.Unresolved) != len(wantUnresolved) {
		t.Errorf("unresolved: got %d, want %d: %v", len(res.Unresolved), len(wantUnresolved), res.Unresolved)
	}
	for _, w := range wantUnresolved {
		if !slices.ContainsFunc(res.Unresolved, func(u Unresolved) bool { return contains(u.String(), w) }) {
			t.Errorf("no unresolved item mentions %q: %v", w, res.Unresolved)
		}
	}
}
