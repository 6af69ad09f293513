package manifest

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/budnet/budnet/internal/diag"
)

func fixture(parts ...string) string {
	return filepath.Join(append([]string{"testdata"}, parts...)...)
}

func mustLoad(t *testing.T, paths []string, opts Options) *Inventory {
	t.Helper()
	inv, err := Load(context.Background(), paths, opts)
	if err != nil {
		t.Fatalf("Load(%v): %v", paths, err)
	}
	return inv
}

// inputErrors flattens a joined error into its input errors, failing the
// test on any error that is not an *diag.InputError.
func inputErrors(t *testing.T, err error) []*diag.InputError {
	t.Helper()
	var out []*diag.InputError
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
			t.Errorf("error is not an input error: %v", e)
			return
		}
		out = append(out, ie)
	}
	walk(err)
	return out
}

func findObject(inv *Inventory, kind, name string) *Object {
	for _, o := range inv.Objects {
		if o.Kind == kind && o.Name == name {
			return o
		}
	}
	return nil
}

func bufferLogger() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, nil)), &buf
}
