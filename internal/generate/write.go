package generate

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"sigs.k8s.io/yaml"

	"github.com/budnet/budnet/internal/diag"
)

// WriteDir writes files under dir. Everything is rendered first and written
// to a temporary directory beside dir, so a failure never leaves a partial
// set: a new dir appears whole by one rename. A dir that exists and is not
// empty is refused unless force; with force, the files are moved in one by
// one and files an earlier run generated (recognised by their header) that
// this run does not write are removed, while other files are left alone.
func WriteDir(dir string, files []File, force bool) error {
	rendered, err := renderAll(files)
	if err != nil {
		return err
	}
	exists, err := checkTarget(dir, force)
	if err != nil {
		return err
	}
	dir = filepath.Clean(dir)
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".budnet-")
	if err != nil {
		return fmt.Errorf("creating a temporary directory beside %s: %w", dir, err)
	}
	defer os.RemoveAll(tmp)
	for i, f := range files {
		if err := writeFile(filepath.Join(tmp, filepath.FromSlash(f.Name)), rendered[i]); err != nil {
			return err
		}
	}
	if !exists {
		if err := os.Chmod(tmp, 0o755); err != nil {
			return fmt.Errorf("setting the mode of %s: %w", tmp, err)
		}
		if err := os.Rename(tmp, dir); err != nil {
			return fmt.Errorf("moving the generated files to %s: %w", dir, err)
		}
		return nil
	}
	return replaceInto(dir, tmp, files)
}

func renderAll(files []File) ([][]byte, error) {
	out := make([][]byte, len(files))
	for i, f := range files {
		if !validName(f.Name) {
			return nil, fmt.Errorf("generated file name %q is not a relative path inside the output directory", f.Name)
		}
		data, err := f.Render()
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}

func validName(name string) bool {
	return name != "" && filepath.IsLocal(filepath.FromSlash(name)) && !strings.HasSuffix(name, "/")
}

// checkTarget reports whether dir exists, refusing a non-empty one without
// force and anything that is not a directory.
func checkTarget(dir string, force bool) (bool, error) {
	info, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, &diag.InputError{File: dir, Msg: "cannot read the output directory", Err: err}
	}
	if !info.IsDir() {
		return false, &diag.InputError{File: dir, Msg: "the output path exists and is not a directory"}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, &diag.InputError{File: dir, Msg: "cannot read the output directory", Err: err}
	}
	if len(entries) > 0 && !force {
		return false, &diag.InputError{File: dir, Msg: "refusing to write: use --force to replace budnet's files in it", Err: ErrNotEmpty}
	}
	return true, nil
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// replaceInto moves the files from tmp into the existing dir and removes
// stale generated files.
func replaceInto(dir, tmp string, files []File) error {
	keep := map[string]bool{}
	for _, f := range files {
		name := filepath.FromSlash(f.Name)
		keep[name] = true
		dst := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", filepath.Dir(dst), err)
		}
		if err := os.Rename(filepath.Join(tmp, name), dst); err != nil {
			return fmt.Errorf("moving %s into %s: %w", f.Name, dir, err)
		}
	}
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("cleaning %s: %w", dir, err)
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() || keep[rel] || !generatedByBudnet(path) {
			return nil
		}
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("removing the stale generated file %s: %w", path, err)
		}
		return nil
	})
}

// generatedByBudnet reports whether the file starts with budnet's header.
func generatedByBudnet(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	return strings.HasPrefix(line, headerPrefix)
}

// WriteStream writes the objects of every file to w as one multi-document
// YAML stream, each document preceded by a comment naming its file. Raw
// files (Terraform JSON, per-cluster kubeconfig templates) cannot join a
// YAML stream: a closing comment names them, so that a reader of the stream
// alone knows what it lacks, and their names are returned so the caller can
// say to use a directory instead. kustomization.yaml is left out: it only
// makes sense beside the files it lists.
func WriteStream(w io.Writer, files []File) (skipped []string, err error) {
	first := true
	for _, f := range files {
		if len(f.Objects) == 0 {
			if f.Name != FileKustomization {
				skipped = append(skipped, f.Name)
			}
			continue
		}
		for _, u := range f.Objects {
			data, err := yaml.Marshal(u.Object)
			if err != nil {
				return nil, fmt.Errorf("rendering %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
			}
			if !first {
				if _, err := io.WriteString(w, "---\n"); err != nil {
					return nil, fmt.Errorf("writing: %w", err)
				}
			}
			first = false
			if _, err := fmt.Fprintf(w, "# Source: %s\n%s", f.Name, data); err != nil {
				return nil, fmt.Errorf("writing: %w", err)
			}
		}
	}
	if len(skipped) > 0 {
		var b strings.Builder
		b.WriteString("# Not in this stream (not Kubernetes objects; write them with --output-dir DIR):\n")
		for _, name := range skipped {
			fmt.Fprintf(&b, "#   %s\n", name)
		}
		if _, err := io.WriteString(w, b.String()); err != nil {
			return nil, fmt.Errorf("writing: %w", err)
		}
	}
	return skipped, nil
}

// Summary writes what WriteDir would write, for --dry-run: per file its
// object count and kinds, or its size for raw files.
func Summary(w io.Writer, files []File, dest string) error {
	objects := 0
	for _, f := range files {
		objects += len(f.Objects)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "would write %d files (%d objects) to %s\n", len(files), objects, dest)
	for _, f := range files {
		if len(f.Objects) == 0 {
			fmt.Fprintf(tw, "  %s\t%d bytes\t%s\n", f.Name, len(f.Raw), f.Concern)
			continue
		}
		fmt.Fprintf(tw, "  %s\t%d objects\t%s\n", f.Name, len(f.Objects), kinds(f))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the summary: %w", err)
	}
	return nil
}

// kinds renders "NetworkPolicy x12, CiliumNetworkPolicy x3" in first-seen order.
func kinds(f File) string {
	var order []string
	count := map[string]int{}
	for _, u := range f.Objects {
		k := u.GetKind()
		if count[k] == 0 {
			order = append(order, k)
		}
		count[k]++
	}
	parts := make([]string, 0, len(order))
	for _, k := range slices.Clip(order) {
		parts = append(parts, fmt.Sprintf("%s x%d", k, count[k]))
	}
	return strings.Join(parts, ", ")
}
