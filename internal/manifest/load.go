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

	"github.com/budnet/budnet/internal/diag"
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
	// Validation says what unknown and duplicate fields are, as kubectl's
	// --validate: errors (the zero value, kubectl's default), warnings, or
	// nothing. Values the API server refuses are errors in every mode.
	Validation Validation
	// AcceptInvalidValues reads values the API server refuses (names,
	// labels, ports, CIDRs) without error. Only tests of what renders
	// hostile text set it: no real object can carry such values.
	AcceptInvalidValues bool
	// AllowEmpty accepts an input with no Kubernetes objects; without it no
	// objects is an input error (ErrNoObjects), so a job pointed at the
	// wrong path cannot pass.
	AllowEmpty bool
}

// Validation is how strictly fields are checked, named as kubectl's --validate.
type Validation int

const (
	// ValidateStrict refuses unknown and duplicate fields (kubectl's default).
	ValidateStrict Validation = iota
	// ValidateWarn reports them as warnings and reads on.
	ValidateWarn
	// ValidateIgnore drops them silently; a duplicate's later value wins.
	ValidateIgnore
)

// ValidationValues are the --validate values, as kubectl documents them.
const ValidationValues = "strict (or true), warn, ignore (or false)"

func (v Validation) String() string {
	switch v {
	case ValidateWarn:
		return "warn"
	case ValidateIgnore:
		return "ignore"
	}
	return "strict"
}

// ParseValidation reads a --validate value with kubectl's names and aliases
// (k8s.io/kubectl/pkg/cmd/util.GetValidationDirective).
func ParseValidation(s string) (Validation, error) {
	switch s {
	case "strict", "true":
		return ValidateStrict, nil
	case "warn":
		return ValidateWarn, nil
	case "ignore", "false":
		return ValidateIgnore, nil
	}
	return 0, fmt.Errorf("--validate %q: want %s", s, ValidationValues)
}

// ErrNoObjects is wrapped by the input error of an input without objects.
var ErrNoObjects = errors.New("no Kubernetes objects")

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
			l.inputs = append(l.inputs, inputSummary{name: StdinName, kind: "stdin"})
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
	l.inputs = append(l.inputs, inputSummary{name: name, kind: "file"})
	l.addFile(name, data)
	return l.finish()
}

type loader struct {
	opts     Options
	log      *slog.Logger
	objects  []*Object
	errs     []error
	warnings []Warning
	// inputs say what was read, for the error of an empty input.
	inputs []inputSummary
	// live is set for objects read from a cluster: its API server validated them.
	live bool
}

// inputSummary is one input argument and what it held.
type inputSummary struct {
	name string
	kind string // file, directory, stdin, chart, cluster
	// files are the manifest files read (directories), docs the YAML
	// documents, skipped the other files a directory held.
	files, docs, skipped int
	// detail replaces the counts (charts, clusters).
	detail string
}

func (s inputSummary) String() string {
	plural := func(n int, what string) string {
		if n == 1 {
			return "1 " + what
		}
		return fmt.Sprintf("%d %ss", n, what)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s, ", s.name, s.kind)
	switch {
	case s.detail != "":
		b.WriteString(s.detail)
	case s.kind == "directory":
		b.WriteString(plural(s.files, "manifest file"))
		if s.files > 0 {
			b.WriteString(", " + plural(s.docs, "document"))
		}
		if s.skipped > 0 {
			fmt.Fprintf(&b, "; %s skipped", plural(s.skipped, "other file"))
		}
	default:
		b.WriteString(plural(s.docs, "document"))
	}
	b.WriteByte(')')
	return b.String()
}

func newLoader(opts Options) *loader {
	return &loader{opts: opts, log: opts.logger()}
}

func (l *loader) finish() (*Inventory, error) {
	if len(l.errs) > 0 {
		return nil, diag.Join(l.errs...)
	}
	if len(l.objects) == 0 && !l.opts.AllowEmpty {
		return nil, l.emptyError()
	}
	return build(l.objects, l.warnings, l.log), nil
}

// emptyError says what was read when it held no object: a CI job pointed at
// the wrong path must fail, not pass an empty audit.
func (l *loader) emptyError() error {
	read := make([]string, len(l.inputs))
	for i, in := range l.inputs {
		read[i] = in.String()
	}
	return &diag.InputError{
		Err: fmt.Errorf("%w in the input: %s; check the path, or pass --allow-empty to accept an empty input",
			ErrNoObjects, strings.Join(read, ", ")),
	}
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
	l.inputs[len(l.inputs)-1].docs = l.addFile(StdinName, data)
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
		l.inputs = append(l.inputs, inputSummary{name: path, kind: "file"})
		l.inputs[len(l.inputs)-1].docs = l.readFile(path, info)
		return nil
	}
	l.inputs = append(l.inputs, inputSummary{name: path, kind: "directory"})
	sum := &l.inputs[len(l.inputs)-1]
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
		if d.IsDir() {
			return nil
		}
		if !isManifestName(d.Name()) {
			sum.skipped++
			return nil
		}
		info, err := os.Stat(p) // follows symlinks to files
		if err != nil {
			l.errs = append(l.errs, &diag.InputError{File: p, Msg: "cannot read", Err: unwrapPathError(err)})
			return nil
		}
		if info.Mode().IsRegular() {
			sum.files++
			sum.docs += l.readFile(p, info)
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

// readFile reads and adds one file; it returns how many documents it held.
func (l *loader) readFile(path string, info fs.FileInfo) int {
	limit := l.opts.maxFileSize()
	if info.Size() > limit {
		l.errs = append(l.errs, tooLarge(path, info.Size(), limit))
		return 0
	}
	f, err := os.Open(path)
	if err != nil {
		l.errs = append(l.errs, &diag.InputError{File: path, Msg: "cannot read", Err: unwrapPathError(err)})
		return 0
	}
	defer f.Close()
	data, err := readLimited(f, limit)
	if err != nil {
		var big *sizeError
		if errors.As(err, &big) {
			l.errs = append(l.errs, tooLarge(path, big.size, limit))
			return 0
		}
		l.errs = append(l.errs, &diag.InputError{File: path, Msg: "cannot read", Err: unwrapPathError(err)})
		return 0
	}
	return l.addFile(path, data)
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
