package generate_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/budnet/budnet/internal/generate"
	"github.com/budnet/budnet/internal/testenv"
)

// harnessBinary is the path of a helper binary that a hack/ci-<name>.sh
// script builds into the cache: $env when set, else
// ${BUDNET_CACHE:-/var/cache/budnet}/<dir>/<name>. Without it the test is
// skipped on a developer machine and fails under CI=true, so CI never
// passes by skipping.
func harnessBinary(t *testing.T, env, dir, name string) string {
	t.Helper()
	path := os.Getenv(env)
	if path == "" {
		cache := os.Getenv("BUDNET_CACHE")
		if cache == "" {
			cache = "/var/cache/budnet"
		}
		path = filepath.Join(cache, dir, name)
	}
	if fi, err := os.Stat(path); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		msg := name + " not found at " + path + " (build it with: bash hack/ci-" + name + ".sh, or set " + env + ")"
		testenv.Missing(t, "%s", msg)
	}
	return path
}

// runHarness runs a helper binary with stdin and returns its stdout; a
// non-zero exit is returned as an error carrying stderr.
func runHarness(t *testing.T, bin string, stdin []byte, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, errors.Join(err, errors.New(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// writeStream renders files as one YAML stream into a temporary file.
func writeStream(t *testing.T, files []generate.File) string {
	t.Helper()
	var buf bytes.Buffer
	if _, err := generate.WriteStream(&buf, files); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "out.yaml")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
