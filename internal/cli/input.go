package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/spf13/pflag"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"

	"budnet/internal/diag"
	"budnet/internal/example"
	"budnet/internal/manifest"
	"budnet/internal/platform"
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

// validate checks the -f/--example choice of commands that read only
// manifests, then the reading options.
func (o *inputOptions) validate() error {
	switch {
	case o.Example && len(o.Files) > 0:
		return errors.New("--example and -f are mutually exclusive")
	case !o.Example && len(o.Files) == 0:
		return errors.New("no input: give -f FILE|DIR|- (repeatable) or --example")
	}
	return o.complete()
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
