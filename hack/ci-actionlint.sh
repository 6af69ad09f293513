#!/usr/bin/env bash
# Builds hack/actionlint, the helper that lints budnet's GitHub Action
# (action.yml) and its example workflow (docs/examples/workflow.yml) with
# github.com/rhysd/actionlint as a library, into
# ${BUDNET_CACHE:-/var/cache/budnet}/actionlint-check-<actionlint version>/,
# rebuilding only when the helper's go.mod, go.sum or main.go change. The
# run scripts are checked by shellcheck (Debian's package) when it is on
# PATH; this script installs it. Prints the binary's path on stdout
# (progress goes to stderr), for:
#
#   BUDNET_ACTIONLINT="$(bash hack/ci-actionlint.sh)"; export BUDNET_ACTIONLINT
#
# actionlint and its dependencies (about a dozen small modules, one of them
# a release candidate of go.yaml.in/yaml/v4) stay out of budnet's go.mod.
set -euo pipefail

ACTIONLINT_VERSION=v1.7.12
root=$(cd "$(dirname "$0")/.." && pwd)
src=$root/hack/actionlint
cache=${BUDNET_CACHE:-/var/cache/budnet}
dir=$cache/actionlint-check-$ACTIONLINT_VERSION
bin=$dir/actionlint-check

log() { printf 'ci-actionlint: %s\n' "$*" >&2; }

if ! command -v shellcheck >/dev/null 2>&1; then
	if ! apt-cache show shellcheck >/dev/null 2>&1; then
		log "apt-get update"
		apt-get update -qq >&2
	fi
	log "installing shellcheck"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends shellcheck >&2
fi

# shellcheck source=lib.sh
. "$root/hack/lib.sh"
cached_build "$ACTIONLINT_VERSION" "$src" "$dir" actionlint-check . go.mod go.mod go.sum main.go
printf '%s\n' "$bin"
