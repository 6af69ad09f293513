package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/spf13/pflag"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"

	"github.com/budnet/budnet/internal/diag"
	"github.com/budnet/budnet/internal/example"
	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
)

// inputOptions select the manifests a command judges and how strictly they
// are read; reach and audit share them (one home for --validate).
type inputOptions struct {
	Files      []string
	Example    bool
	Namespace  string
	Validate   string
	AllowEmpty bool

	validation manifest.Validation
}

func (o *inputOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringArrayVarP(&o.Files, "filename", "f", nil, "manifest file, directory (recursive) or - for stdin; repeatable")
	fs.BoolVar(&o.Example, "example", false, "use the embedded unhardened Bud AI Foundry deployment")
	fs.StringVarP(&o.Namespace, "namespace", "n", "", `namespace for objects that name none (default "default", as kubectl)`)
	fs.StringVar(&o.Validate, "validate", "strict", "unknown and duplicate fields, as kubectl: strict (or true) refuses them, warn reports them on stderr, ignore (or false) drops them")
	// As kubectl: a bare --validate means strict.
	fs.Lookup("validate").NoOptDefVal = "strict"
	fs.BoolVar(&o.AllowEmpty, "allow-empty", false, "accept an input with no Kubernetes objects (by default an input error, exit 2)")
}

// complete resolves --validate and checks -n as the API server checks a
// namespace name, for every input source.
func (o *inputOptions) complete() error {
	v, err := manifest.ParseValidation(o.Validate)
	if err != nil {
		return err
	}
	o.validation = v
	if o.Namespace != "" {
		if msgs := apivalidation.ValidateNamespaceName(o.Namespace, false); len(msgs) > 0 {
			return fmt.Errorf("-n %q: not a namespace name: %s", o.Namespace, strings.Join(msgs, "; "))
		}
	}
	return nil
}

// options are the loader options every input source shares.
func (o *inputOptions) options(streams Streams, log *slog.Logger) manifest.Options {
	return manifest.Options{Stdin: streams.In, DefaultNamespace: o.Namespace, Logger: log,
		Validation: o.validation, AllowEmpty: o.AllowEmpty}
}

// names lists the inputs for reports' metadata.
func (o *inputOptions) names() []string {
	if o.Example {
		name, _ := example.Unhardened()
		return []string{name}
	}
	return o.Files
}

// load reads the inventory; duplicates and other warnings go to log.
func (o *inputOptions) load(ctx context.Context, streams Streams, log *slog.Logger) (*manifest.Inventory, error) {
	opts := o.options(streams, log)
	if o.Example {
		name, data := example.Unhardened()
		inv, err := manifest.LoadBytes(name, data, opts)
		return inv, o.explain(err)
	}
	inv, err := manifest.Load(ctx, o.Files, opts)
	return inv, o.explain(err)
}

// unknownFieldHint follows strict-mode errors about unknown or duplicate
// fields: a manifest for a newer Kubernetes than budnet's types is the one
// case where reading on is right.
const unknownFieldHint = "unknown and duplicate fields are refused, as by kubectl's default --validate=strict; --validate=warn reads past them"

// explain adds unknownFieldHint to a load error that holds such fields.
func (o *inputOptions) explain(err error) error {
	if err == nil || o.validation != manifest.ValidateStrict {
		return err
	}
	var walk func(error) bool
	walk = func(e error) bool {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			return slices.ContainsFunc(j.Unwrap(), walk)
		}
		var ie *diag.InputError
		return errors.As(e, &ie) && (strings.HasPrefix(ie.Msg, "unknown field ") || strings.HasPrefix(ie.Msg, "duplicate field"))
	}
	if walk(err) {
		return diag.Join(err, errors.New(unknownFieldHint))
	}
	return err
}

// sourceOptions add a Helm chart and a live cluster to -f and --example, for
// the commands that read any of the four (audit, platform infer): one home for
// those flags, their rules and their loading.
type sourceOptions struct {
	input inputOptions

	Chart       string
	Values      []string
	Set         []string
	ReleaseName string

	Cluster       bool
	Kubeconfig    string
	Context       string
	AllNamespaces bool

	// isTerminal reports whether w is a terminal (progress); tests replace it.
	isTerminal func(w io.Writer) bool
}

