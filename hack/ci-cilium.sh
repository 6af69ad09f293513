#!/usr/bin/env bash
# Builds hack/cilium-matchpattern, a small binary over Cilium's own
# pkg/fqdn/matchpattern, once per Cilium version the tests compare against,
# idempotently:
#
#   v1.20.2  go.mod: the version of the pinned Cilium CRDs
#            (internal/crds/VERSIONS.md), which reads "**." as any
#            number of labels (since v1.19.0)
#   v1.18.6  go.v1.18.mod: the last release line before v1.19, where "*"
#            and "**" match within one label only
#
# Each binary is cached in ${BUDNET_CACHE:-/var/cache/budnet}/cilium-matchpattern-<version>/,
# rebuilt only when the module's go.mod/go.sum pair or main.go change. The
# cache directory holding them is the only thing printed on stdout
# (progress goes to stderr), for:
#
#   BUDNET_CILIUM_MATCHPATTERN="$(bash hack/ci-cilium.sh)"; export BUDNET_CILIUM_MATCHPATTERN
#
# internal/generate's tests run $BUDNET_CILIUM_MATCHPATTERN/cilium-matchpattern-<version>/cilium-matchpattern.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
src=$root/hack/cilium-matchpattern
cache=${BUDNET_CACHE:-/var/cache/budnet}

log() { printf 'ci-cilium: %s\n' "$*" >&2; }

# shellcheck source=lib.sh
. "$root/hack/lib.sh"

# build VERSION MODFILE: MODFILE's go.sum sits beside it with .sum for .mod.
build() {
	cached_build "$1" "$src" "$cache/cilium-matchpattern-$1" cilium-matchpattern . "$2" "$2" "${2%.mod}.sum" main.go
}

build v1.20.2 go.mod
build v1.18.6 go.v1.18.mod
printf '%s\n' "$cache"
