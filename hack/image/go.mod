// Builds budnet's OCI image without a Docker daemon, with go-containerregistry,
// and tests the release artefacts (archives, checksums, SBOM, krew manifest,
// image). Its own module: go-containerregistry requires docker/cli and the
// moby client modules, which budnet itself never needs, so they stay out of
// budnet's go.mod and go.sum.
module budnet/hack/image

go 1.26.0

require github.com/google/go-containerregistry v0.22.1

require (
	github.com/klauspost/compress v1.19.2 // indirect
	github.com/opencontainers/go-digest v1.0.0 // indirect
	github.com/opencontainers/image-spec v1.1.1 // indirect
	golang.org/x/sync v0.22.0 // indirect
)
