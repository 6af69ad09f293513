# Targets developers and CI share. `make ci` is what .ci/run runs after it has
# installed the servers the integration tests need.
GO ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: build test lint fmt-check vet staticcheck bench ci

build:
	$(GO) build -ldflags "-X github.com/budnet/budnet/internal/cli.version=$(VERSION)" -o bin/budnet ./cmd/budnet

# The README's test command.
test:
	$(GO) test ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(STATICCHECK) ./...

lint: fmt-check vet staticcheck

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

ci: lint test

# Release archives, SHA256SUMS, SBOMs, the OCI image and the krew manifest in
# dist/ (hack/release.sh documents each). VERSION=v0.1.0 make release.
.PHONY: release
release:
	VERSION=$(VERSION) bash hack/release.sh
