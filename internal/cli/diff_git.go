package cli

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// gitRequest is what --base-ref reads: the head's paths as they are at ref.
type gitRequest struct {
	ref                    string
	files                  []string
	chart                  string
	headValues, baseValues []string
}

// gitTree is the base checked out from git into a temporary directory: the
// paths to read instead of the head's, and the names to report them under
// ("REF:path").
type gitTree struct {
	dir     string
	files   []string
	chart   string
	values  []string
	names   []string
	missing []string // head paths that do not exist at ref
}

// checkoutBase writes the head's files, directories or chart (and the
// chart's values files that are in the repository, unless the base has its
// own) as they are at req.ref into a temporary directory, with
// `git archive`, which reads the repository's objects and touches no work
// tree. The caller removes tree.dir.
func checkoutBase(ctx context.Context, req gitRequest) (tree *gitTree, err error) {
	if strings.HasPrefix(req.ref, "-") {
		return nil, errors.New("a ref cannot start with '-'")
	}
	first := req.chart
	if first == "" {
		first = req.files[0]
	}
	root, err := repoRoot(ctx, first)
	if err != nil {
		return nil, err
	}
	if _, err := git(ctx, root, "rev-parse", "--verify", "--quiet", req.ref+"^{commit}"); err != nil {
		return nil, fmt.Errorf("not a commit, branch or tag of the repository at %s", root)
	}
	tree = &gitTree{}
	var wanted []string // repository-relative paths to archive
	rel := func(p string) (string, bool, error) {
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", false, err
		}
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			abs = real
		}
		r, err := filepath.Rel(root, abs)
		if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			return "", false, nil
		}
		return filepath.ToSlash(r), true, nil
	}
	exists := func(r string) bool {
		_, err := git(ctx, root, "cat-file", "-e", req.ref+":"+r)
		return err == nil
	}
	take := func(p string, into *[]string) error {
		r, inRepo, err := rel(p)
		if err != nil {
			return err
		}
		if !inRepo {
			return fmt.Errorf("%s is outside the repository at %s", p, root)
		}
		if !exists(r) {
			tree.missing = append(tree.missing, p)
			return nil
		}
		wanted = append(wanted, r)
		*into = append(*into, r)
		tree.names = append(tree.names, req.ref+":"+r)
		return nil
	}
	var files, chart, values []string
	for _, f := range req.files {
		if err := take(f, &files); err != nil {
			return nil, err
		}
	}
	if req.chart != "" {
		if err := take(req.chart, &chart); err != nil {
			return nil, err
		}
	}
	tree.values = req.baseValues
	if len(chart) > 0 && len(req.baseValues) == 0 {
		for _, v := range req.headValues {
			r, inRepo, err := rel(v)
			switch {
			case err != nil:
				return nil, err
			case !inRepo:
				tree.values = append(tree.values, v) // not versioned here: the same file
			case exists(r):
				wanted = append(wanted, r)
				values = append(values, r)
			default:
				return nil, fmt.Errorf("values file %s does not exist at %s: give the base's with --base-values", v, req.ref)
			}
		}
	}
	tree.dir, err = os.MkdirTemp("", "budnet-base-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tree.dir)
		}
	}()
	if len(wanted) > 0 {
		if err := archive(ctx, root, req.ref, wanted, tree.dir); err != nil {
			return nil, err
		}
	}
	local := func(r string) string { return filepath.Join(tree.dir, filepath.FromSlash(r)) }
	for _, r := range files {
		tree.files = append(tree.files, local(r))
	}
	if len(chart) > 0 {
		tree.chart = local(chart[0])
	}
	for _, r := range values {
		tree.values = append(tree.values, local(r))
	}
	return tree, nil
}

// repoRoot is the top of the work tree that holds path.
func repoRoot(ctx context.Context, path string) (string, error) {
	dir := path
	if fi, err := os.Stat(path); err == nil && !fi.IsDir() {
		dir = filepath.Dir(path)
	} else if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	out, err := git(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return "", fmt.Errorf("%s is not in a git repository (--base-ref reads the base from one): %w", path, err)
	}
	root := strings.TrimSpace(out)
	if real, err := filepath.EvalSymlinks(root); err == nil {
		root = real
	}
	return root, nil
}

// git runs a git command in dir and returns its standard output.
// Pathspecs are literal: a path is never read as a pattern.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_LITERAL_PATHSPECS=1", "GIT_TERMINAL_PROMPT=0")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(errOut.String()); msg != "" {
			return "", fmt.Errorf("git %s: %s", args[0], msg)
		}
		return "", fmt.Errorf("git %s: %w", args[0], err)
	}
	return out.String(), nil
}

// archive extracts paths at ref into dir with `git archive`: regular files
// and directories only, each kept under dir.
func archive(ctx context.Context, root, ref string, paths []string, dir string) error {
	args := append([]string{"-C", root, "archive", "--format=tar", ref, "--"}, paths...)
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Env = append(os.Environ(), "GIT_LITERAL_PATHSPECS=1")
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("git archive: %w", err)
	}
	extractErr := untar(stdout, dir)
	_, _ = io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("git archive: %s", strings.TrimSpace(errOut.String()))
	}
	return extractErr
}

func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading git archive: %w", err)
		}
		name := filepath.FromSlash(h.Name)
		if !filepath.IsLocal(name) {
			return fmt.Errorf("git archive: entry %q leaves the directory", h.Name)
		}
		target := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("extracting %s: %w", h.Name, err)
			}
		}
	}
}
