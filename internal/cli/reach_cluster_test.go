package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/budnet/budnet/internal/kubetest"
)

// TestReachCluster reads the objects back from a real kube-apiserver, with the
// defaults the server adds, and must find the same connections as the files
// they were applied from: the live source is the same model, not a second one.
func TestReachCluster(t *testing.T) {
	env := kubetest.ForTest(t, kubetest.Options{})
	ctx := t.Context()
	fixture := filepath.Join("testdata", "reach-cluster.yaml")
	data, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := kubetest.ParseObjects(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Apply(ctx, objs...); err != nil {
		t.Fatal(err)
	}
	kc, err := kubetest.Kubeconfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		t.Fatal(err)
	}

	code, out, stderr := run(t, "", "reach", "--cluster", "--kubeconfig", kubeconfig, "--context", "kubetest", "-n", "reach-cli", "-o", "json")
	if code != ExitOK {
		t.Fatalf("reach --cluster: exit %d, stderr %s", code, stderr)
	}
	var live reachJSON
	unmarshalJSON(t, out, &live)
	if !slices.Equal(live.Metadata.Inputs, []string{"cluster (context kubetest)"}) {
		t.Errorf("inputs %q", live.Metadata.Inputs)
	}

	code, out, stderr = run(t, "", "reach", "-f", fixture, "-o", "json")
	if code != ExitOK {
		t.Fatalf("reach -f: exit %d, stderr %s", code, stderr)
	}
	var files reachJSON
	unmarshalJSON(t, out, &files)

	if live.Metadata.Workloads != 3 || live.Metadata.Workloads != files.Metadata.Workloads {
		t.Errorf("workloads: cluster %d, files %d, want 3", live.Metadata.Workloads, files.Metadata.Workloads)
	}
	key := func(c connJSON) string { return c.Src + " => " + c.Dst }
	liveConns := map[string]string{}
	for _, c := range live.Connections {
		liveConns[key(c)] = mustJSON(t, c.Ports)
	}
	if len(live.Connections) == 0 {
		t.Fatal("the cluster gave no connections: the read is broken")
	}
	for _, c := range files.Connections {
		if got, ok := liveConns[key(c)]; !ok || got != mustJSON(t, c.Ports) {
			t.Errorf("%s: files %s, cluster %q", key(c), mustJSON(t, c.Ports), got)
		}
		delete(liveConns, key(c))
	}
	for k, ports := range liveConns {
		t.Errorf("%s: only in the cluster's answer (%s)", k, ports)
	}
	for _, want := range []string{
		"reach-cli/budapp[Deployment] => reach-cli/bud-postgresql[StatefulSet]",    // a NetworkPolicy allows it
		"reach-cli/budnotify[Deployment] => reach-cli/bud-postgresql[StatefulSet]", // only the AdminNetworkPolicy does
	} {
		if !slices.ContainsFunc(live.Connections, func(c connJSON) bool { return key(c) == want }) {
			t.Errorf("the allowed flow %s is missing from the cluster's answer %s", want, out)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
