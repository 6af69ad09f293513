package generate_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/budnet/budnet/internal/generate"
	"github.com/budnet/budnet/internal/kubetest"
	"github.com/budnet/budnet/internal/platform"
)

// concernFiles are the files of the concerns beyond namespaces and
// policies; TestConcernGolden keeps them.
func isConcernFile(name string) bool {
	return slices.Contains([]string{generate.FileMesh, generate.FileCerts, generate.FileEdge, generate.FileAlerts,
		generate.FileClusters, generate.FileCloudAWS, generate.FileCloudAzure}, name) || strings.HasPrefix(name, "clusters/")
}

// budWithCluster is the embedded model with a registered cluster, which the
// embedded model leaves out (it has no address to name).
func budWithCluster(t testing.TB) *platform.Platform {
	t.Helper()
	p := loadModel(t, "")
	p.Spec.Clusters = append(p.Spec.Clusters, platform.RegisteredCluster{
		Name: "gpu-east", Server: "https://gpu-east.example.com:6443", Namespaces: []string{"bud-models", "bud-runtime"},
	})
	return p
}

func generateAll(t testing.TB, p *platform.Platform, o generate.Options) []generate.File {
	t.Helper()
	files, err := generate.Generate(p, o)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func fileNamed(t testing.TB, files []generate.File, name string) generate.File {
	t.Helper()
	for _, f := range files {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("no file %s", name)
	return generate.File{}
}

// TestConcernGolden keeps the mesh, certificate, edge, alert, multi-cluster
// and cloud output for each edge kind under review:
// `go test ./internal/generate -run ConcernGolden -update` rewrites it.
func TestConcernGolden(t *testing.T) {
	tests := []struct {
		name string
		o    generate.Options
	}{
		{name: "gateway-api", o: generate.Options{Edge: platform.EdgeGatewayAPI}},
		{name: "traefik", o: generate.Options{Edge: platform.EdgeTraefik}},
		{name: "nginx", o: generate.Options{Edge: platform.EdgeNginx, Cloud: generate.CloudAzure}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			p := budWithCluster(t)
			files := generateAll(t, p, tt.o)
			cloud, err := generate.CloudPerimeter(p, tt.o)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cloud {
				if !slices.ContainsFunc(files, func(f generate.File) bool { return f.Name == c.Name }) {
					files = append(files, c)
				}
			}
			for _, f := range files {
				if !isConcernFile(f.Name) {
					continue
				}
				data, err := f.Render()
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&b, "=== %s\n%s", f.Name, data)
			}
			golden := filepath.Join("testdata", "golden", "concerns-"+tt.name+".txt")
			if *update {
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("output differs from %s; run with -update and review the diff", golden)
			}
		})
	}
}

func spec(t *testing.T, u *unstructured.Unstructured, path ...string) any {
	t.Helper()
	v, ok, err := unstructured.NestedFieldNoCopy(u.Object, path...)
	if err != nil || !ok {
		t.Fatalf("%s/%s: no %s", u.GetKind(), u.GetName(), strings.Join(path, "."))
	}
	return v
}

