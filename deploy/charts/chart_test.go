// Package charts holds the tests of budnet's Helm chart (deploy/charts/budnet):
// Helm's own linter, the objects it renders against deploy/egress and
// budnet generate, the API server's validation, and budnet's own audit.
package charts

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	k8sjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/budnet/budnet/internal/cli"
	"github.com/budnet/budnet/internal/generate"
	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
)

const (
	chartDir  = "budnet"
	deployDir = "../egress"
)

// render renders the chart as `helm template budnet deploy/charts/budnet -n
// bud-infra --set ...` and strictly decodes every object (unknown fields fail).
func render(t *testing.T, set ...string) []runtime.Object {
	t.Helper()
	return renderAs(t, "budnet", "bud-infra", set...)
}

// renderAs is render with another release name and namespace.
func renderAs(t *testing.T, release, namespace string, set ...string) []runtime.Object {
	t.Helper()
	files, err := manifest.RenderChart(context.Background(), manifest.ChartOptions{Path: chartDir, Set: set, ReleaseName: release}, namespace)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []runtime.Object
	for _, n := range names {
		out = append(out, decode(t, n, files[n])...)
	}
	return out
}

func decode(t *testing.T, name, stream string) []runtime.Object {
	t.Helper()
	dec := k8sjson.NewSerializerWithOptions(k8sjson.DefaultMetaFactory, scheme.Scheme, scheme.Scheme,
		k8sjson.SerializerOptions{Yaml: true, Strict: true})
	var out []runtime.Object
	for i, doc := range strings.Split("\n"+stream, "\n---\n") {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		obj, _, err := dec.Decode([]byte(doc), nil, nil)
		if err != nil {
			t.Fatalf("%s document %d: %v\n%s", name, i, err, doc)
		}
		out = append(out, obj)
	}
	return out
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// key names an object as kubectl does: Kind namespace/name.
func key(o runtime.Object) string {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		panic(err)
	}
	obj := unstructured.Unstructured{Object: u}
	kind := reflect.TypeOf(o).Elem().Name()
	return kind + " " + obj.GetNamespace() + "/" + obj.GetName()
}

func TestLint(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]any
	}{
		{name: "defaults"},
		{name: "own platform, report mode, no autoscaling", values: map[string]any{"egress": map[string]any{
			"platform": "apiVersion: budnet.io/v1alpha1\nkind: Platform\n", "mode": "report",
			"autoscaling": map[string]any{"enabled": false}, "apiServer": map[string]any{"cidrs": []any{"10.0.0.1/32"}},
		}}},
		{name: "gateway disabled", values: map[string]any{"egress": map[string]any{"enabled": false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := lint.RunAll(chartDir, tt.values, "bud-infra")
			for _, m := range res.Messages {
				// INFO is "icon is recommended" and alike; warnings and errors fail.
				if m.Severity > support.InfoSev {
					t.Errorf("helm lint: %s", m.Error())
				}
			}
		})
	}
	// The linter can fail: a value the schema does not know is an error.
	res := lint.RunAll(chartDir, map[string]any{"egress": map[string]any{"replcias": 3}}, "bud-infra")
	if !slices.ContainsFunc(res.Messages, func(m support.Message) bool {
		return m.Severity == support.ErrorSev && strings.Contains(m.Err.Error(), "replcias")
	}) {
		t.Errorf("a typo'd value passed lint: %v", res.Messages)
	}
}

