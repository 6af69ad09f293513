package cli

import (
	"go/build"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestLayering pins the layering docs/design.md describes, from the
// packages' own import lists (non-test files):
//   - no package below cli imports cli;
//   - the engines (netpol, reach, infer, audit, report, diff) do no I/O of their
//     own: no os, os/exec, net/http or syscall;
//   - audit judges objects without the runtime gateway: it imports no egress
//     package but the leaf ones (allowlist, verdict, metricnames);
//   - the address sets several layers share live in internal/addrset, a
//     bottom package: only the gateway itself imports its guard.
func TestLayering(t *testing.T) {
	root := filepath.Join("..")
	imports := map[string][]string{} // package dir relative to internal -> budnet and std imports
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case !d.IsDir():
			return nil
		case d.Name() == "testdata":
			return filepath.SkipDir
		}
		pkg, err := build.Default.ImportDir(path, 0)
		if err != nil {
			return nil // no Go files
		}
		rel, _ := filepath.Rel(root, path)
		imports[filepath.ToSlash(rel)] = pkg.Imports
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(imports) < 15 {
		t.Fatalf("read only %d packages under internal/: the walk is broken", len(imports))
	}
	runtimeEgressOK := []string{"github.com/budnet/budnet/internal/egress/allowlist", "github.com/budnet/budnet/internal/egress/verdict", "github.com/budnet/budnet/internal/egress/metricnames"}
	for dir, imps := range imports {
		for _, imp := range imps {
			if imp == "github.com/budnet/budnet/internal/cli" && dir != "cli" {
				t.Errorf("internal/%s imports cli: data flows from cli down, never up", dir)
			}
		}
		top := strings.SplitN(dir, "/", 2)[0]
		if slices.Contains([]string{"netpol", "reach", "infer", "audit", "report", "diff"}, top) {
			for _, imp := range imps {
				if slices.Contains([]string{"os", "os/exec", "net/http", "syscall"}, imp) {
					t.Errorf("internal/%s imports %s: engines take parsed objects and return values", dir, imp)
				}
			}
		}
		if top == "addrset" {
			for _, imp := range imps {
				if strings.Contains(imp, ".") {
					t.Errorf("internal/%s imports %s: the shared address sets are a bottom package (standard library only)", dir, imp)
				}
			}
		}
		if !strings.HasPrefix(dir, "egress") && !strings.HasPrefix(dir, "cli") {
			for _, imp := range imps {
				if imp == "github.com/budnet/budnet/internal/egress/guard" {
					t.Errorf("internal/%s imports the gateway's guard: the address sets live in internal/addrset", dir)
				}
			}
		}
		if top == "audit" {
			for _, imp := range imps {
				if strings.HasPrefix(imp, "github.com/budnet/budnet/internal/egress") && !slices.Contains(runtimeEgressOK, imp) {
					t.Errorf("internal/%s imports the runtime gateway package %s", dir, imp)
				}
			}
		}
	}
}
