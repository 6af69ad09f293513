package manifest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	chartloader "helm.sh/helm/v4/pkg/chart/v2/loader"
	depsutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
	"helm.sh/helm/v4/pkg/strvals"

	"github.com/budnet/budnet/internal/diag"
	"github.com/budnet/budnet/internal/yamlsrc"
)

// ChartOptions say how to render a Helm chart, as `helm template` takes them.
type ChartOptions struct {
	// Path is a chart directory or a packaged chart (.tgz).
	Path string
	// ValueFiles are --values files, merged in order (later ones win).
	ValueFiles []string
	// Set are --set key=value expressions, applied after the files.
	Set []string
	// ReleaseName is .Release.Name; empty means "release-name", as `helm template`.
	ReleaseName string
}

// DefaultReleaseName is the release name `helm template` uses when none is given.
const DefaultReleaseName = "release-name"

// notesFile is the template Helm renders as release notes, never as objects.
const notesFile = "NOTES.txt"

// LoadChart renders a chart in-process with the Helm SDK, client-only, as
// `helm template` would, and loads the objects it renders. Subcharts come from
// the chart's charts/ directory (dependency conditions and tags applied);
// NOTES.txt and partials (_*.tpl) render no objects; the hooks `helm template`
// prints are kept, since they run in the cluster too. Namespaced objects that
// name no namespace land in opts.DefaultNamespace, the release namespace.
// Each object's Source.Template names the template that rendered it
// ("mychart/charts/sub/templates/x.yaml"), Source.Line is the line in that
// template's rendered output, and Source.File the template's file on disk
// (the template name for a packaged chart).
func LoadChart(ctx context.Context, chart ChartOptions, opts Options) (*Inventory, error) {
	rendered, err := RenderChart(ctx, chart, opts.defaultNamespace())
	if err != nil {
		return nil, err
	}
	l := newLoader(opts)
	l.inputs = append(l.inputs, inputSummary{name: chart.Path, kind: "Helm chart",
		detail: fmt.Sprintf("%d templates rendered to YAML", len(rendered))})
	names := make([]string, 0, len(rendered))
	for name := range rendered {
		names = append(names, name)
	}
	slices.Sort(names)
	dir := chartDir(chart.Path)
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("loading chart %s: %w", chart.Path, err)
		}
		file := name
		if dir != "" {
			// The first element of a template name is the top chart's name,
			// which need not be its directory's.
			if _, rest, ok := strings.Cut(name, "/"); ok {
				file = filepath.Join(dir, filepath.FromSlash(rest))
			}
		}
		first := len(l.objects)
		l.addFile(file, []byte(rendered[name]))
		for _, o := range l.objects[first:] {
			o.Source.Template = name
		}
	}
	return l.finish()
}

// RenderChart renders the chart's templates with the given values, release
// name and namespace, and returns the manifests by template name, without
// NOTES.txt, partials or templates that render to nothing.
func RenderChart(ctx context.Context, opts ChartOptions, namespace string) (map[string]string, error) {
	ch, err := chartloader.Load(opts.Path)
	if err != nil {
		return nil, &diag.InputError{File: opts.Path, Msg: "cannot load Helm chart", Err: err}
	}
	if err := checkDependencies(opts.Path, ch); err != nil {
		return nil, err
	}
	vals, err := mergeValues(opts)
	if err != nil {
		return nil, err
	}
	// Helm's own function decides which subcharts are enabled: tags first,
	// then conditions, which win; a non-boolean condition is ignored.
	if err := depsutil.ProcessDependencies(ch, vals); err != nil {
		return nil, &diag.InputError{File: opts.Path, Msg: "chart dependencies", Err: err}
	}
	release := opts.ReleaseName
	if release == "" {
		release = DefaultReleaseName
	}
	// As `helm template`: an install of revision 1 against Helm's default
	// capabilities, with no cluster to ask.
	caps := common.DefaultCapabilities.Copy()
	renderVals, err := chartutil.ToRenderValuesWithSchemaValidation(ch, vals,
		common.ReleaseOptions{Name: release, Namespace: namespace, Revision: 1, IsInstall: true}, caps, false)
	if err != nil {
		return nil, renderError(opts, err)
	}
	files, err := engine.Engine{}.RenderWithContext(ctx, ch, renderVals)
	if err != nil {
		return nil, renderError(opts, err)
	}
	out := make(map[string]string, len(files))
	for name, content := range files {
		base := path.Base(name)
		if base == notesFile || strings.HasPrefix(base, "_") || strings.TrimSpace(content) == "" {
			continue
		}
		out[name] = content
	}
	return out, nil
}

