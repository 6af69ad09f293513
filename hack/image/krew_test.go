package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// krewBinaries are krew and its manifest validator (sigs.k8s.io/krew
// cmd/krew, cmd/validate-krew-manifest), which hack/ci-release.sh installs
// into BUDNET_KREW.
func krewBinaries(t *testing.T) (krew, validate string) {
	t.Helper()
	dir := os.Getenv("BUDNET_KREW")
	if dir == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("BUDNET_KREW unset: run hack/ci-release.sh")
		}
		t.Skip("BUDNET_KREW unset: run hack/ci-release.sh")
	}
	return filepath.Join(dir, "krew"), filepath.Join(dir, "validate-krew-manifest")
}

// TestKrewManifest: krew's own validator accepts the filled manifest, and
// krew installs the plugin from this machine's archive (checking the sha256
// the manifest names), after which `kubectl-budnet` on krew's PATH runs
// budnet as the plugin.
func TestKrewManifest(t *testing.T) {
	dir, version := dist(t)
	krew, validate := krewBinaries(t)
	manifest := filepath.Join(dir, "krew", "budnet.yaml")
	data, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "@") && strings.Contains(string(data), "@SHA256") {
		t.Fatalf("placeholders left in %s", manifest)
	}
	if out, err := exec.Command(validate, "-manifest", manifest, "-skip-install").CombinedOutput(); err != nil {
		t.Fatalf("validate-krew-manifest: %v\n%s", err, out)
	}
	root := t.TempDir()
	archive := filepath.Join(dir, archiveName(version, runtime.GOOS, runtime.GOARCH)+".tar.gz")
	cmd := exec.Command(krew, "install", "--manifest="+manifest, "--archive="+archive)
	cmd.Env = append(os.Environ(), "KREW_ROOT="+root, "KREW_NO_UPGRADE_CHECK=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("krew install: %v\n%s", err, out)
	}
	out, err := exec.Command(filepath.Join(root, "bin", "kubectl-budnet"), "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "kubectl budnet [command]") {
		t.Errorf("kubectl-budnet --help after krew install: %v\n%s", err, out)
	}
	// krew refuses an archive whose sha256 is not the manifest's: the same
	// archive with one byte more.
	orig, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	tampered := filepath.Join(t.TempDir(), filepath.Base(archive))
	if err := os.WriteFile(tampered, append(orig, 0), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(krew, "install", "--manifest="+manifest, "--archive="+tampered)
	cmd.Env = append(os.Environ(), "KREW_ROOT="+t.TempDir(), "KREW_NO_UPGRADE_CHECK=1")
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "checksum does not match") {
		t.Errorf("krew installed an archive whose sha256 the manifest does not name (err %v):\n%s", err, out)
	}
}
