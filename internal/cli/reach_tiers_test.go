package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReachAllTiersGolden pins reach's text and JSON output and its
// explanations on a fixture with every tier: an AdminNetworkPolicy, a
// NetworkPolicy, Cilium policies (an FQDN rule, an L7 DNS rule, a
// clusterwide deny that does not isolate) and a Baseline
// ClusterNetworkPolicy. Regenerate with
// `go test ./internal/cli -run TestReachAllTiersGolden -update` and review
// the diff: each explanation must name the tier and rule that decided.
func TestReachAllTiersGolden(t *testing.T) {
	file := filepath.Join("testdata", "alltiers.yaml")
	var b strings.Builder
	for _, args := range [][]string{
		{"reach", "-f", file},
		{"reach", "-f", file, "-o", "json"},
		{"reach", "-f", file, "--from", "monitoring/prometheus", "--to", "bud/budapp", "--port", "9090"},
		{"reach", "-f", file, "--from", "monitoring/prometheus", "--to", "bud/budapp", "--port", "8080"},
		{"reach", "-f", file, "--from", "bud/budapp", "--to", "169.254.169.254", "--port", "80"},
		{"reach", "-f", file, "--from", "bud/budapp", "--to", "kube-system/coredns", "--port", "udp/53"},
		{"reach", "-f", file, "--from", "8.8.8.8", "--to", "bud/budapp", "--port", "9090"},
		{"reach", "-f", file, "--from", "bud/budapp", "--to", "bud-data/postgresql", "--port", "5432", "-o", "json"},
	} {
		code, out, stderr := run(t, "", args...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", strings.Join(args, " "), code, stderr)
		}
		b.WriteString("$ budnet " + strings.Join(args, " ") + "\n" + out + "\n")
	}
	golden := filepath.Join("testdata", "reach-alltiers.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("output differs from %s (regenerate with -update and review):\n%s", golden, got)
	}
}
