// Package components is what hack/ci-daprd.sh builds as
// cmd/daprd/components of a copy of github.com/dapr/dapr v1.18.0, in place
// of that package's files: cmd/daprd/app imports it for its component
// registry. Upstream registers each component from a file guarded by
// `//go:build allcomponents` or `allcomponents || stablecomponents` (the
// Makefile's DAPR_SIDECAR_FLAVOR); either tag links every components-contrib
// SDK (AWS, Azure, GCP, Kafka, ...), which is too heavy to build on the
// shared CI machine, and without a tag its zz_notag.go panics at start. This
// is that package with one component: the SQLite name resolver (the same
// lines as upstream's nameresolution_sqlite.go), so sidecars on one host
// find each other by app id through a shared database file. The default
// self-hosted resolver, mDNS, multicasts on the host's interfaces; the
// Kubernetes one needs cluster DNS.

package components

import (
	"github.com/dapr/components-contrib/nameresolution/sqlite"
	nrLoader "github.com/dapr/dapr/pkg/components/nameresolution"
)

func init() {
	nrLoader.DefaultRegistry.RegisterComponent(sqlite.NewResolver, "sqlite")
}
