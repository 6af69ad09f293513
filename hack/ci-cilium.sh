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

# build VERSION MODFILE: MODFILE's go.sum sits beside it with .sum for .mod.
build() {
	local version=$1 modfile=$2 sum=${2%.mod}.sum
	local dir=$cache/cilium-matchpattern-$version
	local want have=""
	want="$version $(cat "$src/$modfile" "$src/$sum" "$src/main.go" | sha256sum | cut -d' ' -f1)"
	[ -f "$dir/source.sha256" ] && have=$(cat "$dir/source.sha256")
	if [ -x "$dir/cilium-matchpattern" ] && [ "$have" = "$want" ]; then
		log "cilium-matchpattern $version cached in $dir"
		return
	fi
	mkdir -p "$dir"
	log "building cilium-matchpattern against cilium $version into $dir"
	local start=$SECONDS
	(cd "$src" && CGO_ENABLED=0 go build -modfile="$modfile" -trimpath -ldflags "-s -w" -o "$dir/cilium-matchpattern.tmp" .)
	mv -f "$dir/cilium-matchpattern.tmp" "$dir/cilium-matchpattern"
	printf '%s\n' "$want" >"$dir/source.sha256"
	log "built in $((SECONDS - start))s"
}

build v1.20.2 go.mod
build v1.18.6 go.v1.18.mod
printf '%s\n' "$cache"
