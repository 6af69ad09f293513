package kubetest

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCRDs pins which kinds each project directory provides, so an update of
// hack/update-crds.sh that drops a kind budnet relies on fails here, without
// a server.
func TestCRDs(t *testing.T) {
	tests := []struct {
		name    string
		project string
		kinds   []string
	}{
		{name: "cert-manager", project: "cert-manager", kinds: []string{"Certificate", "CertificateRequest", "ClusterIssuer", "Issuer"}},
		{name: "dapr", project: "dapr", kinds: []string{"Component", "Configuration", "HTTPEndpoint", "Resiliency", "Subscription"}},
		{name: "gateway api", project: "gateway-api", kinds: []string{"BackendTLSPolicy", "Gateway", "GatewayClass", "HTTPRoute", "ReferenceGrant"}},
		{name: "traefik", project: "traefik", kinds: []string{"IngressRoute", "IngressRouteTCP", "IngressRouteUDP", "Middleware", "MiddlewareTCP", "ServersTransport", "ServersTransportTCP", "TLSOption", "TLSStore", "TraefikService"}},
		{name: "cilium", project: "cilium", kinds: []string{"CiliumClusterwideNetworkPolicy", "CiliumEgressGatewayPolicy", "CiliumNetworkPolicy"}},
		{name: "prometheus-operator", project: "prometheus-operator", kinds: []string{"PodMonitor", "PrometheusRule", "ServiceMonitor"}},
	}
	var covered []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			crds, err := CRDs(tt.project)
			if err != nil {
				t.Fatalf("CRDs(%q): %v", tt.project, err)
			}
			var kinds []string
			for _, c := range crds {
				kinds = append(kinds, c.Spec.Names.Kind)
				if len(c.Spec.Versions) == 0 {
					t.Errorf("%s has no versions", c.Name)
				}
				for _, v := range c.Spec.Versions {
					if v.Served && v.Schema == nil {
						t.Errorf("%s %s is served without a schema", c.Name, v.Name)
					}
				}
			}
			slices.Sort(kinds)
			if !slices.Equal(kinds, tt.kinds) {
				t.Errorf("kinds = %v, want %v", kinds, tt.kinds)
			}
		})
		covered = append(covered, tt.project)
	}
	slices.Sort(covered)
	if got := Projects(); !slices.Equal(got, covered) {
		t.Errorf("Projects() = %v, want %v", got, covered)
	}
	all, err := CRDs()
	if err != nil {
		t.Fatalf("CRDs(): %v", err)
	}
	if len(all) != 30 {
		t.Errorf("CRDs() returned %d CRDs, want 30", len(all))
	}
}

func TestCRDsUnknownProject(t *testing.T) {
	if _, err := CRDs("istio"); err == nil || !strings.Contains(err.Error(), `unknown CRD project "istio"`) {
		t.Errorf("CRDs(istio) error = %v, want unknown project", err)
	}
}

func TestDecodeCRDs(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		want    int
		wantErr string
	}{
		{name: "empty documents skipped", data: "---\n---\n", want: 0},
		{name: "one crd", data: "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: a.example.com\n", want: 1},
		{name: "v1beta1 refused", data: "apiVersion: apiextensions.k8s.io/v1beta1\nkind: CustomResourceDefinition\nmetadata:\n  name: a.example.com\n", wantErr: "want an apiextensions.k8s.io/v1 CustomResourceDefinition"},
		{name: "other kind refused", data: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n", wantErr: "document 1 (x): is v1 ConfigMap"},
		{name: "broken yaml", data: "apiVersion: [\n", wantErr: "document 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeCRDs([]byte(tt.data))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeCRDs: %v", err)
			}
			if len(got) != tt.want {
				t.Errorf("got %d CRDs, want %d", len(got), tt.want)
			}
		})
	}
}

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
