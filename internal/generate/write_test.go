package generate_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/budnet/budnet/internal/diag"
	"github.com/budnet/budnet/internal/generate"
)

// TestWriteDirWritesNothingOnError: a file that cannot be rendered or named
// fails the whole write before anything reaches the target directory.
func TestWriteDirWritesNothingOnError(t *testing.T) {
	good := generate.File{Name: "00-ok.yaml", Concern: "ok", Objects: []*unstructured.Unstructured{
		generate.Object("v1", "Namespace", "", "ok", "spec.zones[0] (ok)", "", nil)}}
	unrenderable := generate.File{Name: "10-bad.yaml", Concern: "bad", Objects: []*unstructured.Unstructured{
		{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "data": map[string]any{"x": make(chan int)}}}}}
	tests := []struct {
		name  string
		files []generate.File
	}{
		{name: "unrenderable object", files: []generate.File{good, unrenderable}},
		{name: "path outside the directory", files: []generate.File{good, {Name: "../escape.yaml", Raw: []byte("x")}}},
		{name: "absolute path", files: []generate.File{good, {Name: "/etc/x.yaml", Raw: []byte("x")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "out")
			if err := generate.WriteDir(dir, tt.files, false); err == nil {
				t.Fatal("WriteDir succeeded")
			}
			entries, err := os.ReadDir(parent)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 0 {
				t.Errorf("left behind: %v", entries)
			}
		})
	}
}

func TestWriteDirRefusesNonEmpty(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := generate.WriteDir(dir, []generate.File{{Name: "a.yaml", Raw: []byte("a")}}, false)
	if !errors.Is(err, generate.ErrNotEmpty) || !diag.IsInput(err) {
		t.Fatalf("got %v, want ErrNotEmpty as an input error", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a.yaml written: %v", err)
	}
}

func TestWriteStreamAndSummary(t *testing.T) {
	files, err := generate.Generate(loadModel(t, ""), generate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	skipped, err := generate.WriteStream(&b, files)
	if err != nil {
		t.Fatal(err)
	}
	// The embedded model sets spec.cloud.provider aws and registers no
	// cluster: the Terraform module is the only raw file besides
	// kustomization.yaml, which the stream leaves out without a word.
	if len(skipped) != 1 || skipped[0] != generate.FileCloudAWS {
		t.Errorf("skipped %v, want [%s]", skipped, generate.FileCloudAWS)
	}
	if want := "#   " + generate.FileCloudAWS + "\n"; !strings.HasSuffix(b.String(), want) {
		t.Errorf("the stream does not end by naming the file it left out (%q)", want)
	}
	if strings.Contains(b.String(), "kustomization.yaml") {
		t.Error("the stream mentions kustomization.yaml")
	}
	objects := 0
	for _, f := range files {
		objects += len(f.Objects)
	}
	if docs := strings.Count(b.String(), "# Source: "); docs != objects {
		t.Errorf("%d documents in the stream, want %d", docs, objects)
	}
	b.Reset()
	if err := generate.Summary(&b, files, "out/"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"20-networkpolicies.yaml", "NetworkPolicy x", "Namespace x6", "kustomization.yaml", generate.FileCloudAWS} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
}