// TestDaprConfigurations: mTLS on with the model's durations in daprsystem,
// and per zone an accessControl that denies by default and allows exactly
// the callers the model's flows name, with their operations.
func TestDaprConfigurations(t *testing.T) {
	p := loadModel(t, "")
	files, err := generate.Mesh(p, generate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	objs := files[0].Objects
	sys := objs[0]
	if sys.GetName() != generate.DaprSystemConfiguration || sys.GetNamespace() != p.Spec.Mesh.Namespace {
		t.Fatalf("first object %s/%s, want %s/daprsystem", sys.GetNamespace(), sys.GetName(), p.Spec.Mesh.Namespace)
	}
	mtls := spec(t, sys, "spec", "mtls").(map[string]any)
	if mtls["enabled"] != true || mtls["workloadCertTTL"] != "24h0m0s" || mtls["allowedClockSkew"] != "15m0s" {
		t.Errorf("mtls %v", mtls)
	}
	var app *unstructured.Unstructured
	for _, o := range objs[1:] {
		if o.GetNamespace() == "bud-system" {
			app = o
		}
		if o.GetName() != generate.DaprAccessConfiguration {
			t.Errorf("app Configuration named %s", o.GetName())
		}
		if got := spec(t, o, "spec", "accessControl", "defaultAction"); got != "deny" {
			t.Errorf("%s: defaultAction %v, want deny", o.GetNamespace(), got)
		}
	}
	if app == nil {
		t.Fatal("no access-control Configuration in bud-system")
	}
	if got := spec(t, app, "spec", "accessControl", "trustDomain"); got != p.Spec.Mesh.TrustDomain {
		t.Errorf("trustDomain %v", got)
	}
	policies := spec(t, app, "spec", "accessControl", "policies").([]any)
	var callers []string
	for _, pol := range policies {
		m := pol.(map[string]any)
		callers = append(callers, m["appId"].(string))
		if m["defaultAction"] != "deny" {
			t.Errorf("policy of %v: defaultAction %v", m["appId"], m["defaultAction"])
		}
		ops := m["operations"].([]any)
		if len(ops) != 1 || ops[0].(map[string]any)["name"] != "/**" || ops[0].(map[string]any)["action"] != "allow" {
			t.Errorf("policy of %v: operations %v", m["appId"], ops)
		}
	}
	// The callers are the embedded model's invocation rows, those of the
	// chart's *_APP_ID settings: every service but budnotify, which calls
	// nobody. The mesh-wide sidecar flow must not turn into an allow for
	// everyone, so budnotify must not be among them.
	want := []string{"askbud", "budapp", "budcluster", "budeval", "budmetrics", "budmodel", "budpipeline", "budsim"}
	if !slices.Equal(callers, want) {
		t.Errorf("callers %v, want exactly %v", callers, want)
	}
}

// TestDaprGrants covers how flows become policies.
func TestDaprGrants(t *testing.T) {
	tests := []struct {
		name   string
		flow   platform.InternalFlow
		wantID string // caller app id granted on budsim, "" for none
		verbs  []any
	}{
		{name: "invoke with verbs", flow: platform.InternalFlow{Name: "x", From: platform.Selector{Workload: "budcluster"},
			To: platform.Selector{Workload: "budsim"}, Ports: []platform.Port{{Name: "dapr-internal", Protocol: "TCP"}},
			Invoke: []platform.DaprOperation{{Name: "/v1/simulate", Verbs: []string{"POST", "GET"}}}},
			wantID: "budcluster", verbs: []any{"GET", "POST"}},
		{name: "named caller on dapr-internal allows all", flow: platform.InternalFlow{Name: "x", From: platform.Selector{Workload: "budcluster"},
			To: platform.Selector{Workload: "budsim"}, Ports: []platform.Port{{Name: "dapr-internal", Protocol: "TCP"}}},
			wantID: "budcluster", verbs: []any{"*"}},
		{name: "app port is not invocation", flow: platform.InternalFlow{Name: "x", From: platform.Selector{Workload: "budcluster"},
			To: platform.Selector{Workload: "budsim"}, Ports: []platform.Port{{Name: "http", Protocol: "TCP"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := loadModel(t, "")
			p.Spec.Flows.Internal = []platform.InternalFlow{tt.flow}
			files, err := generate.Mesh(p, generate.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got []any
			for _, o := range files[0].Objects[1:] {
				if pols, ok, _ := unstructured.NestedSlice(o.Object, "spec", "accessControl", "policies"); ok {
					got = append(got, pols...)
				}
			}
			if tt.wantID == "" {
				if len(got) != 0 {
					t.Errorf("policies %v, want none", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("policies %v, want one", got)
			}
			m := got[0].(map[string]any)
			verbs := m["operations"].([]any)[0].(map[string]any)["httpVerb"]
			if m["appId"] != tt.wantID || fmt.Sprint(verbs) != fmt.Sprint(tt.verbs) {
				t.Errorf("policy %v, want %s with verbs %v", m, tt.wantID, tt.verbs)
			}
		})
	}
}

// TestKubeconfigTemplate: the template, filled as its annotation says,
// loads with client-go, trusts the cluster CA, presents the token and never
// skips verification; the cluster's RBAC grants no cluster-wide secrets
// access and no cluster-admin.
func TestKubeconfigTemplate(t *testing.T) {
	files := generateAll(t, budWithCluster(t), generate.Options{})
	tmpl := fileNamed(t, files, generate.FileClusters).Objects[0]
	text := spec(t, tmpl, "data").(map[string]any)[generate.KubeconfigKey].(string)
	if strings.Contains(text, "insecure-skip-tls-verify") {
		t.Fatal("template contains insecure-skip-tls-verify")
	}
	ca := base64.StdEncoding.EncodeToString([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	filled := strings.NewReplacer(generate.PlaceholderCA, ca, generate.PlaceholderToken, "tok3n").Replace(text)
	cfg, err := clientcmd.Load([]byte(filled))
	if err != nil {
		t.Fatalf("filled template does not load: %v", err)
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	cl, user := cfg.Clusters[ctx.Cluster], cfg.AuthInfos[ctx.AuthInfo]
	if cl.Server != "https://gpu-east.example.com:6443" || cl.InsecureSkipTLSVerify || !strings.Contains(string(cl.CertificateAuthorityData), "BEGIN CERTIFICATE") {
		t.Errorf("cluster %+v", cl)
	}
	if user.Token != "tok3n" {
		t.Errorf("token %q", user.Token)
	}

	objs := rawObjects(t, fileNamed(t, files, generate.ClusterFile("gpu-east")))
	for _, o := range objs {
		switch o.GetKind() {
		case "ClusterRole":
			for _, r := range spec(t, o, "rules").([]any) {
				m := r.(map[string]any)
				for _, v := range append(m["resources"].([]any), m["verbs"].([]any)...) {
					if v == "secrets" || v == "*" || v == "create" || v == "delete" {
						t.Errorf("ClusterRole grants %v cluster-wide: %v", v, m)
					}
				}
			}
		case "ClusterRoleBinding", "RoleBinding":
			if ref := spec(t, o, "roleRef", "name"); ref == "cluster-admin" || ref == "admin" {
				t.Errorf("%s binds %v", o.GetName(), ref)
			}
		case "Secret":
			if spec(t, o, "type") != "kubernetes.io/service-account-token" {
				t.Errorf("token Secret type %v", spec(t, o, "type"))
			}
		}
	}
}

func rawObjects(t testing.TB, f generate.File) []*unstructured.Unstructured {
	t.Helper()
	objs, err := kubetest.ParseObjects(f.Raw)
	if err != nil {
		t.Fatalf("%s: %v", f.Name, err)
	}
	return objs
}

// BenchmarkConcerns measures each concern beyond the policies on the
// embedded model, rendering included.
func BenchmarkConcerns(b *testing.B) {
	p := budWithCluster(b)
	concerns := []struct {
		name string
		fn   generate.Concern
	}{
		{name: "mesh", fn: generate.Mesh}, {name: "certs", fn: generate.Certs}, {name: "edge", fn: generate.Edge},
		{name: "alerts", fn: generate.Alerts}, {name: "clusters", fn: generate.Clusters}, {name: "cloud", fn: generate.CloudPerimeter},
	}
	for _, c := range concerns {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				files, err := c.fn(p, generate.Options{Edge: platform.EdgeTraefik, Cloud: generate.CloudAWS})
				if err != nil {
					b.Fatal(err)
				}
				for _, f := range files {
					if _, err := f.Render(); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
