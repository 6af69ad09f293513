package kubetest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// One control plane for the package; tests use their own namespaces and
// cluster-scoped names.
var harness = NewHarness(Options{})

func TestMain(m *testing.M) { os.Exit(harness.Run(m)) }

func loadFixtures(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "objects", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	var objs []*unstructured.Unstructured
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseObjects(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		objs = append(objs, got...)
	}
	return objs
}

// TestApplyEveryKind creates one realistic object of every pinned CRD kind
// budnet emits, plus core kinds, and reads each back from the server.
func TestApplyEveryKind(t *testing.T) {
	env := harness.Env(t)
	ctx := t.Context()
	objs := loadFixtures(t)

	wantKinds := []string{
		"Namespace", "NetworkPolicy",
		"Certificate", "ClusterIssuer", "Issuer",
		"Configuration", "Component", "Resiliency", "Subscription", "HTTPEndpoint",
		"GatewayClass", "Gateway", "HTTPRoute", "ReferenceGrant", "BackendTLSPolicy",
		"IngressRoute", "Middleware", "TLSOption", "ServersTransport",
		"CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy", "CiliumEgressGatewayPolicy",
		"PrometheusRule", "ServiceMonitor", "PodMonitor",
	}
	for _, k := range wantKinds {
		if !slices.ContainsFunc(objs, func(o *unstructured.Unstructured) bool { return o.GetKind() == k }) {
			t.Errorf("fixtures have no %s", k)
		}
	}

	if err := env.Apply(ctx, objs...); err != nil {
		t.Fatalf("Apply rejected objects:\n%v", err)
	}
	for _, o := range objs {
		mapping, err := env.Mapper.RESTMapping(o.GroupVersionKind().GroupKind(), o.GroupVersionKind().Version)
		if err != nil {
			t.Fatalf("mapping %s: %v", o.GroupVersionKind(), err)
		}
		var ri dynamic.ResourceInterface = env.Dynamic.Resource(mapping.Resource)
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			ri = env.Dynamic.Resource(mapping.Resource).Namespace(o.GetNamespace())
		}
		list, err := ri.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatalf("list %s: %v", mapping.Resource, err)
		}
		if !slices.ContainsFunc(list.Items, func(i unstructured.Unstructured) bool { return i.GetName() == o.GetName() }) {
			t.Errorf("%s %s/%s not listed back", o.GetKind(), o.GetNamespace(), o.GetName())
		}
	}
}

// TestApplyReportsEachRejectedObject shows that Apply is a real create: the
// CRD schemas and strict field validation reject bad objects, every failure
// is reported with its object, and valid objects in the same call are created.
func TestApplyReportsEachRejectedObject(t *testing.T) {
	env := harness.Env(t)
	ctx := t.Context()
	objs, err := ParseObjects([]byte(`
apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata: {name: daprsystem, namespace: kubetest-reject}
spec:
  mtls:
    enabled: "false"
    sentryAddress: dapr-sentry.dapr-system.svc.cluster.local:443
    controlPlaneTrustDomain: cluster.local
---
apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata: {name: no-sentry, namespace: kubetest-reject}
spec:
  mtls: {enabled: true}
---
apiVersion: traefik.io/v1alpha1
kind: TLSOption
metadata: {name: typo, namespace: kubetest-reject}
spec: {minVersoin: VersionTLS12}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-crd, namespace: kubetest-reject}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: fine, namespace: kubetest-reject}
`))
	if err != nil {
		t.Fatal(err)
	}
	err = env.Apply(ctx, objs...)
	got := ObjectErrors(err)
	tests := []struct {
		name    string
		object  string
		message string
		check   func(error) bool
	}{
		{name: "string where the schema wants a boolean", object: "Configuration kubetest-reject/daprsystem", message: "spec.mtls.enabled", check: apierrors.IsInvalid},
		{name: "required field missing", object: "Configuration kubetest-reject/no-sentry", message: "sentryAddress", check: apierrors.IsInvalid},
		{name: "unknown field under strict validation", object: "TLSOption kubetest-reject/typo", message: "minVersoin", check: apierrors.IsBadRequest},
		{name: "kind without a CRD", object: "AuthorizationPolicy kubetest-reject/no-crd", message: "no matches for kind", check: meta.IsNoMatchError},
	}
	if len(got) != len(tests) {
		t.Fatalf("got %d object errors, want %d:\n%v", len(got), len(tests), err)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := got[i]
			msg := e.Error()
			if !strings.HasPrefix(msg, "create "+tt.object+": ") || !strings.Contains(msg, tt.message) {
				t.Errorf("error %q, want it to name %s and mention %q", msg, tt.object, tt.message)
			}
			if !tt.check(e) {
				t.Errorf("error %v is not of the expected API error class", e)
			}
		})
	}
	if _, err := env.Clientset.CoreV1().ConfigMaps("kubetest-reject").Get(ctx, "fine", metav1.GetOptions{}); err != nil {
		t.Errorf("the valid ConfigMap was not created: %v", err)
	}
}

