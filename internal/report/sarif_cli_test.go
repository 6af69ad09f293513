package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/cli"
	"github.com/budnet/budnet/internal/report"
)

// TestReferenceSARIFForGitHub runs `budnet audit -f examples/bud-reference
// -o sarif` from the repository root, as a CI job would, and checks the log
// as GitHub code scanning would: every one of its results has a physical
// location, relative to the checkout.
func TestReferenceSARIFForGitHub(t *testing.T) {
	sch := report.CompileSARIFSchema(t)
	t.Chdir("../..")
	tests := []struct {
		name string
		args []string
		// uriPrefix is where every result must point.
		uriPrefix  string
		minResults int
	}{
		{name: "reference install files", args: []string{"-f", "examples/bud-reference"}, uriPrefix: "examples/bud-reference/", minResults: 1000},
		// The embedded example is no file of the repository: its results
		// point at the name it is shown under, so the upload is still accepted.
		{name: "embedded example", args: []string{"--example"}, uriPrefix: "example/bud-unhardened.yaml", minResults: 900},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"audit", "-o", "sarif"}, tt.args...)
			code := cli.Execute(context.Background(), args, cli.Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
			if code != cli.ExitFindings {
				t.Fatalf("exit %d, want %d (the input has findings)\n%s", code, cli.ExitFindings, errOut.String())
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
			if len(results) < tt.minResults {
				t.Errorf("%d results, want at least %d", len(results), tt.minResults)
			}
			for i, r := range results {
				pl := r.Locations[0].PhysicalLocation
				if pl == nil || !strings.HasPrefix(pl.ArtifactLocation.URI, tt.uriPrefix) {
					t.Errorf("result %d located at %+v, want %s...", i, pl, tt.uriPrefix)
				}
			}
			t.Logf("%d results, %d bytes", len(results), out.Len())
		})
	}
}
