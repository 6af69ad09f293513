// Package manifest loads Kubernetes objects from files, directories, stdin and
// embedded content into an Inventory: every object kept unstructured with its
// YAML node and file:line provenance, the kinds budnet reasons about (workloads,
// Services, NetworkPolicies, Namespaces) also typed, with what admission will
// add to the pods (the Dapr sidecar) applied and marked as inferred.
//
// Bad input is reported as *diag.InputError values naming file, line and
// field; one bad document fails the whole load, as kubectl apply does, but
// every bad document is reported at once.
package manifest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"budnet/internal/diag"
)

// DefaultMaxFileSize is the largest file (or stdin) Load reads unless
// Options.MaxFileSize says otherwise. Real rendered charts are well under
// 1 MiB; the limit keeps a stray 50 MB file out of the parser.
const DefaultMaxFileSize = 32 << 20

// DefaultMaxNodes bounds the YAML nodes one document may expand to once
// aliases are followed, so an alias bomb ("billion laughs") is refused
// instead of exhausting memory.
const DefaultMaxNodes = 1 << 20

// StdinName is the file name errors and sources use for standard input.
const StdinName = "<stdin>"

// Options control loading. The zero value is usable.
type Options struct {
	// Stdin is read for the path "-".
	Stdin io.Reader
	// DefaultNamespace is where namespaced objects without metadata.namespace
	// land; empty means "default", as kubectl without --namespace.
	DefaultNamespace string
	// MaxFileSize is the largest file accepted, in bytes; 0 means DefaultMaxFileSize.
	MaxFileSize int64
	// MaxNodes bounds a document's size after alias expansion; 0 means DefaultMaxNodes.
	MaxNodes int
	// Logger receives warnings (duplicates, injector refusals); nil discards them.
	Logger *slog.Logger
}

func (o Options) maxFileSize() int64 {
	if o.MaxFileSize > 0 {
		return o.MaxFileSize
	}
	return DefaultMaxFileSize
}

func (o Options) maxNodes() int {
	if o.MaxNodes > 0 {
		return o.MaxNodes
	}
	return DefaultMaxNodes
}

func (o Options) defaultNamespace() string {
	if o.DefaultNamespace != "" {
		return o.DefaultNamespace
	}
	return "default"
}

func (o Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Load reads paths (files, directories searched recursively for .yaml, .yml
// and .json files in sorted order, hidden entries skipped, and "-" for
// opts.Stdin) and builds the inventory. Input problems are *diag.InputError
// values, joined so that every bad document is reported at once.
func Load(ctx context.Context, paths []string, opts Options) (*Inventory, error) {
	if len(paths) == 0 {
		return nil, &diag.InputError{Msg: "no input: give files, directories or - for stdin"}
	}
	l := newLoader(opts)
	stdinRead := false
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("loading manifests: %w", err)
		}
		switch {
		case p == "-":
			if stdinRead {
				l.errs = append(l.errs, &diag.InputError{File: StdinName, Msg: `"-" given more than once`})
				continue
			}
			stdinRead = true
			l.readStdin()
		default:
			if err := l.readPath(ctx, p); err != nil {
				return nil, err
			}
		}
	}
	return l.finish()
}

// LoadBytes builds an inventory from in-memory content, such as the embedded
// example; name is the file name sources and errors use.
func LoadBytes(name string, data []byte, opts Options) (*Inventory, error) {
	l := newLoader(opts)
	l.addFile(name, data)
	return l.finish()
}

type loader struct {
	opts    Options
	log     *slog.Logger
	objects []*Object
	errs    []error
}

func newLoader(opts Options) *loader {
	return &loader{opts: opts, log: opts.logger()}
}

func (l *loader) finish() (*Inventory, error) {
	if len(l.errs) > 0 {
		return nil, diag.Join(l.errs...)
	}
	return build(l.objects, l.log), nil
}

func (l *loader) readStdin() {
	if l.opts.Stdin == nil {
		l.errs = append(l.errs, &diag.InputError{File: StdinName, Msg: "no standard input available"})
		return
	}
	data, err := readLimited(l.opts.Stdin, l.opts.maxFileSize())
	if err != nil {
		l.errs = append(l.errs, &diag.InputError{File: StdinName, Msg: "cannot read", Err: err})
		return
	}
	l.addFile(StdinName, data)
}

// readPath reads one argument. Only context cancellation is returned; input
// problems are collected.
func (l *loader) readPath(ctx context.Context, path string) error {
	info, err := os.Stat(path)
	if err != nil {
		l.errs = append(l.errs, &diag.InputError{File: path, Msg: "cannot read", Err: unwrapPathError(err)})
		return nil
	}
	if !info.IsDir() {
		l.readFile(path, info)
		return nil
	}
	return filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("loading manifests: %w", ctxErr)
		}
		if err != nil {
			l.errs = append(l.errs, &diag.InputError{File: p, Msg: "cannot read", Err: unwrapPathError(err)})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if p != path && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir // .git, .helm and editor directories
			}
			return nil
		}
		if d.IsDir() || !isManifestName(d.Name()) {
			return nil
		}
		info, err := os.Stat(p) // follows symlinks to files
		if err != nil {
			l.errs = append(l.errs, &diag.InputError{File: p, Msg: "cannot read", Err: unwrapPathError(err)})
			return nil
		}
		if info.Mode().IsRegular() {
			l.readFile(p, info)
		}
		return nil
	})
}

// isManifestName says which files of a directory are read. Terraform's JSON
// syntax (*.tf.json, which budnet generate writes beside the manifests) is not
// a Kubernetes manifest; a file named explicitly with -f is always read.
func isManifestName(name string) bool {
	if strings.HasSuffix(strings.ToLower(name), ".tf.json") {
		return false
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

func (l *loader) readFile(path string, info fs.FileInfo) {
	limit := l.opts.maxFileSize()
	if info.Size() > limit {
		l.errs = append(l.errs, tooLarge(path, info.Size(), limit))
		return
	}
	f, err := os.Open(path)
	if err != nil {
		l.errs = append(l.errs, &diag.InputError{File: path, Msg: "cannot read", Err: unwrapPathError(err)})
		return
	}
	defer f.Close()
	data, err := readLimited(f, limit)
	if err != nil {
		var big *sizeError
		if errors.As(err, &big) {
			l.errs = append(l.errs, tooLarge(path, big.size, limit))
			return
		}
		l.errs = append(l.errs, &diag.InputError{File: path, Msg: "cannot read", Err: unwrapPathError(err)})
		return
	}
	l.addFile(path, data)
}

type sizeError struct{ size int64 }

func (e *sizeError) Error() string { return fmt.Sprintf("more than %d bytes", e.size-1) }

// readLimited reads r, failing once more than limit bytes arrive, so a
// growing file or an endless pipe cannot exhaust memory.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, &sizeError{size: int64(len(data))}
	}
	return data, nil
}

func tooLarge(path string, size, limit int64) error {
	return diag.Errorf(path, 0, "", "file is %s, larger than the %s limit; split it or raise the limit",
		humanBytes(size), humanBytes(limit))
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// unwrapPathError drops the *fs.PathError wrapper, whose text repeats the
// file name the InputError already names.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
