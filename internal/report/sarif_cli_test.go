package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"budnet/internal/cli"
	"budnet/internal/report"
)

// TestReferenceSARIFForGitHub runs `budnet audit -f examples/bud-reference
// -o sarif` from the repository root, as a CI job would, and checks the log
// as GitHub code scanning would: every one of its results has a physical
// location, relative to the checkout.
func TestReferenceSARIFForGitHub(t *testing.T) {
	sch := report.CompileSARIFSchema(t)
	t.Chdir("../..")
	var out, errOut bytes.Buffer
	code := cli.Execute(context.Background(), []string{"audit", "-f", "examples/bud-reference", "-o", "sarif"},
		cli.Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	if code != cli.ExitFindings {
		t.Fatalf("exit %d, want %d (the reference install has findings)\n%s", code, cli.ExitFindings, errOut.String())
	}
	for _, p := range report.ValidateSARIFForGitHub(t, sch, out.Bytes()) {
		t.Error(p)
	}
	var log struct {
		Runs []struct {
			Results []struct {
				Locations []struct {
					PhysicalLocation *struct {
						ArtifactLocation struct{ URI, URIBaseID string } `json:"artifactLocation"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(out.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	results := log.Runs[0].Results
	if len(results) < 1000 {
		t.Errorf("%d results; the reference install had 1,448 failing findings", len(results))
	}
	for i, r := range results {
		pl := r.Locations[0].PhysicalLocation
		if pl == nil || !strings.HasPrefix(pl.ArtifactLocation.URI, "examples/bud-reference/") {
			t.Errorf("result %d located at %+v, want a file of examples/bud-reference", i, pl)
		}
	}
}
