#!/usr/bin/env bash
# Builds a release into a temporary directory (hack/release.sh: four static
# archives, SBOMs, the OCI image, the krew manifest, SHA256SUMS) and runs
# hack/image's tests over it. krew and its manifest validator are installed
# once into ${BUDNET_CACHE:-/var/cache/budnet}/krew-<version>.
#
#   bash hack/ci-release.sh        # CI: one line in .ci/run
#
# A cold run compiles budnet for four platforms: tens of CPU-minutes.
set -euo pipefail

KREW_VERSION=v0.4.3
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${BUDNET_CACHE:-/var/cache/budnet}
krew=$cache/krew-$KREW_VERSION

log() { printf 'ci-release: %s\n' "$*" >&2; }

if [ ! -x "$krew/krew" ] || [ ! -x "$krew/validate-krew-manifest" ]; then
	log "installing krew $KREW_VERSION into $krew"
	mkdir -p "$krew"
	GOBIN=$krew GOFLAGS='' go install "sigs.k8s.io/krew/cmd/krew@$KREW_VERSION" "sigs.k8s.io/krew/cmd/validate-krew-manifest@$KREW_VERSION"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export VERSION=${VERSION:-$(git -C "$root" describe --tags --match 'v[0-9]*' --dirty 2>/dev/null || echo "v0.0.0-dev.$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)")}
start=$SECONDS
DIST=$tmp/dist bash "$root/hack/release.sh" >/dev/null
log "release built in $((SECONDS - start))s"
(cd "$root/hack/image" && BUDNET_DIST=$tmp/dist BUDNET_VERSION=$VERSION BUDNET_KREW=$krew CI=${CI:-true} go test -count=1 ./...)
