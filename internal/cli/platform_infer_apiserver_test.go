package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/budnet/budnet/internal/kubetest"
	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
)

// TestInferredPoliciesAccepted creates, in a real kube-apiserver with the
// pinned CRDs, the fixture deployment of internal/infer together with what
// generate writes from the model inferred from it: the API server must
// accept every object (names, labels and selectors built from inferred
// names included). Without the binaries the test skips, and fails under
// CI=true (kubetest.ForTest).
func TestInferredPoliciesAccepted(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	dir := t.TempDir()
	code, model, errOut := run(t, "", "platform", "infer", "-f", "../infer/testdata/bud")
	if code != 0 {
		t.Fatalf("infer: exit %d: %s", code, errOut)
	}
	modelFile := filepath.Join(dir, "inferred.yaml")
	if err := os.WriteFile(modelFile, []byte(model), 0o600); err != nil {
		t.Fatal(err)
	}
	gen := filepath.Join(dir, "generated")
	if code, _, errOut := run(t, "", "generate", "--platform", modelFile, "-o", gen); code != 0 {
		t.Fatalf("generate: exit %d: %s", code, errOut)
	}
	env := kubetest.ForTest(t, kubetest.Options{})
	inv, err := manifest.Load(context.Background(), []string{"../infer/testdata/bud", gen}, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var objs []*unstructured.Unstructured
	policies := 0
	for _, o := range inv.Objects {
		// The fixture's Secret with data that is not base64 exists to be
		// unreadable; the API server rightly refuses it.
		if o.Kind == "Secret" && o.Name == "budnotify-broken" {
			continue
		}
		if o.Kind == "Kustomization" { // kustomize's own file, not a cluster object
			continue
		}
		if o.Kind == "NetworkPolicy" {
			policies++
		}
		objs = append(objs, o.Unstructured)
	}
	err = env.Apply(t.Context(), objs...)
	for _, oe := range kubetest.ObjectErrors(err) {
		t.Errorf("%s %s/%s: %v", oe.Kind, oe.Namespace, oe.Name, oe.Err)
	}
	if err != nil && len(kubetest.ObjectErrors(err)) == 0 {
		t.Fatal(err)
	}
	if policies == 0 {
		t.Fatal("no NetworkPolicy generated")
	}
	t.Logf("%d objects created, %d of them NetworkPolicies", len(objs)-len(kubetest.ObjectErrors(err)), policies)

	// Read back from the cluster, the same deployment gives the same flows
	// (the evidence names the objects instead of file lines).
	kc, err := kubetest.Kubeconfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	kcFile := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kcFile, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	code, live, errOut := run(t, "", "platform", "infer", "--cluster", "--kubeconfig", kcFile, "--context", "kubetest")
	if code != 0 {
		t.Fatalf("infer --cluster: exit %d: %s", code, errOut)
	}
	fromFiles, fromCluster := flowLines(t, model), flowLines(t, live)
	if !slices.Equal(fromFiles, fromCluster) {
		t.Errorf("flows differ\nfrom files:   %q\nfrom cluster: %q", fromFiles, fromCluster)
	}
	t.Logf("%d flows from the files and from the cluster", len(fromCluster))
}

// flowLines lists a model's flows as "from -> to ports" lines, sorted.
func flowLines(t *testing.T, model string) []string {
	t.Helper()
	p, err := platform.Parse("model.yaml", []byte(model))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range p.Spec.Flows.Internal {
		out = append(out, fmt.Sprintf("%s -> %s %v", f.From, f.To, f.Ports))
	}
	for _, f := range p.Spec.Flows.Ingress {
		out = append(out, fmt.Sprintf("%v -> %s %v", f.Groups, f.To, f.Ports))
	}
	for _, f := range p.Spec.Flows.Egress {
		out = append(out, fmt.Sprintf("%s -> %v %v", f.From, f.Hosts, f.Ports))
	}
	slices.Sort(out)
	return out
}