// TestMirrorsDeployEgress: with the API server's addresses given, the chart
// renders what deploy/egress holds, object for object (labels aside, which
// Helm's conventions add to), plus the namespace's default deny.
func TestMirrorsDeployEgress(t *testing.T) {
	chart := map[string]runtime.Object{}
	for _, o := range render(t, "egress.apiServer.cidrs={192.0.2.0/28}") {
		chart[key(o)] = o
	}
	deploy := loadDeploy(t)
	for k, want := range deploy {
		got, ok := chart[k]
		if !ok {
			t.Errorf("%s: in deploy/egress, not rendered by the chart", k)
			continue
		}
		if d := specDiff(want, got); d != "" {
			t.Errorf("%s differs from deploy/egress:\n%s", k, d)
		}
	}
	for k := range chart {
		if _, ok := deploy[k]; !ok && k != "NetworkPolicy bud-infra/budnet-default-deny" {
			t.Errorf("%s: rendered by the chart, not in deploy/egress", k)
		}
	}
}

// specDiff compares two objects without their metadata labels and the pod
// template's labels, and checks the chart's labels keep deploy/egress's.
func specDiff(want, got runtime.Object) string {
	w, _ := runtime.DefaultUnstructuredConverter.ToUnstructured(want)
	g, _ := runtime.DefaultUnstructuredConverter.ToUnstructured(got)
	var msgs []string
	for _, path := range [][]string{{"metadata", "labels"}, {"spec", "template", "metadata", "labels"}} {
		wl, _, _ := unstructured.NestedStringMap(w, path...)
		gl, _, _ := unstructured.NestedStringMap(g, path...)
		for k, v := range wl {
			if gl[k] != v {
				msgs = append(msgs, strings.Join(path, ".")+"."+k+": "+gl[k]+", want "+v)
			}
		}
		unstructured.RemoveNestedField(w, path...)
		unstructured.RemoveNestedField(g, path...)
	}
	if !reflect.DeepEqual(w, g) {
		wy, _ := yaml.Marshal(w)
		gy, _ := yaml.Marshal(g)
		msgs = append(msgs, "deploy/egress:\n"+string(wy)+"chart:\n"+string(gy))
	}
	return strings.Join(msgs, "\n")
}

func loadDeploy(t *testing.T) map[string]runtime.Object {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(deployDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", deployDir, err)
	}
	out := map[string]runtime.Object{}
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range decode(t, f, string(b)) {
			out[key(o)] = o
		}
	}
	return out
}

// TestPublicRuleMatchesGenerate: the gateway's internet rule is the "public"
// budnet generate writes for the embedded model (the guard's ranges), so the
// audit's reading of the chart and of generate's output agree.
func TestPublicRuleMatchesGenerate(t *testing.T) {
	model, err := platform.Default()
	if err != nil {
		t.Fatal(err)
	}
	files, err := generate.Generate(model, generate.Options{CNI: generate.CNIKubernetes})
	if err != nil {
		t.Fatal(err)
	}
	var want []networkingv1.NetworkPolicyPeer
	for _, f := range files {
		for _, u := range f.Objects {
			if u.GetKind() != "NetworkPolicy" || want != nil {
				continue
			}
			var np networkingv1.NetworkPolicy
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &np); err != nil {
				t.Fatal(err)
			}
			if np.Spec.PodSelector.MatchLabels["app.kubernetes.io/name"] == "budnet-egress" {
				want = publicPeers(&np)
			}
		}
	}
	if want == nil {
		t.Fatal("budnet generate wrote no public egress rule for budnet-egress")
	}
	for _, o := range render(t) {
		if np, ok := o.(*networkingv1.NetworkPolicy); ok && np.Name == "budnet-egress-gateway" {
			if got := publicPeers(np); !reflect.DeepEqual(got, want) {
				t.Errorf("chart's public peers\n%v\nbudnet generate's\n%v", got, want)
			}
			return
		}
	}
	t.Fatal("no gateway policy rendered")
}

func publicPeers(np *networkingv1.NetworkPolicy) []networkingv1.NetworkPolicyPeer {
	for _, r := range np.Spec.Egress {
		for _, p := range r.To {
			if p.IPBlock != nil && p.IPBlock.CIDR == "0.0.0.0/0" {
				return r.To
			}
		}
	}
	return nil
}

