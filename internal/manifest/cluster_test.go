package manifest

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	"github.com/budnet/budnet/internal/kubetest"
)

// The cluster has every pinned CRD but Traefik's, so the audit meets a
// missing CRD.
var harness = kubetest.NewHarness(kubetest.Options{Projects: withoutTraefik()})

func withoutTraefik() []string {
	var out []string
	for _, p := range kubetest.Projects() {
		if p != "traefik" {
			out = append(out, p)
		}
	}
	return out
}

func TestMain(m *testing.M) { os.Exit(harness.Run(m)) }

const liveNS = "audit-live"

// loadLiveFixtures creates the objects once per test binary run; tests share
// the namespace.
func loadLiveFixtures(t *testing.T, env *kubetest.Env) {
	t.Helper()
	ctx := t.Context()
	if _, err := env.Clientset.CoreV1().Namespaces().Get(ctx, liveNS, metav1.GetOptions{}); err == nil {
		return
	}
	data, err := os.ReadFile(fixture("cluster", "objects.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := kubetest.ParseObjects(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Apply(ctx, objs...); err != nil {
		t.Fatalf("apply fixtures: %v", err)
	}
	// No controller manager runs, so make the ReplicaSet a Deployment would
	// own by hand: the loader must skip it in favour of the Deployment.
	dep, err := env.Clientset.AppsV1().Deployments(liveNS).Get(ctx, "budapp", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rs := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "ReplicaSet",
		"metadata": map[string]any{"name": "budapp-5d4f8", "namespace": liveNS},
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app": "budapp"}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": "budapp"}},
				"spec":     map[string]any{"containers": []any{map[string]any{"name": "budapp", "image": "budstudio/budapp:0.4.2"}}},
			},
		},
	}}
	rs.SetOwnerReferences([]metav1.OwnerReference{*metav1.NewControllerRef(dep, schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"})})
	if err := env.Apply(ctx, rs); err != nil {
		t.Fatalf("apply owned ReplicaSet: %v", err)
	}
}

func TestLoadCluster(t *testing.T) {
	env := harness.Env(t)
	loadLiveFixtures(t, env)
	inv, err := LoadCluster(t.Context(), ClusterOptions{Config: env.Config, Namespace: liveNS}, Options{})
	if err != nil {
		t.Fatalf("LoadCluster: %v", err)
	}
	got := map[string]*Object{}
	for _, o := range inv.Objects {
		got[o.Ref()] = o
	}
	tests := []struct {
		name string
		ref  string
		want bool
	}{
		{name: "deployment", ref: liveNS + "/budapp[Deployment]", want: true},
		{name: "bare pod", ref: liveNS + "/debug[Pod]", want: true},
		{name: "owned replicaset left out", ref: liveNS + "/budapp-5d4f8[ReplicaSet]", want: false},
		{name: "service", ref: liveNS + "/budapp[Service]", want: true},
		{name: "network policy", ref: liveNS + "/default-deny[NetworkPolicy]", want: true},
		{name: "configmap", ref: liveNS + "/budapp-config[ConfigMap]", want: true},
		{name: "secret", ref: liveNS + "/budapp-db[Secret]", want: true},
		{name: "dapr configuration (CRD)", ref: liveNS + "/daprsystem[Configuration]", want: true},
		{name: "certificate (CRD)", ref: liveNS + "/app-example-com[Certificate]", want: true},
		{name: "cilium policy (CRD)", ref: liveNS + "/egress-allowlist[CiliumNetworkPolicy]", want: true},
		{name: "namespace (cluster-scoped, listed whole)", ref: liveNS + "[Namespace]", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, ok := got[tt.ref]
			if ok != tt.want {
				t.Fatalf("%s present = %v, want %v; objects: %v", tt.ref, ok, tt.want, slices.Sorted(maps.Keys(got)))
			}
			if ok && (o.Source.File != ClusterSource || o.Source.Line != 0 || o.LineOf("spec") != 0) {
				t.Errorf("%s source %+v (LineOf spec %d), want %q without lines", tt.ref, o.Source, o.LineOf("spec"), ClusterSource)
			}
		})
	}
	// The same typed path as files: the Dapr sidecar is inferred on the
	// Deployment, the Service and policy are typed.
	w := inv.Workload("Deployment", liveNS, "budapp")
	if w == nil || w.Dapr == nil {
		t.Errorf("deployment not typed with its inferred Dapr sidecar: %+v", w)
	}
	if len(inv.Services) == 0 || len(inv.NetworkPolicies) == 0 {
		t.Errorf("services %d, policies %d: want typed views", len(inv.Services), len(inv.NetworkPolicies))
	}
	for _, o := range inv.Objects {
		if o.Namespace != "" && o.Namespace != liveNS {
			t.Errorf("%s is outside -n %s", o.Ref(), liveNS)
		}
		if _, ok := o.Unstructured.GetAnnotations()["kubectl.kubernetes.io/last-applied-configuration"]; ok {
			t.Errorf("%s keeps the last-applied annotation", o.Ref())
		}
		if _, ok, _ := unstructured.NestedFieldNoCopy(o.Unstructured.Object, "metadata", "managedFields"); ok {
			t.Errorf("%s keeps managedFields", o.Ref())
		}
	}
	if !hasWarning(inv, "not served by the cluster (CRD not installed)", "traefik.io") {
		t.Errorf("no warning for the missing Traefik CRDs: %v", inv.Warnings)
	}
}

// TestLoadClusterForbidden reads as a user who may list everything but
// Secrets and Cilium policies, through a kubeconfig file and context, as
// --kubeconfig/--context do.
func TestLoadClusterForbidden(t *testing.T) {
	env := harness.Env(t)
	loadLiveFixtures(t, env)
	ctx := t.Context()
	rules, err := env.ReadOnlyRules(
		schema.GroupResource{Resource: "secrets"},
		schema.GroupResource{Group: "cilium.io", Resource: "ciliumnetworkpolicies"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := env.UserConfig(ctx, "budnet-auditor", rules)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := kubetest.Kubeconfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	var progress strings.Builder
	inv, err := LoadCluster(ctx, ClusterOptions{Kubeconfig: path, Context: "kubetest", Progress: &progress}, Options{})
	if err != nil {
		t.Fatalf("LoadCluster as a restricted user: %v", err)
	}
	for _, o := range inv.Objects {
		if o.Kind == "Secret" || o.Kind == "CiliumNetworkPolicy" {
			t.Errorf("%s listed although forbidden", o.Ref())
		}
	}
	if inv.Workload("Deployment", liveNS, "budapp") == nil {
		t.Error("the readable Deployment is missing")
	}
	for _, gr := range []string{"secrets", "ciliumnetworkpolicies.cilium.io"} {
		if !hasWarning(inv, "forbidden to list "+gr, "") {
			t.Errorf("no forbidden warning for %s: %v", gr, inv.Warnings)
		}
	}
	if !strings.Contains(progress.String(), "listing deployments.apps") {
		t.Errorf("progress %q does not name the kinds listed", progress.String())
	}

	t.Run("unknown context", func(t *testing.T) {
		_, err := LoadCluster(ctx, ClusterOptions{Kubeconfig: path, Context: "nope"}, Options{})
		if err == nil || !strings.Contains(err.Error(), "nope") {
			t.Errorf("err = %v, want the unknown context named", err)
		}
	})
}

// TestLoadClusterUnreachable fails fast with a clear error, needing no server.
func TestLoadClusterUnreachable(t *testing.T) {
	// Port 1 on loopback refuses connections at once.
	cfg := &rest.Config{Host: "https://127.0.0.1:1"}
	_, err := LoadCluster(context.Background(), ClusterOptions{Config: cfg}, Options{})
	if err == nil || !strings.Contains(err.Error(), "cluster discovery") {
		t.Errorf("err = %v, want a discovery error", err)
	}
}

func hasWarning(inv *Inventory, msg, detail string) bool {
	for _, w := range inv.Warnings {
		if strings.Contains(w.Msg, msg) && strings.Contains(w.Msg, detail) {
			return true
		}
	}
	return false
}

// TestLoadClusterEmptyNamespace: -n naming a namespace without objects (a
// typo) is no input, even though cluster-scoped kinds list objects.
func TestLoadClusterEmptyNamespace(t *testing.T) {
	env := harness.Env(t)
	loadLiveFixtures(t, env)
	_, err := LoadCluster(t.Context(), ClusterOptions{Config: env.Config, Namespace: "audit-liev"}, Options{})
	if !errors.Is(err, ErrNoObjects) || !strings.Contains(err.Error(), "namespace audit-liev") {
		t.Fatalf("err = %v, want ErrNoObjects naming the namespace", err)
	}
	inv, err := LoadCluster(t.Context(), ClusterOptions{Config: env.Config, Namespace: "audit-liev"}, Options{AllowEmpty: true})
	if err != nil || len(inv.Objects) == 0 {
		t.Fatalf("AllowEmpty: %v", err)
	}
}
