#!/usr/bin/env bash
# Builds hack/cilium-policy, the oracle that answers "is this flow allowed?"
# with Cilium's own policy code (pkg/policy: repository, selector cache,
# DistillPolicy and the endpoint's policy map), for the differential tests in
# internal/netpol/oracle. Cilium v1.20.2, the version of the pinned Cilium
# CRDs (internal/crds/VERSIONS.md).
#
# The binary is cached in ${BUDNET_CACHE:-/var/cache/budnet}/cilium-policy-v1.20.2/,
# rebuilt only when the module's go.mod, go.sum or main.go change. Its path
# is the only thing printed on stdout (progress goes to stderr), for:
#
#   BUDNET_CILIUM_POLICY="$(bash hack/ci-cilium-policy.sh)"; export BUDNET_CILIUM_POLICY
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
src=$root/hack/cilium-policy
cache=${BUDNET_CACHE:-/var/cache/budnet}

log() { printf 'ci-cilium-policy: %s\n' "$*" >&2; }

# shellcheck source=lib.sh
. "$root/hack/lib.sh"

cached_build v1.20.2 "$src" "$cache/cilium-policy-v1.20.2" cilium-policy . go.mod go.mod go.sum main.go
printf '%s\n' "$cache/cilium-policy-v1.20.2/cilium-policy"
