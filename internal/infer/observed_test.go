package infer

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/manifest"
)

func observe(t *testing.T, path string, parse func(string, *os.File) ([]Observation, error)) []Observation {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	obs, err := parse(path, f)
	if err != nil {
		t.Fatal(err)
	}
	return obs
}

// TestObserved adds the egress gateway's audit log and a Hubble export to
// the fixtures: what only runtime shows becomes a flow marked with how it
// was seen; replies, attacks and address-only records do not.
func TestObserved(t *testing.T) {
	inv, err := manifest.Load(context.Background(), []string{"testdata/bud"}, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var obs []Observation
	obs = append(obs, observe(t, "testdata/observed/egress-audit.log", func(n string, f *os.File) ([]Observation, error) { return ParseEgressLog(n, f) })...)
	obs = append(obs, observe(t, "testdata/observed/hubble.jsonpb", func(n string, f *os.File) ([]Observation, error) { return ParseHubble(n, f) })...)
	if len(obs) != 7 {
		t.Fatalf("observations: got %d, want 7 (4 gateway requests, 3 Hubble flows that are not replies): %+v", len(obs), obs)
	}
	res, err := Infer(inv, Options{Observed: obs})
	if err != nil {
		t.Fatal(err)
	}
	out, err := res.YAML()
	if err != nil {
		t.Fatal(err)
	}
	_, p := inferValid(t, inv)
	base := tuples(p)
	got := tuplesOf(t, out)
	var added []string
	for _, g := range got {
		if !slices.Contains(base, g) {
			added = append(added, g)
		}
	}
	want := []string{
		"egress budapp hooks.slack.com:443",
		"egress budcluster budimages.azurecr.io:443",
		"egress budgateway api.mistral.ai:443",
		"internal budapp bud-clickhouse http",
	}
	if !slices.Equal(added, want) {
		t.Errorf("added by observation:\n got %q\nwant %q", added, want)
	}
	if !strings.Contains(string(out), "seen 2 time(s) in the egress gateway audit log (first at testdata/observed/egress-audit.log:3)") {
		t.Errorf("mistral flow lacks its evidence:\n%s", out)
	}
	if !slices.ContainsFunc(res.Unresolved, func(u Unresolved) bool {
		return strings.Contains(u.String(), "by address only") && u.Value == "203.0.113.9"
	}) {
		t.Errorf("the address-only Hubble flow is not unresolved: %v", res.Unresolved)
	}
}

func TestObservedBadInput(t *testing.T) {
	if _, err := ParseEgressLog("x.log", strings.NewReader("{\"msg\":\"egress\",\"requested\":\"no-port\"}\n")); err == nil || !strings.Contains(err.Error(), "x.log:1") {
		t.Errorf("want an error naming x.log:1, got %v", err)
	}
	if _, err := ParseHubble("h.json", strings.NewReader("\n{not json\n")); err == nil || !strings.Contains(err.Error(), "h.json:2") {
		t.Errorf("want an error naming h.json:2, got %v", err)
	}
}
