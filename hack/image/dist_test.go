package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/macho"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// The release tests read what hack/release.sh wrote: BUDNET_DIST names the
// directory and BUDNET_VERSION the version it was built as (hack/ci-release.sh
// sets both). Without them the tests skip, or fail under CI=true: CI never
// passes by not looking.
func dist(t *testing.T) (dir, version string) {
	t.Helper()
	dir, version = os.Getenv("BUDNET_DIST"), os.Getenv("BUDNET_VERSION")
	if dir == "" || version == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("BUDNET_DIST and BUDNET_VERSION unset: run hack/ci-release.sh")
		}
		t.Skip("BUDNET_DIST and BUDNET_VERSION unset: run hack/ci-release.sh")
	}
	return dir, version
}

type platform struct{ os, arch string }

// platforms are the release's: PLATFORMS as hack/release.sh reads it, by
// default linux and darwin on amd64 and arm64.
var platforms = func() []platform {
	spec := os.Getenv("PLATFORMS")
	if spec == "" {
		spec = "linux/amd64 linux/arm64 darwin/amd64 darwin/arm64"
	}
	var out []platform
	for _, p := range strings.Fields(spec) {
		goos, arch, _ := strings.Cut(p, "/")
		out = append(out, platform{goos, arch})
	}
	return out
}()

// linuxPlatforms are those the image is built for.
func linuxPlatforms() []string {
	var out []string
	for _, p := range platforms {
		if p.os == "linux" {
			out = append(out, p.os+"/"+p.arch)
		}
	}
	return out
}

func archiveName(version, goos, arch string) string {
	return "budnet_" + strings.TrimPrefix(version, "v") + "_" + goos + "_" + arch
}

// TestChecksums: SHA256SUMS lists every artefact, and each sum is right.
func TestChecksums(t *testing.T) {
	dir, _ := dist(t)
	f, err := os.Open(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	listed := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q: not sha256sum's format", sc.Text())
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		got := sha256.Sum256(data)
		if hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s: sha256 %x, SHA256SUMS says %s", name, got, sum)
		}
		listed[name] = true
	}
	entries, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, e := range append(entries, filepath.Join(dir, "krew", "budnet.yaml")) {
		name, _ := filepath.Rel(dir, e)
		if fi, err := os.Stat(e); err == nil && !fi.IsDir() && name != "SHA256SUMS" && !listed[name] {
			t.Errorf("%s is not in SHA256SUMS", name)
		}
	}
	// An archive and an SBOM per platform, an image tarball per linux
	// platform, and the krew manifest.
	want := 2*len(platforms) + 1
	for _, p := range platforms {
		if p.os == "linux" {
			want++
		}
	}
	if len(listed) != want {
		t.Errorf("SHA256SUMS lists %d files, want %d: archives and SBOMs of %d platforms, the linux images and the krew manifest", len(listed), want, len(platforms))
	}
}

// unpack reads a release archive: its entries in order, and their contents.
func unpack(t *testing.T, path string) ([]*tar.Header, map[string][]byte) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	tr := tar.NewReader(zr)
	var hdrs []*tar.Header
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		hdrs = append(hdrs, h)
		files[h.Name] = data
	}
	return hdrs, files
}

// TestArchives: each archive holds budnet, LICENSE and README.md at its root,
// owned by root, and a static, trimmed binary for its platform that says
// the release's version.
func TestArchives(t *testing.T) {
	dir, version := dist(t)
	for _, p := range platforms {
		t.Run(p.os+"/"+p.arch, func(t *testing.T) {
			hdrs, files := unpack(t, filepath.Join(dir, archiveName(version, p.os, p.arch)+".tar.gz"))
			var names []string
			for _, h := range hdrs {
				names = append(names, h.Name)
				if h.Typeflag != tar.TypeReg || h.Uid != 0 || h.Gid != 0 {
					t.Errorf("%s: type %c owner %d:%d, want a regular file owned by 0:0", h.Name, h.Typeflag, h.Uid, h.Gid)
				}
				if h.Name == "budnet" && h.Mode&0o111 == 0 {
					t.Errorf("budnet mode %o: not executable", h.Mode)
				}
			}
			if !slices.Equal(names, []string{"LICENSE", "README.md", "budnet"}) {
				t.Errorf("archive holds %q, want LICENSE, README.md, budnet", names)
			}
			bin := files["budnet"]
			checkBinary(t, bin, p.os, p.arch)
		})
	}
}

func checkBinary(t *testing.T, bin []byte, goos, arch string) {
	t.Helper()
	switch goos {
	case "linux":
		if err := CheckStatic(bin, arch); err != nil {
			t.Errorf("linux binary: %v", err)
		}
	case "darwin":
		f, err := macho.NewFile(bytes.NewReader(bin))
		if err != nil {
			t.Fatalf("darwin binary: %v", err)
		}
		want := map[string]macho.Cpu{"amd64": macho.CpuAmd64, "arm64": macho.CpuArm64}[arch]
		if f.Cpu != want {
			t.Errorf("darwin binary for %v, want %v", f.Cpu, want)
		}
		// Go links every darwin binary against libSystem (the kernel
		// interface on macOS), and a binary using package net against
		// libresolv even without cgo (GOROOT/src/internal/syscall/unix/
		// net_darwin.go imports res_9_* from /usr/lib/libresolv.9.dylib);
		// anything more would be cgo.
		libs, _ := f.ImportedLibraries()
		for _, l := range libs {
			if !strings.HasPrefix(l, "/usr/lib/libSystem") && l != "/usr/lib/libresolv.9.dylib" && !strings.HasPrefix(l, "/System/Library/Frameworks/") {
				t.Errorf("darwin binary links %s", l)
			}
		}
	}
	bi, err := buildinfo.Read(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("build info: %v", err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	for k, want := range map[string]string{"CGO_ENABLED": "0", "-trimpath": "true", "GOOS": goos, "GOARCH": arch} {
		if settings[k] != want {
			t.Errorf("build setting %s=%q, want %q", k, settings[k], want)
		}
	}
	// The go command leaves -ldflags (with the version) out of the build
	// info under -trimpath; TestBinaryRuns and TestImage run the binary.
	if bi.Main.Path != "github.com/budnet/budnet" {
		t.Errorf("main module %s, want github.com/budnet/budnet", bi.Main.Path)
	}
}

// TestBinaryRuns runs the archive's binary for this machine: `version` and
// `--version` say the release, and started as kubectl-budnet (as krew and a
// symlink install it) its usage says `kubectl budnet`.
func TestBinaryRuns(t *testing.T) {
	dir, version := dist(t)
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skipf("no archive for %s", runtime.GOOS)
	}
	_, files := unpack(t, filepath.Join(dir, archiveName(version, runtime.GOOS, runtime.GOARCH)+".tar.gz"))
	bin := filepath.Join(t.TempDir(), "budnet")
	if err := os.WriteFile(bin, files["budnet"], 0o755); err != nil {
		t.Fatal(err)
	}
	for _, arg := range []string{"version", "--version"} {
		out, err := exec.Command(bin, arg).CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), "budnet "+version+" (go") {
			t.Errorf("budnet %s: %v: %q, want budnet %s", arg, err, out, version)
		}
	}
	plugin := filepath.Join(filepath.Dir(bin), "kubectl-budnet")
	if err := os.Symlink(bin, plugin); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(plugin, "audit", "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Usage:\n  kubectl budnet audit") || strings.Contains(string(out), "\n  budnet audit") {
		t.Errorf("kubectl-budnet audit --help: %v\n%s", err, out)
	}
}