// checkDependencies fails as `helm template` and `helm install` fail when
// Chart.yaml declares a dependency that charts/ lacks, enabled or not: the
// check of action.CheckDependencies (helm.sh/helm/v4 pkg/action/install.go),
// which compares each declared name with the loaded subcharts' names, with
// the hint of pkg/cmd/install.go. It is restated here because importing
// pkg/action would add Helm's registry, storage (SQL drivers) and plugin
// (WebAssembly) clients to budnet's module for this one loop.
func checkDependencies(chartPath string, ch *chart.Chart) error {
	var missing []string
	first := -1
outer:
	for i, req := range ch.Metadata.Dependencies {
		for _, sub := range ch.Dependencies() {
			if sub.Name() == req.Name {
				continue outer
			}
		}
		if first < 0 {
			first = i
		}
		missing = append(missing, req.Name)
	}
	if len(missing) == 0 {
		return nil
	}
	ie := &diag.InputError{
		File: chartPath,
		Msg: fmt.Sprintf("found in Chart.yaml, but missing in charts/ directory: %s; run 'helm dependency build %s' to fetch them (helm template fails the same way)",
			strings.Join(missing, ", "), chartPath),
	}
	if dir := chartDir(chartPath); dir != "" {
		ie.File = filepath.Join(dir, "Chart.yaml")
		ie.Field = fmt.Sprintf("dependencies[%d]", first)
		if data, err := os.ReadFile(ie.File); err == nil {
			if docs, err := yamlsrc.Parse(ie.File, data); err == nil && len(docs) > 0 {
				ie.Line = yamlsrc.LineOf(docs[0].Root, ie.Field)
			}
		}
	}
	return ie
}

// mergeValues merges --values files in order, then --set expressions, as
// Helm's values.Options.MergeValues does for local files (that package would
// pull Helm's registry and plugin clients into budnet for nothing).
func mergeValues(opts ChartOptions) (map[string]any, error) {
	base := map[string]any{}
	for _, f := range opts.ValueFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, &diag.InputError{File: f, Msg: "cannot read values", Err: unwrapPathError(err)}
		}
		m, err := chartloader.LoadValues(bytes.NewReader(data))
		if err != nil {
			return nil, &diag.InputError{File: f, Msg: "cannot parse values", Err: err}
		}
		base = chartloader.MergeMaps(base, m)
	}
	for _, s := range opts.Set {
		if err := strvals.ParseInto(s, base); err != nil {
			return nil, &diag.InputError{Msg: fmt.Sprintf("--set %q", s), Err: err}
		}
	}
	return base, nil
}

// renderError keeps Helm's own message and, when the chart was rendered
// without values, says how to give them.
func renderError(opts ChartOptions, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("rendering chart %s: %w", opts.Path, err)
	}
	if len(opts.ValueFiles) == 0 && len(opts.Set) == 0 {
		err = fmt.Errorf("%w (no values were given: pass --values FILE or --set key=value)", err)
	}
	return &diag.InputError{File: opts.Path, Msg: "cannot render Helm chart", Err: err}
}

// chartDir returns the chart's directory, or "" for a packaged chart.
func chartDir(p string) string {
	if info, err := os.Stat(p); err == nil && info.IsDir() {
		return p
	}
	return ""
}
