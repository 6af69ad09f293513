package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/cli"
)

// TestCLIRoundTrip is the round trip through the command line for every
// model, edge and CNI (issue 3, and issue 12's defect 12): `budnet generate
// --edge E --cni C -o DIR`, then `budnet audit -f DIR -f examples/<x>-reference
// --platform MODEL --fail-on low` exits 0 and `budnet reach --intended` over
// the same files reports nothing over-permissive, nothing broken and no
// unmatched model workload. The models are the embedded Bud model (host
// flows of many hosts through the egress gateway, wildcards among them), the
// example platforms, and wildcard-egress.yaml (multi-host flows with
// wildcard hosts and no gateway, so Cilium's toFQDNs carries them).
//
// gaps lists the checks that rightly fail for a model and CNI, with the
// reason; a listed gap that passes fails the test, so the list only shrinks.
func TestCLIRoundTrip(t *testing.T) {
	examples := filepath.Join("..", "..", "examples")
	// NetworkPolicy cannot name hosts: a model with host egress flows and
	// no egress gateway has its allowlist enforced only by toFQDNs.
	noGateway := map[string]string{"BUD-8.2-01": "host flows without an egress gateway need --cni cilium"}
	// The reference models ship placeholders (documentation ranges,
	// example hosts and contacts) that generate warns about; BUD-4.1-05
	// rightly reports them in the output.
	placeholders := map[string]string{"BUD-4.1-05": "model: placeholders of the reference model, which generate warns about"}
	models := []struct {
		name      string
		model     string // empty: the embedded model
		reference string
		gaps      map[string]map[string]string // CNI -> check -> why it rightly fails
		refGaps   []map[string]string          // gaps of the reference install, whatever the CNI
	}{
		{name: "bud", reference: "bud-reference", refGaps: []map[string]string{placeholders}},
		{name: "minimal", model: "minimal.yaml", reference: "minimal-reference", gaps: map[string]map[string]string{"kubernetes": noGateway}},
		{name: "egress-gateway", model: "egress-gateway.yaml", reference: "egress-gateway-reference", refGaps: []map[string]string{placeholders}},
		{name: "wildcard-egress", model: "wildcard-egress.yaml", reference: "minimal-reference", gaps: map[string]map[string]string{"kubernetes": noGateway}},
	}
	for _, m := range models {
		for _, edge := range []string{"gateway-api", "traefik", "nginx"} {
			for _, cni := range []string{"kubernetes", "cilium"} {
				t.Run(m.name+"/"+edge+"/"+cni, func(t *testing.T) {
					t.Parallel()
					out := filepath.Join(t.TempDir(), "out")
					inputs := []string{"-f", out, "-f", filepath.Join(examples, m.reference)}
					var model []string
					if m.model != "" {
						model = []string{"--platform", filepath.Join(examples, "platforms", m.model)}
					}
					gen := slices.Concat([]string{"generate", "-o", out, "--edge", edge, "--cni", cni}, model)
					if code, _, stderr := run(t, gen...); code != cli.ExitOK {
						t.Fatalf("generate exits %d: %s", code, stderr)
					}
					gaps := maps.Clone(m.gaps[cni])
					if gaps == nil {
						gaps = map[string]string{}
					}
					for _, g := range m.refGaps {
						maps.Copy(gaps, g)
					}
					code, stdout, stderr := run(t, slices.Concat([]string{"audit", "--fail-on", "low", "-o", "json"}, inputs, model)...)
					failing := failingChecks(t, stdout)
					for id, why := range failing {
						if _, known := gaps[id]; !known {
							t.Errorf("%s fails: %s", id, why)
						}
					}
					for id, reason := range gaps {
						if _, still := failing[id]; !still {
							t.Errorf("%s passes now; remove it from the gaps (%s)", id, reason)
						}
					}
					want := cli.ExitOK
					if len(gaps) > 0 {
						want = cli.ExitFindings
					}
					if code != want {
						t.Errorf("audit exits %d, want %d (failing: %v); stderr: %s", code, want, slices.Sorted(maps.Keys(failing)), stderr)
					}
					checkReach(t, slices.Concat([]string{"reach", "--intended", "-o", "json"}, inputs, model))
				})
			}
		}
	}
}

// checkReach runs `budnet reach --intended` and wants nothing over-permissive,
// nothing broken and every model workload matched.
func checkReach(t *testing.T, args []string) {
	t.Helper()
	code, stdout, stderr := run(t, args...)
	if code != cli.ExitOK {
		t.Fatalf("reach exits %d: %s", code, stderr)
	}
	var doc struct {
		Connections    []json.RawMessage `json:"connections"`
		OverPermissive []json.RawMessage `json:"overPermissive"`
		Broken         []json.RawMessage `json:"broken"`
		Unmatched      []string          `json:"unmatchedModelWorkloads"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("reach -o json: %v", err)
	}
	if len(doc.Connections) == 0 {
		t.Fatal("reach found no connection at all")
	}
	if len(doc.OverPermissive) > 0 || len(doc.Broken) > 0 || len(doc.Unmatched) > 0 {
		t.Errorf("reach: %d over-permissive, %d broken, unmatched %v:\n%s", len(doc.OverPermissive), len(doc.Broken), doc.Unmatched, stdout)
	}
}

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = cli.Execute(context.Background(), args, cli.Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	return code, out.String(), errOut.String()
}

// failingChecks reads audit's JSON report: check ID to the first failing
// finding's subject and message.
func failingChecks(t *testing.T, report string) map[string]string {
	t.Helper()
	var doc struct {
		Findings []struct {
			CheckID, Status, Subject, Message string
			Suppressed                        bool
		}
	}
	if err := json.Unmarshal([]byte(report), &doc); err != nil {
		t.Fatalf("audit -o json: %v", err)
	}
	if len(doc.Findings) == 0 {
		t.Fatal("audit reported no findings at all")
	}
	out := map[string]string{}
	for _, f := range doc.Findings {
		// Suppressed findings (the model's spec.ignore, with a reason) do not
		// count against --fail-on, so they are not gaps of the round trip.
		if f.Suppressed || (f.Status != "fail" && f.Status != "partial") {
			continue
		}
		if _, seen := out[f.CheckID]; !seen {
			out[f.CheckID] = f.Subject + ": " + f.Message
		}
	}
	return out
}
