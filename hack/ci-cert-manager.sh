#!/usr/bin/env bash
# Builds hack/cert-manager, cert-manager's controller wired from the root
# module github.com/cert-manager/cert-manager v1.21.2 (the controller-binary
# module holding upstream's main is not served by the Go module proxy), into
# ${BUDNET_CACHE:-/var/cache/budnet}/cert-manager-<version>/, rebuilding only
# when the wrapper's go.mod, go.sum or main.go change. Prints the binary's
# path on stdout (progress goes to stderr), for:
#
#   BUDNET_CERT_MANAGER="$(bash hack/ci-cert-manager.sh)"; export BUDNET_CERT_MANAGER
#
# Cold build time: see docs/testing.md, "Component harnesses".
set -euo pipefail

CERT_MANAGER_VERSION=v1.21.2
root=$(cd "$(dirname "$0")/.." && pwd)
src=$root/hack/cert-manager
cache=${BUDNET_CACHE:-/var/cache/budnet}
dir=$cache/cert-manager-$CERT_MANAGER_VERSION
bin=$dir/cert-manager

log() { printf 'ci-cert-manager: %s\n' "$*" >&2; }

# shellcheck source=lib.sh
. "$root/hack/lib.sh"
cached_build "$CERT_MANAGER_VERSION" "$src" "$dir" cert-manager . go.mod go.mod go.sum main.go
printf '%s\n' "$bin"
