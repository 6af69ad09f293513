package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/budnet/budnet/internal/audit"
	"github.com/budnet/budnet/internal/kubetest"
	"github.com/budnet/budnet/internal/manifest"
)

// TestAuditCluster audits a real kube-apiserver (without Traefik's CRDs)
// through a kubeconfig, as an admin and as a user who may not read Secrets.
func TestAuditCluster(t *testing.T) {
	var projects []string
	for _, p := range kubetest.Projects() {
		if p != "traefik" {
			projects = append(projects, p)
		}
	}
	env := kubetest.ForTest(t, kubetest.Options{Projects: projects})
	ctx := t.Context()
	data, err := os.ReadFile(filepath.Join("testdata", "cluster.yaml"))
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
	writeKubeconfig := func(t *testing.T, name string, kc []byte) string {
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, kc, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	adminKC, err := kubetest.Kubeconfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	admin := writeKubeconfig(t, "admin", adminKC)

	t.Run("admin", func(t *testing.T) {
		code, out, stderr := runAudit(t, "", "--cluster", "--kubeconfig", admin, "--context", "kubetest", "-n", "audit-cli", "-o", "json")
		doc := auditJSONOf(t, out)
		if doc.Metadata.Source != "cluster" || !slices.Equal(doc.Metadata.Inputs, []string{"cluster (context kubetest)"}) {
			t.Errorf("metadata %+v (stderr %q)", doc.Metadata, stderr)
		}
		if code != exitCodeOf(t, doc.Findings, mustSeverity(t, "high")) {
			t.Errorf("exit %d disagrees with the findings", code)
		}
		var raw struct{ Warnings []string }
		unmarshalJSON(t, out, &raw)
		if !slices.ContainsFunc(raw.Warnings, func(w string) bool {
			return strings.Contains(w, "CRD not installed") && strings.Contains(w, "traefik.io")
		}) {
			t.Errorf("warnings %q lack the missing Traefik CRDs", raw.Warnings)
		}
		suppressed := false
		for _, f := range doc.Findings {
			for _, e := range f.Evidence {
				if f.CheckID == "BUD-6.3-01" && e.Object == "audit-cli/budapp[Deployment]" {
					if e.File != manifest.ClusterSource || e.Line != 0 {
						t.Errorf("evidence %+v, want provenance %q without a line", e, manifest.ClusterSource)
					}
					suppressed = f.Suppressed
				}
			}
		}
		if !suppressed {
			t.Errorf("the live object's budnet.io/ignore annotation did not suppress BUD-6.3-01:\n%s", out)
		}
		// Kinds only some checks read must be listed from the cluster too.
		for _, want := range []struct{ check, subject string }{
			{"BUD-10.1-02", "audit-cli/budapp"},
			{"BUD-6-03", "v1beta1.audit-cli.example.com"},
		} {
			if !slices.ContainsFunc(doc.Findings, func(f findingJSON) bool {
				return f.CheckID == want.check && f.Status == audit.StatusFail && strings.Contains(f.Subject, want.subject)
			}) {
				t.Errorf("no failing %s finding for %s read from the cluster", want.check, want.subject)
			}
		}
		if strings.Contains(stderr, "listing") {
			t.Errorf("progress on a non-terminal stderr: %q", stderr)
		}
	})

	t.Run("forbidden secrets", func(t *testing.T) {
		rules, err := env.ReadOnlyRules(schema.GroupResource{Resource: "secrets"})
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := env.UserConfig(ctx, "audit-cli-reader", rules)
		if err != nil {
			t.Fatal(err)
		}
		kc, err := kubetest.Kubeconfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		code, out, stderr := runAudit(t, "", "--cluster", "--kubeconfig", writeKubeconfig(t, "reader", kc), "-A", "-o", "json", "--fail-on", "critical")
		var raw struct{ Warnings []string }
		unmarshalJSON(t, out, &raw)
		if !slices.ContainsFunc(raw.Warnings, func(w string) bool { return strings.Contains(w, "forbidden to list secrets") }) {
			t.Errorf("warnings %q lack the forbidden Secrets (exit %d, stderr %q)", raw.Warnings, code, stderr)
		}
		if code == ExitUsage {
			t.Errorf("a forbidden kind made the audit fail: %q", stderr)
		}
	})
}
