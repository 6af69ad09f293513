package manifest

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	chartloader "helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"

	"github.com/budnet/budnet/internal/diag"
)

var (
	budmini       = fixture("charts", "budmini")
	budminiValues = fixture("charts", "values-budmini.yaml")
)

func TestLoadChart(t *testing.T) {
	inv, err := LoadChart(context.Background(), ChartOptions{Path: budmini, ValueFiles: []string{budminiValues}, ReleaseName: "bud"},
		Options{DefaultNamespace: "bud-system"})
	if err != nil {
		t.Fatalf("LoadChart: %v", err)
	}
	tests := []struct {
		name                        string
		kind, namespace, objectName string
		template, file              string
		line                        int
	}{
		{name: "release name and namespace applied", kind: "Deployment", namespace: "bud-system", objectName: "bud-budapp",
			template: "budmini/templates/deployment.yaml", file: filepath.Join(budmini, "templates", "deployment.yaml"), line: 1},
		{name: "second document of a template keeps its line", kind: "Service", namespace: "bud-system", objectName: "bud-budapp",
			template: "budmini/templates/deployment.yaml", file: filepath.Join(budmini, "templates", "deployment.yaml"), line: 27},
		{name: "explicit namespace kept", kind: "NetworkPolicy", namespace: "bud-data", objectName: "default-deny",
			template: "budmini/templates/networkpolicy.yaml", file: filepath.Join(budmini, "templates", "networkpolicy.yaml"), line: 1},
		{name: "duplicate across subcharts: the later (subchart) survives", kind: "ConfigMap", namespace: "bud-system", objectName: "shared-config",
			template: "budmini/templates/configmap.yaml", file: filepath.Join(budmini, "templates", "configmap.yaml"), line: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *Object
			for _, o := range inv.Objects {
				if o.Kind == tt.kind && o.Namespace == tt.namespace && o.Name == tt.objectName {
					got = o
				}
			}
			if got == nil {
				t.Fatalf("no %s %s/%s among %v", tt.kind, tt.namespace, tt.objectName, refs(inv))
			}
			if got.Source.Template != tt.template && !(tt.kind == "ConfigMap" && got.Source.Template == "budmini/charts/budsub/templates/configmap.yaml") {
				t.Errorf("Template = %q, want %q", got.Source.Template, tt.template)
			}
			if tt.kind != "ConfigMap" && (got.Source.File != tt.file || got.Source.Line != tt.line) {
				t.Errorf("Source = %s:%d, want %s:%d", got.Source.File, got.Source.Line, tt.file, tt.line)
			}
		})
	}
	if n := len(inv.Objects); n != 4 {
		t.Errorf("objects = %v, want 4 (NOTES.txt and the partial render none, the duplicate ConfigMap counts once)", refs(inv))
	}
	w := inv.Workload("Deployment", "bud-system", "bud-budapp")
	if w == nil || len(w.Containers) == 0 || w.Containers[0].Image != "budstudio/budapp:0.4.2" {
		t.Errorf("deployment image not rendered from the values file: %+v", w)
	}
	if w != nil && (w.Replicas == nil || *w.Replicas != 2) {
		t.Errorf("replicas = %v, want 2 from the values file", w.Replicas)
	}
	dup := false
	for _, warn := range inv.Warnings {
		if strings.Contains(warn.Msg, "duplicate ConfigMap bud-system/shared-config") &&
			warn.Source.Template == "budmini/templates/configmap.yaml" && warn.Other != nil &&
			warn.Other.Template == "budmini/charts/budsub/templates/configmap.yaml" {
			dup = true
		}
	}
	if !dup {
		t.Errorf("no duplicate warning naming both templates; warnings: %v", inv.Warnings)
	}
}

func refs(inv *Inventory) []string {
	var out []string
	for _, o := range inv.Objects {
		out = append(out, o.Ref()+"@"+o.Source.String())
	}
	return out
}

