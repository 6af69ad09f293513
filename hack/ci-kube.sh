#!/usr/bin/env bash
# Makes etcd and kube-apiserver available to internal/kubetest, idempotently.
#
#   etcd            Debian's etcd-server package (/usr/bin/etcd), its own service
#                   left stopped: the tests start their own instance on loopback.
#   kube-apiserver  built from the wrapper module in hack/kube-apiserver and cached
#                   in ${BUDNET_CACHE:-/var/cache/budnet}/kube-apiserver-<version>/,
#                   rebuilt only when the wrapper's go.mod, go.sum or main.go change.
#
# The cache directory also holds an `etcd` symlink, so it is a complete
# KUBEBUILDER_ASSETS directory. Its path is the only thing printed on stdout
# (progress goes to stderr), for:
#
#   KUBEBUILDER_ASSETS="$(bash hack/ci-kube.sh)"; export KUBEBUILDER_ASSETS
#
# A cold build takes roughly 540 CPU-seconds and 2.8 GB of memory; pass
# GOFLAGS=-p=1 on a busy machine to trade wall time for less contention.
set -euo pipefail

K8S_VERSION=v1.37.2
root=$(cd "$(dirname "$0")/.." && pwd)
src=$root/hack/kube-apiserver
cache=${BUDNET_CACHE:-/var/cache/budnet}
assets=$cache/kube-apiserver-$K8S_VERSION

log() { printf 'ci-kube: %s\n' "$*" >&2; }

install_etcd() {
	if command -v etcd >/dev/null 2>&1; then
		return
	fi
	# Only refresh the package lists when the package is unknown to apt.
	if ! apt-cache show etcd-server >/dev/null 2>&1; then
		log "apt-get update"
		apt-get update -qq >&2
	fi
	log "installing etcd-server"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends etcd-server >&2
	# The package's init script may start a system etcd on 2379; the tests
	# start their own, so make sure none is left running.
	service etcd stop >/dev/null 2>&1 || true
	command -v etcd >/dev/null 2>&1 || { log "etcd not on PATH after installing etcd-server"; exit 1; }
}

source_hash() {
	cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -d' ' -f1
}

build_apiserver() {
	local want have=""
	want="$K8S_VERSION $(source_hash)"
	[ -f "$assets/source.sha256" ] && have=$(cat "$assets/source.sha256")
	if [ -x "$assets/kube-apiserver" ] && [ "$have" = "$want" ]; then
		log "kube-apiserver $K8S_VERSION cached in $assets"
		return
	fi
	mkdir -p "$assets"
	log "building kube-apiserver $K8S_VERSION into $assets (several minutes on a cold cache)"
	local start=$SECONDS
	local ldflags="-s -w"
	ldflags+=" -X k8s.io/component-base/version.gitVersion=$K8S_VERSION"
	ldflags+=" -X k8s.io/component-base/version.gitMajor=1"
	local minor=${K8S_VERSION#v1.}
	ldflags+=" -X k8s.io/component-base/version.gitMinor=${minor%%.*}"
	ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
	(cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$assets/kube-apiserver.tmp" .)
	mv -f "$assets/kube-apiserver.tmp" "$assets/kube-apiserver"
	printf '%s\n' "$want" >"$assets/source.sha256"
	log "built in $((SECONDS - start))s: $("$assets/kube-apiserver" --version)"
}

install_etcd
build_apiserver
ln -sfn "$(command -v etcd)" "$assets/etcd"
printf '%s\n' "$assets"
