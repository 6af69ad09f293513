# Shared by the hack/ci-*.sh scripts, which build test harness binaries from
# helper modules (each with its own go.mod, outside budnet's) into
# ${BUDNET_CACHE:-/var/cache/budnet}. Source it after defining log().

# cached_build VERSION SRC DIR BIN PKG MODFILE FILE...
#
# Builds package PKG of the module in SRC (go.mod, or MODFILE when another
# is given) statically into DIR/BIN, unless DIR/source.sha256 already holds
# VERSION and the hash of FILE... (relative to SRC, in order): editing the
# helper's module files or source rebuilds it, nothing else does.
cached_build() {
	local version=$1 src=$2 dir=$3 bin=$4 pkg=$5 modfile=$6
	shift 6
	local want have="" start
	want="$version $(cd "$src" && cat "$@" | sha256sum | cut -d' ' -f1)"
	[ -f "$dir/source.sha256" ] && have=$(cat "$dir/source.sha256")
	if [ -x "$dir/$bin" ] && [ "$have" = "$want" ]; then
		log "$bin $version cached in $dir"
		return
	fi
	mkdir -p "$dir"
	log "building $bin $version into $dir"
	start=$SECONDS
	(cd "$src" && CGO_ENABLED=0 go build -modfile="$modfile" -trimpath -ldflags "-s -w" -o "$dir/$bin.tmp" "$pkg")
	mv -f "$dir/$bin.tmp" "$dir/$bin"
	printf '%s\n' "$want" >"$dir/source.sha256"
	log "built in $((SECONDS - start))s"
}
