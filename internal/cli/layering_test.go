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
//   - audit and generate import no runtime package, directly or through
//     another budnet package: not the egress gateway's serving code (any
//     egress package but the leaf ones: allowlist, verdict, metricnames),
//     the controller, the admission webhook or the TLS prober. What they
//     need of the model's meaning (host patterns, what the egress flows
//     allow) lives in internal/platform, and the gateway builds from it;
//   - the model (platform) and the bottom packages sit below every
//     component: platform imports no egress, netpol, reach, audit,
//     generate, controller, admission or tlsprobe package;
//   - the metric names budnet's alerts and audit's alert check read are
//     leaf packages that import nothing: internal/alertmetrics (the
//     exporters') and internal/egress/metricnames (the gateway's);
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
		if dir == "alertmetrics" || dir == "egress/metricnames" {
			if len(imps) > 0 {
				t.Errorf("internal/%s imports %v: the metric names alerts and audit read are a leaf package", dir, imps)
			}
		}
		if top == "platform" {
			for _, imp := range imps {
				for _, above := range []string{"egress", "netpol", "reach", "audit", "generate", "controller", "admission", "tlsprobe", "manifest", "infer"} {
					if imp == budnet+above || strings.HasPrefix(imp, budnet+above+"/") {
						t.Errorf("internal/%s imports %s: the model sits below the components that read it", dir, imp)
					}
				}
			}
		}
	}
	runtime := func(imp string) bool {
		if strings.HasPrefix(imp, budnet+"egress") {
			return !slices.Contains(runtimeEgressOK, imp)
		}
		for _, r := range []string{"controller", "admission", "tlsprobe"} {
			if imp == budnet+r || strings.HasPrefix(imp, budnet+r+"/") {
				return true
			}
		}
		return false
	}
	for _, judge := range []string{"audit", "generate"} {
		if _, ok := imports[judge]; !ok {
			t.Fatalf("no package internal/%s: the walk is broken", judge)
		}
		// Walk the budnet imports from the package, so a runtime package
		// reached through another one counts too; path says how.
		path := map[string]string{budnet + judge: "internal/" + judge}
		queue := []string{budnet + judge}
		for len(queue) > 0 {
			pkg := queue[0]
			queue = queue[1:]
			for _, imp := range imports[strings.TrimPrefix(pkg, budnet)] {
				if !strings.HasPrefix(imp, budnet) {
					continue
				}
				if _, seen := path[imp]; seen {
					continue
				}
				path[imp] = path[pkg] + " -> " + strings.TrimPrefix(imp, "github.com/budnet/budnet/")
				if runtime(imp) {
					t.Errorf("%s: %s imports a runtime package", path[imp], judge)
					continue
				}
				queue = append(queue, imp)
			}
		}
	}
}

// budnet is the import path prefix of budnet's internal packages.
const budnet = "github.com/budnet/budnet/internal/"
