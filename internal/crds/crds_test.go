package crds

import (
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
		{name: "network-policy-api", project: "network-policy-api", kinds: []string{"AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy"}},
		{name: "wg-policy", project: "wg-policy", kinds: []string{"ClusterPolicyReport", "PolicyReport"}},
	}
	var covered []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			crds, err := Decode(tt.project)
			if err != nil {
				t.Fatalf("Decode(%q): %v", tt.project, err)
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
	all, err := Decode()
	if err != nil {
		t.Fatalf("Decode(): %v", err)
	}
	if len(all) != 35 {
		t.Errorf("Decode() returned %d CRDs, want 35", len(all))
	}
}

func TestCRDsUnknownProject(t *testing.T) {
	if _, err := Decode("istio"); err == nil || !strings.Contains(err.Error(), `unknown CRD project "istio"`) {
		t.Errorf("Decode(istio) error = %v, want unknown project", err)
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

// TestProjectOf holds the group index to the decoded CRDs: each CRD's group
// names its own project, and an unknown group none.
func TestProjectOf(t *testing.T) {
	for _, p := range Projects() {
		defs, err := Decode(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range defs {
			if got := ProjectOf(d.Spec.Group); got != p {
				t.Errorf("ProjectOf(%q) = %q, want %q (CRD %s)", d.Spec.Group, got, p, d.Name)
			}
		}
	}
	if got := ProjectOf("example.com"); got != "" {
		t.Errorf("ProjectOf(example.com) = %q, want none", got)
	}
}
