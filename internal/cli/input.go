package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/spf13/pflag"

	"budnet/internal/example"
	"budnet/internal/manifest"
	"budnet/internal/platform"
)

// inputOptions select the manifests a command judges; reach and audit share them.
type inputOptions struct {
	Files     []string
	Example   bool
	Namespace string
}

func (o *inputOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringArrayVarP(&o.Files, "filename", "f", nil, "manifest file, directory (recursive) or - for stdin; repeatable")
	fs.BoolVar(&o.Example, "example", false, "use the embedded unhardened Bud AI Foundry deployment")
	fs.StringVarP(&o.Namespace, "namespace", "n", "", `namespace for objects that name none (default "default", as kubectl)`)
}

func (o *inputOptions) validate() error {
	switch {
	case o.Example && len(o.Files) > 0:
		return errors.New("--example and -f are mutually exclusive")
	case !o.Example && len(o.Files) == 0:
		return errors.New("no input: give -f FILE|DIR|- (repeatable) or --example")
	}
	return nil
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
	opts := manifest.Options{Stdin: streams.In, DefaultNamespace: o.Namespace, Logger: log}
	if o.Example {
		name, data := example.Unhardened()
		return manifest.LoadBytes(name, data, opts)
	}
	return manifest.Load(ctx, o.Files, opts)
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
