#!/usr/bin/env bash
# Builds the peer proxies of the egress gateway benchmarks, idempotently.
#
#   smokescreen  github.com/stripe/smokescreen (its own main package, pinned in
#                hack/egress-peers/go.mod), built into
#                ${BUDNET_CACHE:-/var/cache/budnet}/smokescreen-<version>/ and
#                rebuilt only when hack/egress-peers' go.mod, go.sum or doc.go change.
#   squid        not built: Debian's package, used where installed
#                (apt-get install squid); the benchmarks find /usr/sbin/squid.
#
# The smokescreen binary's path is the only thing printed on stdout (progress
# goes to stderr), for:
#
#   BUDNET_SMOKESCREEN="$(bash hack/ci-egress-peers.sh)"; export BUDNET_SMOKESCREEN
#
# A cold build took 82 s wall (14 CPU-s, most of it module downloads) here.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
src=$root/hack/egress-peers
cache=${BUDNET_CACHE:-/var/cache/budnet}

log() { printf 'ci-egress-peers: %s\n' "$*" >&2; }

version=$(cd "$src" && go list -m -f '{{.Version}}' github.com/stripe/smokescreen)
dir=$cache/smokescreen-$version
# shellcheck source=lib.sh
. "$root/hack/lib.sh"
cached_build "$version" "$src" "$dir" smokescreen github.com/stripe/smokescreen go.mod go.mod go.sum doc.go
printf '%s\n' "$dir/smokescreen"
