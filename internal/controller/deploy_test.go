package controller

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/budnet/budnet/internal/kubetest"
	"github.com/budnet/budnet/internal/manifest"
)

const deployDir = "../../deploy/controller"

// deployObjects parses every manifest of deploy/controller and checks the
// kustomization lists each file.
func deployObjects(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(deployDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", deployDir, err)
	}
	kust, err := os.ReadFile(filepath.Join(deployDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []*unstructured.Unstructured
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		if !strings.Contains(string(kust), "- "+filepath.Base(f)) {
			t.Errorf("kustomization.yaml does not list %s", filepath.Base(f))
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := kubetest.ParseObjects(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, objs...)
	}
	return out
}

func deployObject(t *testing.T, objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind {
			return o
		}
	}
	t.Fatalf("no %s in %s", kind, deployDir)
	return nil
}

// TestDeployRBAC: the ClusterRole lets the controller read every kind it
// watches and write its reports, and nothing else: the controller runs here
// as a user holding exactly those rules, and must converge and write.
func TestDeployRBAC(t *testing.T) {
	objs := deployObjects(t)
	var role rbacv1.ClusterRole
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(deployObject(t, objs, "ClusterRole").Object, &role); err != nil {
		t.Fatal(err)
	}
	for _, gr := range manifest.ClusterResources {
		if !slices.ContainsFunc(role.Rules, func(r rbacv1.PolicyRule) bool {
			return slices.Contains(r.APIGroups, gr.Group) && slices.Contains(r.Resources, gr.Resource) &&
				slices.Contains(r.Verbs, "list") && slices.Contains(r.Verbs, "watch")
		}) {
			t.Errorf("the ClusterRole cannot list and watch %s, which the controller watches", gr)
		}
	}
	for _, r := range role.Rules {
		writes := slices.ContainsFunc(r.Verbs, func(v string) bool { return v != "get" && v != "list" && v != "watch" })
		if writes && !slices.Equal(r.APIGroups, []string{"wgpolicyk8s.io"}) && !slices.Equal(r.APIGroups, []string{"events.k8s.io"}) {
			t.Errorf("the ClusterRole writes %v in %v: only reports and events may be written", r.Resources, r.APIGroups)
		}
	}

	env := harness.Env(t)
	ctx := t.Context()
	if err := env.Apply(ctx, objs...); err != nil {
		t.Fatalf("the API server refuses deploy/controller: %v", err)
	}
	cfg, err := env.UserConfig(ctx, "budnet-controller-rbac", role.Rules)
	if err != nil {
		t.Fatal(err)
	}
	restricted := *env
	restricted.Config = cfg
	c, _ := startController(t, &restricted)
	waitFor(t, "ready as the ClusterRole", c.Ready)
	waitFor(t, "the ClusterPolicyReport written as the ClusterRole", func() bool {
		_, err := env.Dynamic.Resource(clusterPolicyReportGVR).Get(ctx, ReportName, metav1.GetOptions{})
		return err == nil
	})
}

// TestDeployPrometheusRule runs Prometheus's rule parser on the drift alerts
// and checks each names a series the controller exports.
func TestDeployPrometheusRule(t *testing.T) {
	rule := deployObject(t, deployObjects(t), "PrometheusRule")
	data, err := yaml.Marshal(rule.Object["spec"])
	if err != nil {
		t.Fatal(err)
	}
	groups, errs := rulefmt.Parse(data, false, model.UTF8Validation, parser.NewParser(parser.Options{}), promslog.NewNopLogger())
	if len(errs) > 0 {
		t.Fatalf("rulefmt: %v", errs)
	}
	exported := []string{"budnet_reach_over_permissive_connections", "budnet_reach_broken_connections",
		"budnet_audit_findings", "budnet_last_successful_evaluation_timestamp_seconds"}
	n := 0
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			n++
			if r.Alert == "BudnetControllerDown" {
				continue
			}
			if !slices.ContainsFunc(exported, func(m string) bool { return strings.Contains(r.Expr, m) }) {
				t.Errorf("%s: %q reads no series the controller exports", r.Alert, r.Expr)
			}
		}
	}
	if n == 0 {
		t.Fatal("no rules")
	}
}
