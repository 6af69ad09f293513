#!/usr/bin/env bash
# Builds budnet's release artefacts into dist/ (or $DIST):
#
#   budnet_<v>_<os>_<arch>.tar.gz       linux and darwin x amd64 and arm64: the
#                                       static binary (CGO_ENABLED=0, -trimpath),
#                                       LICENSE and README.md
#   budnet_<v>_<os>_<arch>.cdx.json     CycloneDX SBOM of each binary, written by
#                                       cyclonedx-gomod from the binary's build info
#   budnet_<v>_image_linux_<arch>.tar   the OCI image per platform (docker/podman load)
#   image/                              the OCI image layout: one index, both platforms
#   krew/budnet.yaml                    the krew plugin manifest, sha256s filled in
#   SHA256SUMS                          sha256sum of every file above (image/ excepted)
#
# VERSION defaults to `git describe --tags --match v[0-9]* --dirty`, or
# v0.0.0-dev.<short commit> without a release tag (krew wants a v-version); the binaries print
# it (-X .../internal/cli.version) whatever the go command could stamp.
# SOURCE_DATE_EPOCH defaults to the commit time, so rebuilding a commit gives
# the same archives and image digests.
#
#   make release                     # or: VERSION=v0.1.0 bash hack/release.sh
#
# Progress goes to stderr; the last line on stdout is the dist directory.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
dist=${DIST:-$root/dist}
VERSION=${VERSION:-$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null || echo "v0.0.0-dev.$(git rev-parse --short HEAD 2>/dev/null || echo unknown)")}
REVISION=${REVISION:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH
PLATFORMS=${PLATFORMS:-"linux/amd64 linux/arm64 darwin/amd64 darwin/arm64"}
# cyclonedx-gomod, run at a pinned version (github.com/CycloneDX/cyclonedx-gomod,
# the CycloneDX project's own Go SBOM generator).
CYCLONEDX_GOMOD=${CYCLONEDX_GOMOD:-github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@v1.10.0}

log() { printf 'release: %s\n' "$*" >&2; }

case $VERSION in
*[!A-Za-z0-9._-]*) log "VERSION $VERSION: only letters, digits, '.', '_' and '-' (it becomes an image tag)"; exit 2 ;;
esac
v=${VERSION#v}

# A release tag must be the version the chart and deploy/egress run: their
# image is ghcr.io/budnet/budnet:<appVersion> (deploy/charts tests check the two agree).
if [[ $VERSION =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
	app=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' deploy/charts/budnet/Chart.yaml)
	if [ "$app" != "$VERSION" ]; then
		log "VERSION $VERSION but deploy/charts/budnet/Chart.yaml has appVersion $app: set it (and deploy/egress's image tag) first"
		exit 1
	fi
fi

rm -rf "$dist"
mkdir -p "$dist/build"
start=$SECONDS

build() {
	local os=$1 arch=$2 out=$3
	# -buildvcs=auto overrides a GOFLAGS=-buildvcs=false: the revision goes
	# into the build info, which the SBOM reads.
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -buildvcs=auto \
		-ldflags "-s -w -X github.com/budnet/budnet/internal/cli.version=$VERSION" \
		-o "$out" ./cmd/budnet
}

for p in $PLATFORMS; do
	os=${p%/*} arch=${p#*/}
	name=budnet_${v}_${os}_${arch}
	stage=$dist/build/$name
	mkdir -p "$stage"
	t=$SECONDS
	build "$os" "$arch" "$stage/budnet"
	cp LICENSE README.md "$stage/"
	log "built $p in $((SECONDS - t))s: $(stat -c %s "$stage/budnet") bytes"
	# A fixed order, owner and time: the archive depends only on its contents.
	tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
		-C "$stage" -cf - LICENSE README.md budnet | gzip -n -9 >"$dist/$name.tar.gz"
	# The same SBOM for the same build: no timestamp, and a serial number
	# (a UUID, as CycloneDX wants) derived from what the SBOM describes.
	h=$(printf '%s %s %s' "$name" "$VERSION" "$REVISION" | sha256sum | cut -c1-32)
	serial="urn:uuid:${h:0:8}-${h:8:4}-5${h:13:3}-8${h:17:3}-${h:20:12}"
	go run "$CYCLONEDX_GOMOD" bin -json -licenses=false -version "$VERSION" -notimestamp -serial "$serial" \
		-output "$dist/$name.cdx.json" "$stage/budnet"
done

images=()
for p in $PLATFORMS; do
	case $p in linux/*) images+=(-binary "$p=$dist/build/budnet_${v}_${p%/*}_${p#*/}/budnet") ;; esac
done
if [ ${#images[@]} -gt 0 ]; then
	(cd hack/image && go run . "${images[@]}" -version "$VERSION" -revision "$REVISION" \
		-layout "$dist/image" -tarballs "$dist")
fi

# The krew manifest: one platform entry per archive, its sha256 filled in.
mkdir -p "$dist/krew"
# The template's comments are about the template: left out.
sed -e '/^#/d' -e "s/@VERSION@/$VERSION/g" -e "s/@V@/$v/g" deploy/krew/budnet.yaml.tmpl >"$dist/krew/budnet.yaml"
for p in $PLATFORMS; do
	key="@SHA256_${p%/*}_${p#*/}@"
	sum=$(sha256sum "$dist/budnet_${v}_${p%/*}_${p#*/}.tar.gz" | cut -d' ' -f1)
	sed -i "s/$key/$sum/" "$dist/krew/budnet.yaml"
done
# A platform PLATFORMS left out has no archive: drop its entry.
awk '
	function flush() { if (block != "" && block !~ /@SHA256_/) printf "%s", block; block = "" }
	/^    - selector:/ { flush(); inblock = 1 }
	inblock { block = block $0 "\n"; next }
	{ print }
	END { flush() }
' "$dist/krew/budnet.yaml" >"$dist/krew/budnet.yaml.tmp"
mv "$dist/krew/budnet.yaml.tmp" "$dist/krew/budnet.yaml"
if grep -q '@[A-Z0-9_a-z]*@' "$dist/krew/budnet.yaml"; then
	log "krew manifest still has placeholders:"
	grep -n '@[A-Z0-9_a-z]*@' "$dist/krew/budnet.yaml" >&2
	exit 1
fi

rm -rf "$dist/build"
(
	cd "$dist"
	shopt -s nullglob
	sha256sum -- *.tar.gz *.cdx.json *.tar krew/budnet.yaml >SHA256SUMS
)

log "done in $((SECONDS - start))s: $VERSION ($REVISION) in $dist"
ls -l "$dist" >&2
printf '%s\n' "$dist"