// TestRestrictedUser builds the auditor identity the audit tests need: it may
// read everything except Secrets and CiliumNetworkPolicies.
func TestRestrictedUser(t *testing.T) {
	env := harness.Env(t)
	ctx := t.Context()
	secrets := schema.GroupResource{Resource: "secrets"}
	cnp := schema.GroupResource{Group: "cilium.io", Resource: "ciliumnetworkpolicies"}
	rules, err := env.ReadOnlyRules(secrets, cnp)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := env.UserConfig(ctx, "kubetest-auditor", rules)
	if err != nil {
		t.Fatal(err)
	}
	// The auditor reads through a kubeconfig, as budnet audit --kubeconfig does.
	kubeconfig, err := Kubeconfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(kubeconfig), "insecure-skip-tls-verify") {
		t.Errorf("kubeconfig skips TLS verification:\n%s", kubeconfig)
	}
	restCfg, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(restCfg)
	if err != nil {
		t.Fatal(err)
	}
	clientset, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		resource schema.GroupVersionResource
		check    func(error) bool
	}{
		{name: "granted core kind", resource: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, check: func(err error) bool { return err == nil }},
		{name: "granted CRD kind", resource: schema.GroupVersionResource{Group: "dapr.io", Version: "v1alpha1", Resource: "configurations"}, check: func(err error) bool { return err == nil }},
		{name: "forbidden core kind", resource: schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, check: apierrors.IsForbidden},
		{name: "forbidden CRD kind", resource: schema.GroupVersionResource{Group: "cilium.io", Version: "v2", Resource: "ciliumnetworkpolicies"}, check: apierrors.IsForbidden},
		// Authorization runs before routing, so a user not granted a kind gets
		// Forbidden even when its CRD does not exist (by design, so names do
		// not leak: kubernetes/kubernetes#31798); only discovery (below) tells
		// the two apart.
		{name: "missing CRD, not granted", resource: schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "authorizationpolicies"}, check: apierrors.IsForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := dyn.Resource(tt.resource).List(ctx, metav1.ListOptions{})
			if !tt.check(err) {
				t.Errorf("list %s: error %v", tt.resource, err)
			}
		})
	}

	// Writes were never granted.
	_, err = clientset.CoreV1().Namespaces().Create(ctx, nsObject("kubetest-auditor-write"), metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("create namespace as auditor: error %v, want Forbidden", err)
	}
	// Discovery stays open to any authenticated user, so the auditor can tell a
	// missing CRD from a forbidden kind.
	if _, err := clientset.Discovery().ServerResourcesForGroupVersion("cilium.io/v2"); err != nil {
		t.Errorf("discovery of an installed group as auditor: %v", err)
	}
	if _, err := clientset.Discovery().ServerResourcesForGroupVersion("security.istio.io/v1"); !apierrors.IsNotFound(err) {
		t.Errorf("discovery of a missing group as auditor: error %v, want NotFound", err)
	}
}

// TestMissingCRDs starts a second control plane with only cert-manager's CRDs,
// the situation of a cluster without Dapr.
func TestMissingCRDs(t *testing.T) {
	env := ForTest(t, Options{Projects: []string{"cert-manager"}})
	ctx := t.Context()

	_, err := env.Mapper.RESTMapping(schema.GroupKind{Group: "dapr.io", Kind: "Configuration"})
	if !meta.IsNoMatchError(err) {
		t.Errorf("mapping Dapr Configuration: error %v, want NoKindMatch", err)
	}
	_, err = env.Dynamic.Resource(schema.GroupVersionResource{Group: "dapr.io", Version: "v1alpha1", Resource: "configurations"}).List(ctx, metav1.ListOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("list Dapr Configurations: error %v, want NotFound", err)
	}
	_, err = env.Dynamic.Resource(schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificates"}).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Errorf("list Certificates: %v", err)
	}
}

func TestStartWithoutAssets(t *testing.T) {
	_, err := Start(context.Background(), Options{AssetsDir: t.TempDir()})
	if !errors.Is(err, ErrAssetsMissing) {
		t.Fatalf("Start with an empty assets dir: error %v, want ErrAssetsMissing", err)
	}
}

func nsObject(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

// BenchmarkStartStop measures a control plane with every CRD installed:
// start-s is the time until the CRDs are served, stop-s the orderly shutdown.
func BenchmarkStartStop(b *testing.B) {
	if err := checkAssets(DefaultAssetsDir()); err != nil {
		b.Skip(err)
	}
	var start, stop time.Duration
	for b.Loop() {
		t0 := time.Now()
		env, err := Start(b.Context(), Options{})
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := env.Stop(); err != nil {
			b.Fatal(err)
		}
		start += t1.Sub(t0)
		stop += time.Since(t1)
	}
	b.ReportMetric(start.Seconds()/float64(b.N), "start-s")
	b.ReportMetric(stop.Seconds()/float64(b.N), "stop-s")
}
