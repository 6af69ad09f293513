#!/usr/bin/env bash
# Builds hack/dapr-check, the helper that decides Dapr service invocations
# with Dapr's own access-control code (github.com/dapr/dapr v1.18.0 pkg/acl),
# into ${BUDNET_CACHE:-/var/cache/budnet}/dapr-check-<version>/, rebuilding
# only when the helper's go.mod, go.sum or main.go change. Prints the binary's
# path on stdout (progress goes to stderr), for:
#
#   BUDNET_DAPR_CHECK="$(bash hack/ci-dapr-check.sh)"; export BUDNET_DAPR_CHECK
#
# A cold build (empty Go build cache, modules already downloaded) took
# 11 min 46 s wall, 174 s user + 27 s system CPU, on the shared 2-core
# machine at load 20-26 (so roughly 2 min on an idle one). 41 MB binary.
set -euo pipefail

DAPR_VERSION=v1.18.0
root=$(cd "$(dirname "$0")/.." && pwd)
src=$root/hack/dapr-check
cache=${BUDNET_CACHE:-/var/cache/budnet}
dir=$cache/dapr-check-$DAPR_VERSION
bin=$dir/dapr-check

log() { printf 'ci-dapr-check: %s\n' "$*" >&2; }

# shellcheck source=lib.sh
. "$root/hack/lib.sh"
cached_build "$DAPR_VERSION" "$src" "$dir" dapr-check . go.mod go.mod go.sum main.go
printf '%s\n' "$bin"
