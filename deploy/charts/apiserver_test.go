package charts

import (
	"context"
	"os"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	chartloader "helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"

	"github.com/budnet/budnet/internal/kubetest"
)

var harness = kubetest.NewHarness(kubetest.Options{Projects: []string{}})

func TestMain(m *testing.M) { os.Exit(harness.Run(m)) }

// TestAPIServerAcceptsChart creates every object the chart renders, with the
// defaults and with a platform of one's own, in a real kube-apiserver: its
// validation (ipBlock CIDRs, probe and lifecycle fields, PDB and HPA specs)
// decides, not the client-go decoder.
func TestAPIServerAcceptsChart(t *testing.T) {
	env := harness.Env(t)
	tests := []struct {
		name, release, namespace string
		set                      []string
	}{
		{name: "defaults", release: "budnet", namespace: "bud-infra", set: []string{"egress.apiServer.cidrs={10.0.0.1/32}"}},
		{name: "own platform, report mode, no autoscaling", release: "budnet-own", namespace: "budnet-own",
			// The client namespaces' policies are the first case's: names would collide.
			set: []string{"egress.apiServer.cidrs={10.0.0.1/32,fd00::1/128}", "egress.platform=apiVersion: budnet.io/v1alpha1",
				"egress.mode=report", "egress.autoscaling.enabled=false", "egress.clientPolicies=false"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var objs []*unstructured.Unstructured
			for _, o := range renderAs(t, tt.release, tt.namespace, tt.set...) {
				u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
				if err != nil {
					t.Fatal(err)
				}
				obj := &unstructured.Unstructured{Object: u}
				setKind(obj, o)
				objs = append(objs, obj)
			}
			if len(objs) < 8 {
				t.Fatalf("only %d objects rendered", len(objs))
			}
			if err := env.Apply(t.Context(), objs...); err != nil {
				for _, e := range kubetest.ObjectErrors(err) {
					t.Errorf("API server refused %v", e)
				}
				if len(kubetest.ObjectErrors(err)) == 0 {
					t.Fatal(err)
				}
			}
		})
	}
}

// setKind restores apiVersion and kind, which the typed decoder drops.
func setKind(u *unstructured.Unstructured, o runtime.Object) {
	gvks, _, err := scheme.Scheme.ObjectKinds(o)
	if err == nil && len(gvks) > 0 {
		u.SetGroupVersionKind(gvks[0])
	}
}

// TestLookupAPIServerAddresses: installed against a cluster, the chart reads
// the kubernetes Service's EndpointSlices and lets the gateway reach exactly
// those addresses on the API ports; rendered offline it names none.
func TestLookupAPIServerAddresses(t *testing.T) {
	env := harness.Env(t)
	ctx := context.Background()
	// The API server's own slice when it wrote one; else create what the
	// endpoint reconciler (off in the harness) would.
	var want []string
	slices := env.Clientset.DiscoveryV1().EndpointSlices("default")
	if own, err := slices.Get(ctx, "kubernetes", metav1.GetOptions{}); err == nil {
		for _, e := range own.Endpoints {
			for _, a := range e.Addresses {
				want = append(want, a+"/32")
			}
		}
	} else {
		slice := &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: "kubernetes", Namespace: "default", Labels: map[string]string{"kubernetes.io/service-name": "kubernetes"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.20.30.40"}}, {Addresses: []string{"10.20.30.41"}}},
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To[int32](6443), Protocol: ptr.To(corev1.ProtocolTCP)}},
		}
		if _, err := slices.Create(ctx, slice, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		want = []string{"10.20.30.40/32", "10.20.30.41/32"}
	}
	if len(want) == 0 {
		t.Fatal("the kubernetes EndpointSlice has no addresses")
	}
	// Another service's slice in default is not the API server.
	other := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-abc", Namespace: "default", Labels: map[string]string{"kubernetes.io/service-name": "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.9.9.9"}}},
	}
	if _, err := slices.Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ch, err := chartloader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := chartutil.ToRenderValuesWithSchemaValidation(ch, map[string]any{},
		common.ReleaseOptions{Name: "budnet", Namespace: "bud-infra", Revision: 1, IsInstall: true}, common.DefaultCapabilities.Copy(), false)
	if err != nil {
		t.Fatal(err)
	}
	files, err := engine.New(env.Config).RenderWithContext(ctx, ch, vals)
	if err != nil {
		t.Fatal(err)
	}
	var np *networkingv1.NetworkPolicy
	for _, o := range decode(t, "gateway policy", files["budnet/templates/egress-networkpolicy.yaml"]) {
		np = o.(*networkingv1.NetworkPolicy)
	}
	var cidrs []string
	for _, r := range np.Spec.Egress {
		if len(r.Ports) == 2 && r.Ports[1].Port.IntValue() == 6443 {
			for _, p := range r.To {
				cidrs = append(cidrs, p.IPBlock.CIDR)
			}
		}
	}
	if strings.Join(cidrs, ",") != strings.Join(want, ",") {
		t.Errorf("API server rule names %v, want the kubernetes EndpointSlice's addresses %v", cidrs, want)
	}
	// Offline (helm template, budnet audit --chart): no API rule at all.
	for _, o := range render(t) {
		if p, ok := o.(*networkingv1.NetworkPolicy); ok && p.Name == "budnet-egress-gateway" {
			for _, r := range p.Spec.Egress {
				for _, port := range r.Ports {
					if port.Port.IntValue() == 6443 {
						t.Errorf("offline render allows the API port to %v", r.To)
					}
				}
			}
		}
	}
}
