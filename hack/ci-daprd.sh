#!/usr/bin/env bash
# Builds daprd and sentry from github.com/dapr/dapr v1.18.0 (cmd/daprd and
# cmd/sentry, the version the CRDs are pinned to) into
# ${BUDNET_CACHE:-/var/cache/budnet}/daprd-<version>/, for the sidecar test
# in internal/generate (proof_daprd_test.go), rebuilding only when the helper
# module hack/daprd (go.mod, go.sum, components/components.go) or this
# script changes.
# Prints the directory holding both binaries on stdout (progress goes to
# stderr), for:
#
#   BUDNET_DAPRD="$(bash hack/ci-daprd.sh)"; export BUDNET_DAPRD
#
# daprd's component registry, the package cmd/daprd/components, registers
# each component from a file behind the allcomponents or stablecomponents
# build tag, which link every components-contrib SDK (too heavy for the
# shared CI machine); without either its zz_notag.go panics at start. The Go
# command refuses to overlay files under GOMODCACHE, so the script copies
# Dapr's module source (as the module proxy served it, checked against
# go.sum) into the cache, replaces that one package's files with
# hack/daprd/components/components.go (one component: the SQLite name
# resolver) and builds through a replace to the copy. Everything else is
# Dapr's code, unchanged.
#
# A cold build (empty Go build cache, modules already downloaded) took
# 25 min 20 s wall, 313 s user + 48 s system CPU, under nice -n 10 on the
# shared 2-core machine at load 30-35 (roughly 4 min on an idle one); it
# leaves 1.2 GB of build cache. daprd 63 MB, sentry 53 MB.
set -euo pipefail

DAPR_VERSION=v1.18.0
root=$(cd "$(dirname "$0")/.." && pwd)
src=$root/hack/daprd
cache=${BUDNET_CACHE:-/var/cache/budnet}
dir=$cache/daprd-$DAPR_VERSION

log() { printf 'ci-daprd: %s\n' "$*" >&2; }

# The script is hashed too: it decides what is built.
want="$DAPR_VERSION $(cat "$src/go.mod" "$src/go.sum" "$src/components/components.go" "$0" | sha256sum | cut -d' ' -f1)"
have=""
[ -f "$dir/source.sha256" ] && have=$(cat "$dir/source.sha256")
if [ -x "$dir/daprd" ] && [ -x "$dir/sentry" ] && [ "$have" = "$want" ]; then
	log "daprd and sentry $DAPR_VERSION cached in $dir"
	printf '%s\n' "$dir"
	exit 0
fi

mkdir -p "$dir"
log "building daprd and sentry $DAPR_VERSION into $dir"
start=$SECONDS
# A fixed path, so a rebuild after a failed one reuses the Go build cache.
work=$dir/build
rm -rf "$work"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"

upstream=$(cd "$src" && go mod download -json "github.com/dapr/dapr@$DAPR_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$upstream" ] || { log "github.com/dapr/dapr@$DAPR_VERSION: no module directory after go mod download"; exit 1; }
# Only what the build reads: Dapr's tests and fixtures are most of the module.
cp -r "$upstream" "$work/dapr"
chmod -R u+w "$work/dapr"
rm -rf "$work/dapr/tests" "$work/dapr/docs"
rm -f "$work/dapr/cmd/daprd/components/"*.go
cp "$src/components/components.go" "$work/dapr/cmd/daprd/components/components.go"

cp "$src/go.mod" "$work/go.mod"
cp "$src/go.sum" "$work/go.sum"
(cd "$src" && go mod edit -modfile="$work/go.mod" -replace "github.com/dapr/dapr=$work/dapr")

pkg=github.com/dapr/dapr/pkg/buildinfo
ldflags="-s -w -X $pkg.version=${DAPR_VERSION#v} -X $pkg.gitversion=$DAPR_VERSION"
for cmd in daprd sentry; do
	(cd "$src" && CGO_ENABLED=0 go build -modfile="$work/go.mod" -trimpath -ldflags "$ldflags" \
		-o "$dir/$cmd.tmp" "github.com/dapr/dapr/cmd/$cmd")
done
# A binary that cannot even print its version is not cached.
version=$("$dir/daprd.tmp" --version)
[ "$version" = "${DAPR_VERSION#v}" ] || { log "daprd --version says $version, want ${DAPR_VERSION#v}"; exit 1; }
for cmd in daprd sentry; do
	mv -f "$dir/$cmd.tmp" "$dir/$cmd"
done
printf '%s\n' "$want" >"$dir/source.sha256"
log "built in $((SECONDS - start))s: daprd $version $(du -h "$dir/daprd" | cut -f1), sentry $(du -h "$dir/sentry" | cut -f1)"
printf '%s\n' "$dir"
