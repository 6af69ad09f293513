#!/usr/bin/env bash
# Builds Traefik (github.com/traefik/traefik/v3, cmd/traefik) from the module
# proxy, through the wrapper module hack/traefik, into
# ${BUDNET_CACHE:-/var/cache/budnet}/traefik-<version>/traefik, rebuilding only
# when the wrapper's files or this script change. Prints the binary's path on
# stdout (progress goes to stderr), for:
#
#   BUDNET_TRAEFIK="$(bash hack/ci-traefik.sh)"; export BUDNET_TRAEFIK
#
# Traefik's own go.mod cannot be used as it is (go install refuses a module
# with replace directives, and three of them do not resolve here), so the
# wrapper module requires traefik/v3 and builds its cmd/traefik, with:
#
#   github.com/traefik/traefik/dynamic/ext  Traefik replaces it with
#       ./pkg/config/dynamic/ext, a nested module that the traefik/v3 zip
#       leaves out and the proxy does not serve: hack/traefik/ext holds its
#       two empty extension structs.
#   github.com/gorilla/mux  Traefik's fork github.com/containous/mux at the
#       same pseudo-version (served).
#   github.com/abbot/go-http-auth  Traefik's fork (containous/go-http-auth)
#       is refused by the proxy; a copy of abbot v0.4.0 plus the two
#       functions Traefik's basic and digest auth call that v0.4.0 lacks
#       (hack/traefik/go-http-auth/fork.go.in).
#   github.com/go-acme/lego/v5  pkg/provider/acme imports lego's DNS provider
#       registry, which links all 219 DNS providers and their cloud SDKs;
#       six of those SDKs are refused by the proxy (Akamai edgegrid, Huawei
#       Cloud, Oracle Cloud via nrdcg/oci-go-sdk, Sakura Cloud, UCloud,
#       Yandex Cloud), and the rest are most of the build's time. The copy
#       keeps the registry with the providers that need no SDK (exec,
#       httpreq, manual); asking for another gives lego's "unrecognized DNS
#       provider". budnet's edge takes certificates from cert-manager, not
#       from Traefik's ACME; the HTTP-01 and TLS-ALPN-01 challenges are
#       lego's own and untouched.
#
# The copies are assembled in <cache dir>/src from the module cache (go mod
# download) and removed after the build. `bash hack/ci-traefik.sh -prepare`
# assembles them and prints that directory instead of building, for
# `go mod tidy` when the wrapper's versions change (copy go.mod and go.sum
# back into hack/traefik).
#
# Next to the binary, crds/ holds the Gateway API CRDs that Traefik's
# kubernetesgateway provider watches beyond budnet's pinned set
# (internal/crds/gateway-api): GRPCRoute and TLSRoute. Without them its
# informers never sync and it serves no Gateway. They come from the same
# gateway-api module version as the pinned ones.
#
# A cold build: see docs/testing.md ("Traefik harness").
set -euo pipefail

TRAEFIK_VERSION=v3.7.13
LEGO_VERSION=v5.4.1 # traefik v3.7.13 go.mod
AUTH_VERSION=v0.4.0 # newest github.com/abbot/go-http-auth release
GATEWAY_API_VERSION=v1.6.3 # internal/crds/VERSIONS.md
GATEWAY_CRDS=(gateway.networking.k8s.io_grpcroutes.yaml gateway.networking.k8s.io_tlsroutes.yaml)
# lego DNS providers the copy keeps: those that need no SDK.
LEGO_KEEP=(exec httpreq manual)
# The SDK modules the proxy refuses, dropped from the copy's go.mod too.
LEGO_REFUSED_MODULES=(
	github.com/akamai/AkamaiOPEN-edgegrid-golang/v13
	github.com/huaweicloud/huaweicloud-sdk-go-v3
	github.com/nrdcg/oci-go-sdk/common/v1065
	github.com/nrdcg/oci-go-sdk/dns/v1065
	github.com/sacloud/sacloud-sdk-go
	github.com/ucloud/ucloud-sdk-go
	github.com/yandex-cloud/go-genproto
	github.com/yandex-cloud/go-sdk/services/dns
	github.com/yandex-cloud/go-sdk/v2
)

root=$(cd "$(dirname "$0")/.." && pwd)
src=$root/hack/traefik
cache=${BUDNET_CACHE:-/var/cache/budnet}
dir=$cache/traefik-$TRAEFIK_VERSION
bin=$dir/traefik
work=$dir/src
files=(go.mod go.sum ext/go.mod ext/ext.go go-http-auth/fork.go.in)

log() { printf 'ci-traefik: %s\n' "$*" >&2; }

