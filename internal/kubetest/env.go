// Package kubetest runs a real etcd and kube-apiserver on loopback for
// integration tests, with the CRDs of the projects budnet generates objects
// for (cert-manager, Dapr, Gateway API, Traefik, Cilium, prometheus-operator)
// installed from pinned files.
//
// The binaries come from hack/ci-kube.sh: Debian's etcd-server and a
// kube-apiserver built from k8s.io/kubernetes. sigs.k8s.io/controller-runtime's
// envtest drives them. Tests share one control plane per package through
// Harness; a missing binary skips the tests, except under CI=true where it
// fails them.
package kubetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// KubernetesVersion is the kube-apiserver release hack/ci-kube.sh builds and
// the cache directory is named after.
const KubernetesVersion = "v1.37.2"

// ErrAssetsMissing is returned by Start when etcd or kube-apiserver cannot be
// found. Harness turns it into a skip, or a failure under CI=true.
var ErrAssetsMissing = errors.New("control plane binaries missing (run hack/ci-kube.sh)")

// Options configures Start. The zero value starts a control plane with every
// pinned CRD installed, using the binaries hack/ci-kube.sh provides.
type Options struct {
	// AssetsDir holds the etcd and kube-apiserver binaries. Empty means
	// $KUBEBUILDER_ASSETS, else the cache directory hack/ci-kube.sh fills
	// (${BUDNET_CACHE:-/var/cache/budnet}/kube-apiserver-<version>).
	AssetsDir string
	// Projects limits the installed CRDs to these directories of crds/
	// (see Projects); nil installs all of them. A test that needs a CRD to be
	// missing starts its own Env with a smaller list.
	Projects []string
	// Logger receives start and stop progress; nil discards it.
	Logger *slog.Logger
}

// Env is a running control plane and clients for it with admin rights.
type Env struct {
	// Config connects as a member of system:masters.
	Config *rest.Config
	// Clientset is a typed client for Config.
	Clientset kubernetes.Interface
	// Dynamic is a dynamic client for Config, for custom resources.
	Dynamic dynamic.Interface
	// Mapper maps kinds to resources through discovery. Apply resets it when a
	// kind is unknown, so CRDs installed later are found.
	Mapper meta.ResettableRESTMapper

	testEnv *envtest.Environment
	log     *slog.Logger
}

// DefaultAssetsDir returns where the control plane binaries are looked for when
// Options.AssetsDir is empty.
func DefaultAssetsDir() string {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir
	}
	cache := os.Getenv("BUDNET_CACHE")
	if cache == "" {
		cache = "/var/cache/budnet"
	}
	return filepath.Join(cache, "kube-apiserver-"+KubernetesVersion)
}

// checkAssets reports ErrAssetsMissing unless dir holds both binaries.
func checkAssets(dir string) error {
	for _, name := range []string{"etcd", "kube-apiserver"} {
		path := filepath.Join(dir, name)
		info, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrAssetsMissing, path, err)
		}
		if info.IsDir() || info.Mode().Perm()&0o111 == 0 {
			return fmt.Errorf("%w: %s is not an executable file", ErrAssetsMissing, path)
		}
	}
	return nil
}

// Start launches etcd and kube-apiserver, installs the CRDs and waits until
// they are served. The caller must call Stop.
func Start(ctx context.Context, opts Options) (*Env, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	dir := opts.AssetsDir
	if dir == "" {
		dir = DefaultAssetsDir()
	}
	if err := checkAssets(dir); err != nil {
		return nil, err
	}
	crds, err := CRDs(opts.Projects...)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start control plane: %w", err)
	}

	testEnv := &envtest.Environment{
		// Explicit paths: envtest would otherwise prefer KUBEBUILDER_ASSETS
		// over the directory asked for.
		ControlPlane: envtest.ControlPlane{
			APIServer: &envtest.APIServer{Path: filepath.Join(dir, "kube-apiserver")},
			Etcd:      &envtest.Etcd{Path: filepath.Join(dir, "etcd")},
		},
		BinaryAssetsDirectory: dir,
		CRDInstallOptions: envtest.CRDInstallOptions{
			CRDs: crds,
		},
	}
	begin := time.Now()
	// envtest.Start takes no context; it is bounded by its own start timeout
	// (KUBEBUILDER_CONTROLPLANE_START_TIMEOUT, 20 s by default).
	cfg, err := testEnv.Start()
	if err != nil {
		// A half-started control plane still has processes to end.
		stopErr := testEnv.Stop()
		return nil, errors.Join(fmt.Errorf("start control plane from %s: %w", dir, err), stopErr)
	}
	logger.Info("control plane started", "assets", dir, "crds", len(crds), "elapsed", time.Since(begin).Round(time.Millisecond))

	env, err := newEnv(cfg, testEnv, logger)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("start control plane: %w", err), testEnv.Stop())
	}
	return env, nil
}

func newEnv(cfg *rest.Config, testEnv *envtest.Environment, logger *slog.Logger) (*Env, error) {
	clientset, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("typed client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(clientset.Discovery()))
	return &Env{
		Config:    cfg,
		Clientset: clientset,
		Dynamic:   dyn,
		Mapper:    mapper,
		testEnv:   testEnv,
		log:       logger,
	}, nil
}

// Stop ends kube-apiserver and then etcd. envtest stops them in that order,
// which matters: an apiserver whose etcd is gone can hang for minutes on
// SIGTERM.
func (e *Env) Stop() error {
	begin := time.Now()
	if err := e.testEnv.Stop(); err != nil {
		return fmt.Errorf("stop control plane: %w", err)
	}
	e.log.Info("control plane stopped", "elapsed", time.Since(begin).Round(time.Millisecond))
	return nil
}
