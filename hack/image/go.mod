// Builds budnet's OCI image without a Docker daemon, with go-containerregistry,
// and tests the release artefacts (archives, checksums, SBOMs, krew manifest,
// image). Its own module, like the other harnesses under hack/: the release
// tooling and its tests (which need a dist/ from hack/release.sh) stay out of
// budnet's go test ./..., and go-containerregistry's requirements (docker/cli,
// the moby client modules) out of budnet's module graph.
module budnet/hack/image

go 1.26.0

require (
	github.com/CycloneDX/cyclonedx-go v0.10.0
	github.com/google/go-containerregistry v0.22.1
)

require (
	github.com/google/go-cmp v0.7.0 // indirect
	github.com/klauspost/compress v1.19.2 // indirect
	github.com/opencontainers/go-digest v1.0.0 // indirect
	github.com/opencontainers/image-spec v1.1.1 // indirect
	golang.org/x/sync v0.22.0 // indirect
)
