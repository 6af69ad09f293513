#!/usr/bin/env bash
# Builds hack/coraza-check, the helper that loads budnet's generated Coraza
# WAF Middleware into the Coraza engine and Core Rule Set that the Traefik
# plugin github.com/jcchavezs/coraza-http-wasm-traefik v0.2.2 embeds
# (coraza/v3 v3.1.0, coraza-coreruleset/v4 v4.0.0), into
# ${BUDNET_CACHE:-/var/cache/budnet}/coraza-check-<plugin version>/,
# rebuilding only when the helper's go.mod, go.sum or main.go change. Prints
# the binary's path on stdout (progress goes to stderr), for:
#
#   BUDNET_CORAZA_CHECK="$(bash hack/ci-coraza-check.sh)"; export BUDNET_CORAZA_CHECK
#
# A cold build (empty Go build cache, modules already downloaded) took
# 2 min 5 s wall, 35 s user + 5 s system CPU, on the shared 2-core machine
# at load ~20 (well under a minute on an idle one). 13 MB binary.
set -euo pipefail

PLUGIN_VERSION=v0.2.2
root=$(cd "$(dirname "$0")/.." && pwd)
src=$root/hack/coraza-check
cache=${BUDNET_CACHE:-/var/cache/budnet}
dir=$cache/coraza-check-$PLUGIN_VERSION
bin=$dir/coraza-check

log() { printf 'ci-coraza-check: %s\n' "$*" >&2; }

# shellcheck source=lib.sh
. "$root/hack/lib.sh"
cached_build "$PLUGIN_VERSION" "$src" "$dir" coraza-check . go.mod go.mod go.sum main.go
printf '%s\n' "$bin"
