package main

import (
	"archive/tar"
	"bytes"
	"crypto/x509"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// TestImage opens the OCI layout hack/release.sh wrote, with the library
// that wrote it, and checks each platform's image: valid (digests, sizes and
// diff IDs agree), run as 65532 with budnet as entrypoint, labelled, its file
// system what a static binary needs, and its binary the archive's, which
// runs `version`. The per-platform tarballs hold the same images.
func TestImage(t *testing.T) {
	dir, version := dist(t)
	idx, err := layout.ImageIndexFromPath(filepath.Join(dir, "image"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(idx); err != nil {
		t.Fatalf("index: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range im.Manifests {
		got = append(got, d.Platform.String())
	}
	if im.MediaType != types.OCIImageIndex || !slices.Equal(got, linuxPlatforms()) {
		t.Fatalf("index %s of %q, want an OCI index of %q", im.MediaType, got, linuxPlatforms())
	}
	for _, desc := range im.Manifests {
		plat := desc.Platform
		t.Run(plat.String(), func(t *testing.T) {
			img, err := idx.Image(desc.Digest)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate.Image(img); err != nil {
				t.Fatalf("image: %v", err)
			}
			checkConfig(t, img, plat, version)
			fs := extract(t, img)
			checkFiles(t, fs)
			_, files := unpack(t, filepath.Join(dir, archiveName(version, plat.OS, plat.Architecture)+".tar.gz"))
			bin := fs["usr/local/bin/budnet"]
			if !bytes.Equal(bin.data, files["budnet"]) {
				t.Error("the image's binary is not the archive's")
			}
			if err := CheckStatic(bin.data, plat.Architecture); err != nil {
				t.Error(err)
			}
			if plat.Architecture == runtime.GOARCH && runtime.GOOS == "linux" {
				path := filepath.Join(t.TempDir(), "budnet")
				if err := os.WriteFile(path, bin.data, 0o755); err != nil {
					t.Fatal(err)
				}
				out, err := exec.Command(path, "version").CombinedOutput()
				if err != nil || !strings.HasPrefix(string(out), "budnet "+version+" ") {
					t.Errorf("image's budnet version: %v %q", err, out)
				}
			}
			tb, err := tarball.ImageFromPath(filepath.Join(dir, "budnet_"+strings.TrimPrefix(version, "v")+"_image_linux_"+plat.Architecture+".tar"), nil)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := img.ConfigName()
			got, err := tb.ConfigName()
			if err != nil || got != want {
				t.Errorf("tarball's config %s (%v), the layout's %s", got, err, want)
			}
		})
	}
}

func checkConfig(t *testing.T, img v1.Image, plat *v1.Platform, version string) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != plat.Architecture {
		t.Errorf("config platform %s/%s, index says %s", cf.OS, cf.Architecture, plat)
	}
	c := cf.Config
	if c.User != "65532:65532" {
		t.Errorf("user %q, want 65532:65532", c.User)
	}
	if len(c.Entrypoint) != 1 || c.Entrypoint[0] != "/usr/local/bin/budnet" || len(c.Cmd) != 0 {
		t.Errorf("entrypoint %q cmd %q", c.Entrypoint, c.Cmd)
	}
	for k, want := range map[string]string{
		"org.opencontainers.image.source":   "https://github.com/budnet/budnet",
		"org.opencontainers.image.version":  version,
		"org.opencontainers.image.licenses": "Apache-2.0",
		"org.opencontainers.image.title":    "budnet",
	} {
		if c.Labels[k] != want {
			t.Errorf("label %s=%q, want %q", k, c.Labels[k], want)
		}
	}
	for _, k := range []string{"org.opencontainers.image.revision", "org.opencontainers.image.description", "org.opencontainers.image.created"} {
		if c.Labels[k] == "" {
			t.Errorf("label %s missing", k)
		}
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.OCIManifestSchema1 || m.Annotations["org.opencontainers.image.version"] != version {
		t.Errorf("manifest %s, annotations %v", m.MediaType, m.Annotations)
	}
}

type entry struct {
	hdr  *tar.Header
	data []byte
}

// extract flattens the image's layers, as a container runtime would.
func extract(t *testing.T, img v1.Image) map[string]entry {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	fs := map[string]entry{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		fs[strings.TrimSuffix(strings.TrimPrefix(h.Name, "/"), "/")] = entry{hdr: h, data: data}
	}
	return fs
}

func checkFiles(t *testing.T, fs map[string]entry) {
	t.Helper()
	passwd := string(fs["etc/passwd"].data)
	if !strings.Contains(passwd, "\nnonroot:x:65532:65532:") || strings.Count(passwd, ":x:0:") != 1 {
		t.Errorf("/etc/passwd:\n%s", passwd)
	}
	if !strings.Contains(string(fs["etc/group"].data), "nonroot:x:65532:") {
		t.Errorf("/etc/group lacks nonroot")
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(fs["etc/ssl/certs/ca-certificates.crt"].data) || strings.Count(string(fs["etc/ssl/certs/ca-certificates.crt"].data), "BEGIN CERTIFICATE") < 100 {
		t.Error("CA bundle missing or holds few certificates")
	}
	if h := fs["home/nonroot"].hdr; h == nil || h.Uid != 65532 || h.Typeflag != tar.TypeDir {
		t.Errorf("home/nonroot: %+v", h)
	}
	if h := fs["tmp"].hdr; h == nil || h.Mode&0o1777 != 0o1777 {
		t.Errorf("tmp: %+v", h)
	}
	bin := fs["usr/local/bin/budnet"].hdr
	if bin == nil || bin.Uid != 0 || bin.Mode&0o022 != 0 || bin.Mode&0o111 == 0 {
		t.Errorf("usr/local/bin/budnet: %+v: want executable, owned by root, not writable by others", bin)
	}
	for name, e := range fs {
		if e.hdr.Uid != 0 && name != "home/nonroot" {
			t.Errorf("%s owned by %d", name, e.hdr.Uid)
		}
	}
}

// TestBuildRefusesDynamicBinary: the builder takes only static binaries for
// the platform named; a binary with a program interpreter would not start
// in an image without a libc.
func TestBuildRefusesDynamicBinary(t *testing.T) {
	// The test binary itself: dynamically linked when cgo is on, else static
	// but possibly for another platform. Either way one of the checks applies.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	other := map[string]string{"amd64": "arm64", "arm64": "amd64"}[runtime.GOARCH]
	if err := CheckStatic(data, other); err == nil {
		t.Errorf("a %s binary passed as %s", runtime.GOARCH, other)
	}
	if err := CheckStatic([]byte("#!/bin/sh\necho hi\n"), runtime.GOARCH); err == nil {
		t.Error("a shell script passed as a static binary")
	}
	if sh, err := os.ReadFile("/bin/sh"); err == nil && runtime.GOOS == "linux" {
		if err := CheckStatic(sh, runtime.GOARCH); err == nil || !strings.Contains(err.Error(), "dynamic") {
			t.Errorf("/bin/sh (dynamic): %v", err)
		}
	}
	if _, _, err := Build(Options{Binaries: map[string]string{"linux/" + runtime.GOARCH: "/bin/sh"}, CABundle: "/etc/ssl/certs/ca-certificates.crt"}); err == nil {
		t.Error("Build took /bin/sh")
	}
}