# module_dir MODULE@VERSION prints the module's directory in the module
# cache, downloading it through the proxy when needed.
module_dir() {
	local out d
	out=$(cd "$src" && go mod download -json "$1")
	d=$(printf '%s' "$out" | jq -r '.Dir // empty')
	if [ -z "$d" ]; then
		log "go mod download $1: $(printf '%s' "$out" | jq -r '.Error // "no directory"')"
		exit 1
	fi
	printf '%s\n' "$d"
}

prepare() {
	rm -rf "$work"
	mkdir -p "$work/third_party"
	(cd "$src" && cp --parents "${files[@]}" "$work/")

	local lego=$work/third_party/lego
	cp -r "$(module_dir "github.com/go-acme/lego/v5@$LEGO_VERSION")" "$lego"
	chmod -R u+w "$lego"
	local reg=$lego/providers/dns/zz_gen_dns_providers.go d p re
	re=$(
		IFS='|'
		printf '%s' "${LEGO_KEEP[*]}"
	)
	for p in "${LEGO_KEEP[@]}"; do
		[ -d "$lego/providers/dns/$p" ] || { log "lego $LEGO_VERSION has no provider $p"; exit 1; }
	done
	for d in "$lego"/providers/dns/*/; do
		p=$(basename "$d")
		case " ${LEGO_KEEP[*]} internal " in
		*" $p "*) ;;
		*) rm -rf "${d:?}" ;;
		esac
	done
	# Keep the imports and the `case "name", ...:` lines whose return is a
	# kept provider; the switch's default stays.
	awk -v re="$re" '
		$0 ~ "providers/dns/[a-z0-9]+\"$" && $0 !~ "providers/dns/(" re ")\"$" { next }
		$0 ~ "^[ \t]*case " { held = $0; next }
		held != "" {
			if ($0 ~ "^[ \t]*return (" re ")\\.") print held "\n" $0
			held = ""; next
		}
		{ print }
	' "$reg" >"$reg.new"
	mv "$reg.new" "$reg"
	if [ "$(grep -c 'NewDNSProvider' "$reg")" -ne "${#LEGO_KEEP[@]}" ]; then
		log "lego registry: expected ${#LEGO_KEEP[@]} providers, found $(grep -c 'NewDNSProvider' "$reg")"
		exit 1
	fi
	rm -f "$lego/providers/dns/dns_providers_test.go"
	for p in "${LEGO_REFUSED_MODULES[@]}"; do
		(cd "$lego" && go mod edit -droprequire="$p")
	done

	local auth=$work/third_party/go-http-auth
	cp -r "$(module_dir "github.com/abbot/go-http-auth@$AUTH_VERSION")" "$auth"
	chmod -R u+w "$auth"
	rm -rf "$auth/examples"
	printf 'module github.com/abbot/go-http-auth\n\ngo 1.11\n' >"$auth/go.mod"
	cp "$src/go-http-auth/fork.go.in" "$auth/fork.go"
}

if [ "${1:-}" = -prepare ]; then
	prepare
	printf '%s\n' "$work"
	exit 0
fi

# copy_crds puts the extra Gateway API CRDs next to the binary.
copy_crds() {
	local g f
	g=$(module_dir "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION")
	mkdir -p "$dir/crds"
	for f in "${GATEWAY_CRDS[@]}"; do
		cp "$g/config/crd/standard/$f" "$dir/crds/$f.tmp"
		chmod u+w "$dir/crds/$f.tmp"
		mv -f "$dir/crds/$f.tmp" "$dir/crds/$f"
	done
}

want="$TRAEFIK_VERSION $( (cd "$src" && cat "${files[@]}") | cat - "$0" | sha256sum | cut -d' ' -f1)"
have=""
[ -f "$dir/source.sha256" ] && have=$(cat "$dir/source.sha256")
if [ -x "$bin" ] && [ "$have" = "$want" ]; then
	log "traefik $TRAEFIK_VERSION cached in $dir"
	copy_crds
	printf '%s\n' "$bin"
	exit 0
fi

mkdir -p "$dir"
log "assembling the wrapper module in $work"
prepare
log "building traefik $TRAEFIK_VERSION into $dir (many minutes on a cold cache)"
start=$SECONDS
(cd "$work" && CGO_ENABLED=0 go build -trimpath \
	-ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION" \
	-o "$bin.tmp" github.com/traefik/traefik/v3/cmd/traefik)
mv -f "$bin.tmp" "$bin"
printf '%s\n' "$want" >"$dir/source.sha256"
rm -rf "$work"
copy_crds
log "built in $((SECONDS - start))s: $("$bin" version | tr -s ' \n' ' ')"
printf '%s\n' "$bin"
