package infer

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/budnet/budnet/internal/manifest"
)

// TestDeterministic infers twice, and over the fixture files in reverse
// order: the bytes are the same.
func TestDeterministic(t *testing.T) {
	files, err := filepath.Glob("testdata/bud/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	render := func(files []string) []byte {
		inv, err := manifest.Load(context.Background(), files, manifest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := Infer(inv, Options{})
		if err != nil {
			t.Fatal(err)
		}
		out, err := res.YAML()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	first := render(files)
	if again := render(files); !bytes.Equal(first, again) {
		t.Error("two runs differ")
	}
	reversed := slices.Clone(files)
	slices.Reverse(reversed)
	if other := render(reversed); !bytes.Equal(first, other) {
		t.Errorf("load order changes the output:\n%s\n---\n%s", first, other)
	}
}