// addFlags binds every input flag; verb completes the help text ("audit",
// "infer from").
func (o *sourceOptions) addFlags(fs *pflag.FlagSet, verb string) {
	o.input.addFlags(fs)
	fs.StringVar(&o.Chart, "chart", "", "render this Helm chart (directory or .tgz) in-process and "+verb+" its objects")
	fs.StringArrayVar(&o.Values, "values", nil, "with --chart: values file, repeatable (later files win)")
	fs.StringArrayVar(&o.Set, "set", nil, "with --chart: set a value (key=value, Helm syntax), repeatable")
	fs.StringVar(&o.ReleaseName, "release-name", "", `with --chart: release name (default "release-name", as helm template)`)
	fs.BoolVar(&o.Cluster, "cluster", false, "read the objects from a live cluster (read-only: discovery and list)")
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "", "with --cluster: kubeconfig file (default $KUBECONFIG or ~/.kube/config)")
	fs.StringVar(&o.Context, "context", "", "with --cluster: kubeconfig context (default the current one)")
	fs.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "with --cluster: read every namespace (the default without -n)")
}

// validate checks that exactly one source is given and that the flags of the
// other sources are not, then resolves the reading options.
func (o *sourceOptions) validate(verb string) error {
	var sources []string
	if o.input.Example {
		sources = append(sources, "--example")
	}
	if len(o.input.Files) > 0 {
		sources = append(sources, "-f")
	}
	if o.Chart != "" {
		sources = append(sources, "--chart")
	}
	if o.Cluster {
		sources = append(sources, "--cluster")
	}
	switch {
	case len(sources) == 0:
		return errors.New("no input: give -f FILE|DIR|- (repeatable), --example, --chart DIR|TGZ or --cluster")
	case len(sources) > 1:
		return fmt.Errorf("%s are mutually exclusive: %s one input at a time", strings.Join(sources, " and "), verb)
	}
	if o.Chart == "" && (len(o.Values) > 0 || len(o.Set) > 0 || o.ReleaseName != "") {
		return errors.New("--values, --set and --release-name need --chart")
	}
	if !o.Cluster && (o.Kubeconfig != "" || o.Context != "" || o.AllNamespaces) {
		return errors.New("--kubeconfig, --context and -A need --cluster")
	}
	if o.AllNamespaces && o.input.Namespace != "" {
		return errors.New("-A and -n are mutually exclusive")
	}
	return o.input.complete()
}

// load reads the inventory from the one source given, and says what it was
// (the report's source) and its names (the report's inputs).
func (o *sourceOptions) load(ctx context.Context, streams Streams) (*manifest.Inventory, string, []string, error) {
	logger := newLogger(streams)
	opts := o.input.options(streams, logger)
	switch {
	case o.Chart != "":
		inv, err := manifest.LoadChart(ctx, manifest.ChartOptions{
			Path: o.Chart, ValueFiles: o.Values, Set: o.Set, ReleaseName: o.ReleaseName,
		}, opts)
		return inv, "chart", []string{o.Chart}, o.input.explain(err)
	case o.Cluster:
		copts := manifest.ClusterOptions{Kubeconfig: o.Kubeconfig, Context: o.Context, Namespace: o.input.Namespace}
		if o.isTerminal != nil && o.isTerminal(streams.ErrOut) {
			copts.Progress = streams.ErrOut
		}
		// Objects from a cluster all name their namespace; no default applies.
		opts.DefaultNamespace = ""
		inv, err := manifest.LoadCluster(ctx, copts, opts)
		name := "cluster"
		if o.Context != "" {
			name += " (context " + o.Context + ")"
		}
		return inv, "cluster", []string{name}, err
	case o.input.Example:
		inv, err := o.input.load(ctx, streams, logger)
		return inv, "example", o.input.names(), err
	}
	inv, err := o.input.load(ctx, streams, logger)
	return inv, "files", o.input.names(), err
}

// loadPlatform reads the model: the file given, or the embedded Bud reference.
func loadPlatform(file string) (*platform.Platform, error) {
	if file == "" {
		p, err := platform.Default()
		if err != nil {
			return nil, fmt.Errorf("embedded Bud platform model: %w", err)
		}
		return p, nil
	}
	return platform.Load(file)
}

// newLogger logs warnings to stderr in the kubectl style ("Warning: ...").
func newLogger(streams Streams) *slog.Logger {
	return slog.New(slog.NewTextHandler(streams.ErrOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
