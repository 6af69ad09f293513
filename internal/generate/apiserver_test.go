package generate_test

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/budnet/budnet/internal/generate"
	"github.com/budnet/budnet/internal/kubetest"
	"github.com/budnet/budnet/internal/platform"
)

// TestAPIServerAcceptsEverything starts a real etcd and kube-apiserver with
// the pinned CRDs of cert-manager, Dapr, Gateway API, Traefik, Cilium and
// prometheus-operator, and creates (no dry run) every object generate
// writes for the embedded model, for each edge and CNI: the management
// cluster's manifests and, in the same server, each registered cluster's
// raw objects. Every object must be created; the server's error is printed
// per object. Each edge gets a fresh control plane, since the edges' sets
// share names; within one, the second CNI's objects are created unless the
// first CNI's set already created the same object (same kind, namespace,
// name and content; the same key with other content fails). Without the
// binaries the test skips, and fails under CI=true.
func TestAPIServerAcceptsEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane per edge")
	}
	for _, edge := range []platform.EdgeKind{platform.EdgeGatewayAPI, platform.EdgeTraefik, platform.EdgeNginx} {
		t.Run(string(edge), func(t *testing.T) {
			env := kubetest.ForTest(t, kubetest.Options{})
			created := map[string]*unstructured.Unstructured{}
			for _, cni := range []generate.CNI{generate.CNIKubernetes, generate.CNICilium} {
				objs, kinds := allObjects(t, generate.Options{Edge: edge, CNI: cni})
				for _, want := range wantKinds(edge, cni) {
					if kinds[want] == 0 {
						t.Errorf("%s: no %s generated", cni, want)
					}
				}
				var todo []*unstructured.Unstructured
				for _, o := range objs {
					key := o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
					prev, ok := created[key]
					switch {
					case !ok:
						todo = append(todo, o)
						created[key] = o
					case !reflect.DeepEqual(prev.Object, o.Object):
						t.Errorf("%s: %s differs from the %s set's object of that name", cni, key, generate.CNIKubernetes)
					}
				}
				err := env.Apply(t.Context(), todo...)
				for _, oe := range kubetest.ObjectErrors(err) {
					t.Errorf("%s: %s %s/%s: %v", cni, oe.Kind, oe.Namespace, oe.Name, oe.Err)
				}
				if err != nil && len(kubetest.ObjectErrors(err)) == 0 {
					t.Fatal(err)
				}
				t.Logf("%s: %d objects, %d created now: %v", cni, len(objs), len(todo), kinds)
			}
			// The server does validate: a generated Configuration with a
			// field of the wrong type is refused.
			bad := created["Configuration bud-infra/"+generate.DaprSystemConfiguration].DeepCopy()
			bad.SetName("budnet-broken")
			if err := unstructured.SetNestedField(bad.Object, "yes", "spec", "mtls", "enabled"); err != nil {
				t.Fatal(err)
			}
			if err := env.Apply(t.Context(), bad); err == nil {
				t.Error("the API server accepted mtls.enabled: \"yes\"")
			}
		})
	}
}

// allObjects are the objects of every generated manifest, raw cluster
// files included.
func allObjects(t *testing.T, o generate.Options) ([]*unstructured.Unstructured, map[string]int) {
	t.Helper()
	var objs []*unstructured.Unstructured
	kinds := map[string]int{}
	for _, f := range generateAll(t, budWithCluster(t), o) {
		fileObjs := f.Objects
		if len(fileObjs) == 0 && strings.HasSuffix(f.Name, ".yaml") && f.Name != generate.FileKustomization {
			fileObjs = rawObjects(t, f)
		}
		for _, u := range fileObjs {
			kinds[u.GetKind()]++
		}
		objs = append(objs, fileObjs...)
	}
	return objs, kinds
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