func TestLoadChartValues(t *testing.T) {
	tests := []struct {
		name    string
		chart   ChartOptions
		wantErr []string // substrings of the error; nil means success
		image   string
		objects int
	}{
		{name: "no values: Helm's required message and the hint",
			chart:   ChartOptions{Path: budmini},
			wantErr: []string{"image.tag is required: set it in your values", "budmini/templates/deployment.yaml", "pass --values FILE or --set key=value"}},
		{name: "--set alone renders", chart: ChartOptions{Path: budmini, Set: []string{"image.tag=1.2.3"}},
			image: "budstudio/budapp:1.2.3", objects: 4},
		{name: "--set wins over --values", chart: ChartOptions{Path: budmini, ValueFiles: []string{budminiValues}, Set: []string{"image.tag=9"}},
			image: "budstudio/budapp:9", objects: 4},
		{name: "subchart disabled by its condition", chart: ChartOptions{Path: budmini, Set: []string{"image.tag=1", "budsub.enabled=false"}},
			image: "budstudio/budapp:1", objects: 4},
		{name: "bad values file is an input error", chart: ChartOptions{Path: budmini, ValueFiles: []string{fixture("charts", "missing.yaml")}},
			wantErr: []string{"missing.yaml", "cannot read values"}},
		{name: "not a chart", chart: ChartOptions{Path: fixture("good")},
			wantErr: []string{"cannot load Helm chart"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := LoadChart(context.Background(), tt.chart, Options{DefaultNamespace: "bud"})
			if tt.wantErr != nil {
				if err == nil {
					t.Fatal("LoadChart succeeded, want an error")
				}
				if !diag.IsInput(err) {
					t.Errorf("error %v is not an input error", err)
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadChart: %v", err)
			}
			w := inv.Workload("Deployment", "bud", "release-name-budapp")
			if w == nil || w.Containers[0].Image != tt.image {
				t.Fatalf("deployment %+v, want image %s (release name defaults to release-name)", w, tt.image)
			}
			if len(inv.Objects) != tt.objects {
				t.Errorf("objects = %v, want %d", refs(inv), tt.objects)
			}
		})
	}
}

// TestLoadChartArchive renders the packaged chart, as `helm package` writes it.
func TestLoadChartArchive(t *testing.T) {
	ch, err := chartloader.Load(budmini)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tgz, err := chartutil.Save(ch, dir)
	if err != nil {
		t.Fatalf("package chart: %v", err)
	}
	inv, err := LoadChart(context.Background(), ChartOptions{Path: tgz, Set: []string{"image.tag=1"}}, Options{})
	if err != nil {
		t.Fatalf("LoadChart(%s): %v", tgz, err)
	}
	var templates []string
	for _, o := range inv.Objects {
		templates = append(templates, o.Source.File)
		if o.Source.File != o.Source.Template {
			t.Errorf("%s: File %q, want the template name %q for an archive", o.Ref(), o.Source.File, o.Source.Template)
		}
		if o.NamespaceDefaulted && o.Namespace != "default" {
			t.Errorf("%s: namespace %q, want default without -n", o.Ref(), o.Namespace)
		}
	}
	if !slices.Contains(templates, "budmini/templates/deployment.yaml") {
		t.Errorf("sources %v lack the deployment template", templates)
	}
	if _, err := os.Stat(tgz); err != nil {
		t.Fatal(err)
	}
}

// TestLoadChartDependencies renders a chart with Bitnami-style subcharts and
// checks that each dependency is enabled or disabled exactly as Helm decides
// (tags first, then conditions, which win; ProcessDependencies).
func TestLoadChartDependencies(t *testing.T) {
	budstack := fixture("charts", "budstack")
	tests := []struct {
		name string
		set  []string
		want []string // StatefulSets rendered
	}{
		{name: "defaults: postgresql on by its condition, valkey off by its condition, clickhouse off by its tag",
			want: []string{"bud-postgresql"}},
		{name: "a condition turns a subchart off", set: []string{"postgresql.enabled=false"}, want: nil},
		{name: "a condition turns a disabled subchart on", set: []string{"valkey.enabled=true"}, want: []string{"bud-postgresql", "bud-valkey"}},
		{name: "a tag turns a subchart on", set: []string{"tags.analytics=true"}, want: []string{"bud-clickhouse", "bud-postgresql"}},
		{name: "the condition wins over the tag", set: []string{"tags.analytics=true", "clickhouse.enabled=false"}, want: []string{"bud-postgresql"}},
		{name: "a non-boolean condition is ignored, as Helm ignores it: the subchart stays enabled", set: []string{"valkey.enabled=maybe"}, want: []string{"bud-postgresql", "bud-valkey"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := LoadChart(context.Background(), ChartOptions{Path: budstack, Set: tt.set, ReleaseName: "bud"}, Options{DefaultNamespace: "bud"})
			if err != nil {
				t.Fatalf("LoadChart: %v", err)
			}
			var got []string
			for _, o := range inv.ObjectsOfKind("StatefulSet") {
				got = append(got, o.Name)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("StatefulSets = %v, want %v", got, tt.want)
			}
			if inv.Workload("Deployment", "bud", "bud-budapp") == nil {
				t.Errorf("the parent chart's Deployment is missing: %v", refs(inv))
			}
		})
	}
}

// TestLoadChartMissingDependency: helm template refuses a chart whose
// Chart.yaml declares a dependency that charts/ lacks, enabled or not
// (action.CheckDependencies); budnet must not render the chart without it.
func TestLoadChartMissingDependency(t *testing.T) {
	budmissing := fixture("charts", "budmissing")
	_, err := LoadChart(context.Background(), ChartOptions{Path: budmissing}, Options{})
	if err == nil {
		t.Fatal("LoadChart succeeded; helm template fails on missing dependencies")
	}
	got := inputErrors(t, err)
	if len(got) != 1 {
		t.Fatalf("want one input error, got %v", err)
	}
	ie := got[0]
	if ie.File != filepath.Join(budmissing, "Chart.yaml") || ie.Line != 13 || ie.Field != "dependencies[2]" {
		t.Errorf("error at %s:%d %s, want %s:13 dependencies[2] (the first missing one)", ie.File, ie.Line, ie.Field, filepath.Join(budmissing, "Chart.yaml"))
	}
	for _, want := range []string{"found in Chart.yaml, but missing in charts/ directory: valkey, minio", "helm dependency build " + budmissing} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}
