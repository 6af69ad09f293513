package generate_test

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"budnet/internal/generate"
	"budnet/internal/kubetest"
	"budnet/internal/platform"
)

// TestAPIServerAcceptsEverything starts a real etcd and kube-apiserver with
// the pinned CRDs of cert-manager, Dapr, Gateway API, Traefik, Cilium and
// prometheus-operator, and creates (no dry run) every object generate
// writes for the embedded model, for each edge and CNI: the management
// cluster's manifests and, in the same server, each registered cluster's
// raw objects. Every object must be created; the server's error is printed
// per object. Each combination gets a fresh control plane, since the sets
// share names. Without the binaries the test skips, and fails under CI=true.
func TestAPIServerAcceptsEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane per combination")
	}
	for _, edge := range []platform.EdgeKind{platform.EdgeGatewayAPI, platform.EdgeTraefik, platform.EdgeNginx} {
		for _, cni := range []generate.CNI{generate.CNIKubernetes, generate.CNICilium} {
			t.Run(string(edge)+"-"+string(cni), func(t *testing.T) {
				env := kubetest.ForTest(t, kubetest.Options{})
				files := generateAll(t, budWithCluster(t), generate.Options{Edge: edge, CNI: cni})
				var objs []*unstructured.Unstructured
				kinds := map[string]int{}
				for _, f := range files {
					fileObjs := f.Objects
					if len(fileObjs) == 0 && strings.HasSuffix(f.Name, ".yaml") && f.Name != generate.FileKustomization {
						fileObjs = rawObjects(t, f)
					}
					for _, o := range fileObjs {
						kinds[o.GetKind()]++
					}
					objs = append(objs, fileObjs...)
				}
				for _, want := range wantKinds(edge, cni) {
					if kinds[want] == 0 {
						t.Errorf("no %s generated", want)
					}
				}
				err := env.Apply(t.Context(), objs...)
				for _, oe := range kubetest.ObjectErrors(err) {
					t.Errorf("%s %s/%s: %v", oe.Kind, oe.Namespace, oe.Name, oe.Err)
				}
				if err != nil && len(kubetest.ObjectErrors(err)) == 0 {
					t.Fatal(err)
				}
				t.Logf("created %d objects: %v", len(objs), kinds)
			})
		}
	}
}

// wantKinds are kinds each combination must produce, so the test cannot
// pass by generating less.
func wantKinds(edge platform.EdgeKind, cni generate.CNI) []string {
	kinds := []string{"Namespace", "NetworkPolicy", "Configuration", "ClusterIssuer", "Certificate",
		"PrometheusRule", "ServiceAccount", "Secret", "ClusterRole", "Role", "RoleBinding", "ConfigMap"}
	switch edge {
	case platform.EdgeGatewayAPI:
		kinds = append(kinds, "Gateway", "HTTPRoute", "Middleware", "TLSOption")
	case platform.EdgeTraefik:
		kinds = append(kinds, "IngressRoute", "Middleware", "TLSOption")
	case platform.EdgeNginx:
		kinds = append(kinds, "Ingress")
	}
	if cni == generate.CNICilium {
		kinds = append(kinds, "CiliumNetworkPolicy")
	}
	return kinds
}
