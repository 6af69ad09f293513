// Command image builds budnet's OCI image from static binaries, without a
// Docker daemon: go-containerregistry assembles the layers and writes an OCI
// image layout (one index over every platform; push it with
// `crane push --index DIR REF` or `skopeo copy --all oci:DIR docker://REF`)
// and one tarball per platform (`docker load` / `podman load` read them).
//
//	go run . -binary linux/amd64=../../dist/build/linux_amd64/budnet \
//	    -version v0.1.0 -revision $(git rev-parse HEAD) \
//	    -layout ../../dist/image -tarballs ../../dist
//
// hack/release.sh runs it; image_test.go checks what it writes.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// binaries is the repeatable -binary flag.
type binaries map[string]string

func (b binaries) String() string { return fmt.Sprint(map[string]string(b)) }

func (b binaries) Set(s string) error {
	plat, path, ok := strings.Cut(s, "=")
	if !ok || plat == "" || path == "" {
		return fmt.Errorf("-binary %q: want OS/ARCH=PATH", s)
	}
	b[plat] = path
	return nil
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	bins := binaries{}
	fs.Var(bins, "binary", "OS/ARCH=PATH of a static budnet binary; repeatable")
	repo := fs.String("repository", "ghcr.io/budnet/budnet", "image repository the tarballs are tagged with")
	version := fs.String("version", "", "budnet version: the tag and org.opencontainers.image.version")
	revision := fs.String("revision", "", "VCS revision: org.opencontainers.image.revision")
	source := fs.String("source", "https://github.com/budnet/budnet", "org.opencontainers.image.source")
	ca := fs.String("ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "PEM bundle of CA certificates to ship")
	layoutDir := fs.String("layout", "", "write the OCI image layout (an index over all platforms) to this directory")
	tarDir := fs.String("tarballs", "", "write one docker-loadable tarball per platform into this directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *version == "" || (*layoutDir == "" && *tarDir == "") {
		return errors.New("need -version and at least one of -layout and -tarballs")
	}
	created, err := sourceDate()
	if err != nil {
		return err
	}
	labels := map[string]string{
		"org.opencontainers.image.title":       "budnet",
		"org.opencontainers.image.description": "Network security for Bud AI Foundry: generate, analyse, audit and enforce the Network Security Guide",
		"org.opencontainers.image.source":      *source,
		"org.opencontainers.image.url":         *source,
		"org.opencontainers.image.version":     *version,
		"org.opencontainers.image.revision":    *revision,
		"org.opencontainers.image.licenses":    "Apache-2.0",
		"org.opencontainers.image.created":     created.Format(time.RFC3339),
	}
	idx, images, err := Build(Options{Binaries: bins, CABundle: *ca, Labels: labels, Created: created})
	if err != nil {
		return err
	}
	if *layoutDir != "" {
		if err := os.RemoveAll(*layoutDir); err != nil {
			return err
		}
		if _, err := layout.Write(*layoutDir, idx); err != nil {
			return fmt.Errorf("OCI layout: %w", err)
		}
		slog.Info("wrote OCI layout", "dir", *layoutDir, "platforms", len(images))
	}
	if *tarDir != "" {
		tag, err := name.NewTag(*repo + ":" + *version)
		if err != nil {
			return fmt.Errorf("tag: %w", err)
		}
		for _, p := range images {
			out := filepath.Join(*tarDir, fmt.Sprintf("budnet_%s_image_%s_%s.tar", strings.TrimPrefix(*version, "v"), p.Platform.OS, p.Platform.Architecture))
			if err := tarball.WriteToFile(out, tag, p.Image); err != nil {
				return fmt.Errorf("tarball %s: %w", out, err)
			}
			slog.Info("wrote image tarball", "file", out, "tag", tag.String())
		}
	}
	return nil
}

// sourceDate is SOURCE_DATE_EPOCH (reproducible-builds.org), else now.
func sourceDate() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Now().UTC().Truncate(time.Second), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", s, err)
	}
	return time.Unix(n, 0).UTC(), nil
}
