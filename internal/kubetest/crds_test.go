package kubetest

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseObjects(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		kinds   []string
		wantErr string
	}{
		{name: "two documents and an empty one", data: "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n", kinds: []string{"Namespace", "ConfigMap"}},
		{name: "json", data: `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"c"}}`, kinds: []string{"Secret"}},
		{name: "kind missing", data: "apiVersion: v1\nmetadata: {name: a}\n", wantErr: "document 1: apiVersion and kind are required"},
		{name: "broken second document", data: "apiVersion: v1\nkind: Namespace\n---\nkind: [\n", wantErr: "document 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := ParseObjects([]byte(tt.data))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseObjects: %v", err)
			}
			var kinds []string
			for _, o := range objs {
				kinds = append(kinds, o.GetKind())
			}
			if !slices.Equal(kinds, tt.kinds) {
				t.Errorf("kinds = %v, want %v", kinds, tt.kinds)
			}
		})
	}
}

func TestCheckAssets(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := checkAssets(dir); !errors.Is(err, ErrAssetsMissing) {
		t.Fatalf("empty dir: error = %v, want ErrAssetsMissing", err)
	}
	write("etcd", 0o755)
	write("kube-apiserver", 0o644)
	if err := checkAssets(dir); !errors.Is(err, ErrAssetsMissing) || !strings.Contains(err.Error(), "not an executable") {
		t.Fatalf("non-executable apiserver: error = %v, want ErrAssetsMissing", err)
	}
	if err := os.Chmod(filepath.Join(dir, "kube-apiserver"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := checkAssets(dir); err != nil {
		t.Fatalf("complete dir: %v", err)
	}
}

func TestDefaultAssetsDir(t *testing.T) {
	tests := []struct {
		name   string
		assets string
		cache  string
		want   string
	}{
		{name: "KUBEBUILDER_ASSETS wins", assets: "/a", cache: "/c", want: "/a"},
		{name: "BUDNET_CACHE", cache: "/c", want: "/c/kube-apiserver-" + KubernetesVersion},
		{name: "default cache", want: "/var/cache/budnet/kube-apiserver-" + KubernetesVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("KUBEBUILDER_ASSETS", tt.assets)
			t.Setenv("BUDNET_CACHE", tt.cache)
			if got := DefaultAssetsDir(); got != tt.want {
				t.Errorf("DefaultAssetsDir() = %q, want %q", got, tt.want)
			}
		})
	}
}
