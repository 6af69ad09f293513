package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's fixed layout: where the binary lives, who runs it. 65532 is the
// "nonroot" user of the distroless images, which Kubernetes manifests and
// Pod Security "restricted" expect (runAsNonRoot with a numeric user).
const (
	Entrypoint = "/usr/local/bin/budnet"
	UID        = 65532
	User       = "65532:65532"
	CAPath     = "etc/ssl/certs/ca-certificates.crt"
)

// Options say what goes into the image.
type Options struct {
	// Binaries are the static budnet executables by platform ("linux/amd64").
	Binaries map[string]string
	// CABundle is a PEM file of CA certificates (the build host's
	// /etc/ssl/certs/ca-certificates.crt by default: Debian's ca-certificates,
	// Mozilla's roots, as distroless ships them).
	CABundle string
	// Labels are the org.opencontainers.image.* labels and annotations.
	Labels map[string]string
	// Created stamps the config and every file, so the same inputs give the
	// same digests (SOURCE_DATE_EPOCH).
	Created time.Time
}

// Build assembles one image per platform on an empty base: a base layer
// (passwd and group with the non-root user, nsswitch.conf, CA certificates,
// a home and /tmp) and the binary's layer. It returns the images in the order
// of their platforms and an index of them all.
func Build(opts Options) (v1.ImageIndex, []Platformed, error) {
	if len(opts.Binaries) == 0 {
		return nil, nil, errors.New("no binaries: give at least one -binary linux/ARCH=PATH")
	}
	ca, err := os.ReadFile(opts.CABundle)
	if err != nil {
		return nil, nil, fmt.Errorf("CA bundle: %w", err)
	}
	if !bytes.Contains(ca, []byte("-----BEGIN CERTIFICATE-----")) {
		return nil, nil, fmt.Errorf("CA bundle %s holds no PEM certificate", opts.CABundle)
	}
	base, err := layer(baseFiles(ca), opts.Created)
	if err != nil {
		return nil, nil, fmt.Errorf("base layer: %w", err)
	}
	platforms := make([]string, 0, len(opts.Binaries))
	for p := range opts.Binaries {
		platforms = append(platforms, p)
	}
	slices.Sort(platforms)
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var images []Platformed
	for _, p := range platforms {
		plat, err := v1.ParsePlatform(p)
		if err != nil || plat.OS != "linux" {
			return nil, nil, fmt.Errorf("platform %q: want linux/ARCH", p)
		}
		img, err := platformImage(*plat, opts.Binaries[p], base, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p, err)
		}
		images = append(images, Platformed{Platform: *plat, Image: img})
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: plat}})
	}
	idx = mutate.Annotations(idx, opts.Labels).(v1.ImageIndex)
	return idx, images, nil
}

// Platformed is one platform's image.
type Platformed struct {
	Platform v1.Platform
	Image    v1.Image
}

func platformImage(plat v1.Platform, binary string, base v1.Layer, opts Options) (v1.Image, error) {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	if err := CheckStatic(bin, plat.Architecture); err != nil {
		return nil, fmt.Errorf("%s: %w", binary, err)
	}
	app, err := layer([]file{{name: strings.TrimPrefix(Entrypoint, "/"), mode: 0o755, data: bin}}, opts.Created)
	if err != nil {
		return nil, fmt.Errorf("binary layer: %w", err)
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: plat.Architecture,
		OS:           plat.OS,
		Variant:      plat.Variant,
		Created:      v1.Time{Time: opts.Created},
		Config: v1.Config{
			User:       User,
			Entrypoint: []string{Entrypoint},
			WorkingDir: "/home/nonroot",
			Env:        []string{"PATH=/usr/local/bin", "SSL_CERT_FILE=/" + CAPath},
			Labels:     opts.Labels,
		},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, err
	}
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, MediaType: types.OCILayer, History: v1.History{Created: v1.Time{Time: opts.Created}, CreatedBy: "hack/image: non-root user 65532, CA certificates", Comment: "base"}},
		mutate.Addendum{Layer: app, MediaType: types.OCILayer, History: v1.History{Created: v1.Time{Time: opts.Created}, CreatedBy: "hack/image: " + Entrypoint, Comment: "budnet"}},
	)
	if err != nil {
		return nil, err
	}
	return mutate.Annotations(img, opts.Labels).(v1.Image), nil
}

// CheckStatic refuses a binary that is not a static linux ELF executable for
// arch: a dynamic one would need a loader and libc the image does not have.
func CheckStatic(bin []byte, arch string) error {
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return fmt.Errorf("not an ELF executable: %w", err)
	}
	defer f.Close()
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch]
	if want == 0 || f.Machine != want {
		return fmt.Errorf("machine %v, want %s", f.Machine, arch)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("dynamically linked (has a PT_INTERP program interpreter): build with CGO_ENABLED=0")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		return fmt.Errorf("links shared libraries %v", libs)
	}
	return nil
}

// file is one entry of a layer; a name ending in "/" is a directory.
type file struct {
	name     string
	mode     int64
	uid, gid int
	data     []byte
}

// baseFiles is the minimal root file system: what a static Go program that
// makes TLS connections and resolves names needs, and a user that is not root.
func baseFiles(ca []byte) []file {
	return []file{
		{name: "etc/", mode: 0o755},
		{name: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{name: "etc/group", mode: 0o644, data: []byte("root:x:0:\nnonroot:x:65532:\n")},
		// Go's resolver reads it to order /etc/hosts and DNS (net/conf.go).
		{name: "etc/nsswitch.conf", mode: 0o644, data: []byte("hosts: files dns\n")},
		{name: "etc/ssl/", mode: 0o755},
		{name: "etc/ssl/certs/", mode: 0o755},
		{name: CAPath, mode: 0o644, data: ca},
		{name: "home/", mode: 0o755},
		{name: "home/nonroot/", mode: 0o700, uid: UID, gid: UID},
		{name: "tmp/", mode: 0o1777},
		{name: "usr/", mode: 0o755},
		{name: "usr/local/", mode: 0o755},
		{name: "usr/local/bin/", mode: 0o755},
	}
}

// layer writes files as an uncompressed tar with fixed times and owners, so
// the layer's digest depends only on the contents.
func layer(files []file, created time.Time) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, Mode: f.mode, Uid: f.uid, Gid: f.gid, ModTime: created, Format: tar.FormatPAX}
		if strings.HasSuffix(f.name, "/") {
			hdr.Typeflag = tar.TypeDir
		} else {
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(f.data))
		}
		if path.Clean(f.name) != strings.TrimSuffix(f.name, "/") {
			return nil, fmt.Errorf("unclean layer path %q", f.name)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
}
