package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/diag"
)

// FuzzLoadBytes feeds arbitrary bytes to the loader: it must never panic,
// every failure must be an input error naming the file, and every loaded
// object must carry its provenance and a consistent namespace.
func FuzzLoadBytes(f *testing.F) {
	for _, dir := range []string{"good", "bad"} {
		paths, _ := filepath.Glob(filepath.Join("testdata", dir, "*"))
		for _, p := range paths {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		strictInv, strictErr := LoadBytes("fuzz.yaml", data, Options{MaxNodes: 20000})
		if strictErr != nil {
			checkFuzzError(t, strictErr)
		}
		// Warn mode reads past unknown and duplicate fields: whatever strict
		// mode accepts, it accepts, and each warning names its line.
		inv, err := LoadBytes("fuzz.yaml", data, Options{MaxNodes: 20000, Validation: ValidateWarn})
		if err != nil {
			if strictErr == nil {
				t.Fatalf("warn mode refused what strict mode read: %v", err)
			}
			checkFuzzError(t, err)
			return
		}
		if strictErr == nil && len(strictInv.Objects) != len(inv.Objects) {
			t.Fatalf("strict read %d objects, warn %d", len(strictInv.Objects), len(inv.Objects))
		}
		for _, w := range inv.Warnings {
			if w.Source.File != "fuzz.yaml" || w.Source.Line < 1 {
				t.Fatalf("warning without file and line: %s", w)
			}
		}
		for _, o := range inv.Objects {
			if o.Source.File != "fuzz.yaml" || o.Source.Line < 1 || o.Node == nil || o.Unstructured == nil {
				t.Fatalf("object without provenance: %+v", o)
			}
			if o.Name == "" || o.Kind == "" || o.APIVersion == "" {
				t.Fatalf("object without identity: %+v", o)
			}
			if IsClusterScoped(o.APIVersion, o.Kind) != (o.Namespace == "") {
				t.Fatalf("%s: namespace %q inconsistent with scope", o.Ref(), o.Namespace)
			}
		}
		for _, ns := range inv.Namespaces {
			if ns.Labels[NamespaceNameLabel] != ns.Name {
				t.Fatalf("namespace %s without its name label", ns.Name)
			}
		}
		for _, w := range inv.Workloads {
			if w.Dapr != nil && w.Labels[DaprAppIDLabel] != w.Dapr.AppID {
				t.Fatalf("%s: app id label %q != %q", w.Ref(), w.Labels[DaprAppIDLabel], w.Dapr.AppID)
			}
		}
	})
}

func checkFuzzError(t *testing.T, err error) {
	t.Helper()
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, inner := range j.Unwrap() {
				walk(inner)
			}
			return
		}
		var ie *diag.InputError
		if !errors.As(e, &ie) {
			t.Fatalf("not an input error: %v", e)
		}
		if errors.Is(e, ErrNoObjects) {
			if !strings.Contains(e.Error(), "fuzz.yaml (file, ") {
				t.Fatalf("empty input error does not name what was read: %v", e)
			}
			return
		}
		if ie.File != "fuzz.yaml" {
			t.Fatalf("input error without the file name: %v", e)
		}
	}
	walk(err)
}
