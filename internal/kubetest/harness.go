package kubetest

import (
	"context"
	"errors"
	"fmt"
	"github.com/budnet/budnet/internal/testenv"
	"os"
	"sync"
	"testing"
)

// Harness shares one control plane among the tests of a package: starting
// one takes seconds, so it is started on the first Env call and stopped when
// the package's tests are done. Typical use:
//
//	var harness = kubetest.NewHarness(kubetest.Options{})
//
//	func TestMain(m *testing.M) { os.Exit(harness.Run(m)) }
//
//	func TestSomething(t *testing.T) {
//		env := harness.Env(t)
//		...
//	}
//
// Tests sharing it must not depend on a clean cluster: use namespaces and
// cluster-scoped names of their own.
type Harness struct {
	opts Options

	once sync.Once
	mu   sync.Mutex
	env  *Env
	err  error
}

// NewHarness returns a Harness that starts its Env with opts.
func NewHarness(opts Options) *Harness {
	return &Harness{opts: opts}
}

// Env returns the shared Env, starting it on first use. When the binaries are
// missing it skips t, or fails t when the environment variable CI is "true",
// so CI can never pass by skipping. A failed start fails every caller.
func (h *Harness) Env(t testing.TB) *Env {
	t.Helper()
	h.once.Do(func() {
		env, err := Start(context.Background(), h.opts)
		h.mu.Lock()
		h.env, h.err = env, err
		h.mu.Unlock()
	})
	h.mu.Lock()
	env, err := h.env, h.err
	h.mu.Unlock()
	return envOrStop(t, env, err)
}

// Run runs the tests, then stops the Env if one was started. It returns the
// exit code for os.Exit; a failure to stop turns a passing run into a failing
// one, since it leaves processes behind.
func (h *Harness) Run(m *testing.M) int {
	code := m.Run()
	h.mu.Lock()
	env := h.env
	h.env = nil
	h.mu.Unlock()
	if env != nil {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "kubetest: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// ForTest starts an Env of its own for one test and stops it in t.Cleanup,
// for tests that need a different CRD set. It skips or fails like
// Harness.Env.
func ForTest(t testing.TB, opts Options) *Env {
	t.Helper()
	env, err := Start(t.Context(), opts)
	env = envOrStop(t, env, err)
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("kubetest: %v", err)
		}
	})
	return env
}

// envOrStop ends the test unless env started: a skip for missing binaries on
// a developer machine, a failure under CI=true or for any other error.
func envOrStop(t testing.TB, env *Env, err error) *Env {
	t.Helper()
	switch {
	case err == nil:
		return env
	case errors.Is(err, ErrAssetsMissing) && !testenv.CI():
		t.Skipf("kubetest: %v", err)
	default:
		t.Fatalf("kubetest: %v", err)
	}
	return nil
}