// TestPlatformConfigMap: a platform given as a value is mounted and passed to
// the gateway, and is a platform budnet loads.
func TestPlatformConfigMap(t *testing.T) {
	model, err := os.ReadFile("../../examples/platforms/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files, err := manifest.RenderChart(context.Background(), manifest.ChartOptions{Path: chartDir, ReleaseName: "budnet",
		ValueFiles: []string{writeValues(t, map[string]any{"egress": map[string]any{"platform": string(model)}})}}, "bud-infra")
	if err != nil {
		t.Fatal(err)
	}
	cm := files["budnet/templates/egress-configmap.yaml"]
	objs := decode(t, "configmap", cm)
	if len(objs) != 1 {
		t.Fatalf("want one ConfigMap, got %d", len(objs))
	}
	cmObj, ok := objs[0].(*corev1.ConfigMap)
	if !ok {
		t.Fatalf("want a ConfigMap, got %T", objs[0])
	}
	data := cmObj.Data["platform.yaml"]
	if strings.TrimSpace(data) != strings.TrimSpace(string(model)) {
		t.Errorf("ConfigMap holds\n%s\nwant the file as given", data)
	}
	path := filepath.Join(t.TempDir(), "platform.yaml")
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := platform.Load(path); err != nil {
		t.Errorf("mounted platform does not load: %v", err)
	}
	dep := files["budnet/templates/egress-deployment.yaml"]
	for _, want := range []string{"--platform=/etc/budnet/platform.yaml", "mountPath: /etc/budnet, readOnly: true", "name: budnet-egress-platform"} {
		if !strings.Contains(dep, want) {
			t.Errorf("deployment lacks %q", want)
		}
	}
}

func writeValues(t *testing.T, v map[string]any) string {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestImageMatchesRelease: the chart and deploy/egress run the image
// hack/release.sh builds, at the chart's appVersion.
func TestImageMatchesRelease(t *testing.T) {
	var chartYAML struct {
		AppVersion string `json:"appVersion"`
	}
	b, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &chartYAML); err != nil {
		t.Fatal(err)
	}
	want := "ghcr.io/budnet/budnet:" + chartYAML.AppVersion
	dep, err := os.ReadFile(filepath.Join(deployDir, "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(dep), "image: "+want+"\n") {
		t.Errorf("deploy/egress/deployment.yaml does not run %s", want)
	}
	rendered := false
	for _, o := range render(t) {
		if d, ok := o.(*appsv1.Deployment); ok && d.Name == "budnet-egress" {
			if got := d.Spec.Template.Spec.Containers[0].Image; got != want {
				t.Errorf("chart runs %s, want %s", got, want)
			}
			rendered = true
		}
	}
	if !rendered {
		t.Error("no gateway Deployment rendered")
	}
	rel, err := os.ReadFile("../../hack/release.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rel), "appVersion") {
		t.Error("hack/release.sh no longer checks the chart's appVersion against the release")
	}
}

// TestAuditPasses: budnet audits its own chart, as the issue asks, with the
// default --fail-on high: as installed without values and into its zone. The
// gate can fail: without the gateway's policy it does.
func TestAuditPasses(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{name: "defaults", args: []string{"audit", "--chart", chartDir, "--fail-on", "high"}, want: cli.ExitOK},
		{name: "into bud-infra", args: []string{"audit", "--chart", chartDir, "-n", "bud-infra", "--fail-on", "high"}, want: cli.ExitOK},
		{name: "without the gateway's policy", args: []string{"audit", "--chart", chartDir, "-n", "bud-infra",
			"--set", "egress.networkPolicy.enabled=false", "--set", "egress.namespaceDefaultDeny=false"}, want: cli.ExitFindings},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := cli.Execute(context.Background(), tt.args, cli.Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
			if code != tt.want {
				t.Errorf("exit %d, want %d\n%s%s", code, tt.want, out.String(), errOut.String())
			}
		})
	}
}
