package generate_test

import (
	"fmt"
	"hash/adler32"
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/budnet/budnet/internal/generate"
	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/platform"
)

// solverPod is the pod cert-manager creates to answer an HTTP-01
// challenge, as pkg/issuer/acme/http pod.go (cert-manager v1.21.2)
// buildDefaultPod builds it: in the Challenge's namespace, which is the
// Certificate's; labels acme.cert-manager.io/http-domain and http-token
// (adler32 of the domain and token) and http01-solver "true"; one container
// port, 8089, named http.
func solverPod(ns, domain, token string) netpol.Pod {
	return netpol.Pod{
		Namespace: ns, Name: "cm-acme-http-solver-" + fmt.Sprint(adler32.Checksum([]byte(domain)))[:5],
		Workload: ns + "/cm-acme-http-solver",
		Labels: map[string]string{
			"acme.cert-manager.io/http-domain":   fmt.Sprint(adler32.Checksum([]byte(domain))),
			"acme.cert-manager.io/http-token":    fmt.Sprint(adler32.Checksum([]byte(token))),
			"acme.cert-manager.io/http01-solver": "true",
		},
		Ports: []netpol.ContainerPort{{Name: "http", Port: 8089, Protocol: corev1.ProtocolTCP}},
	}
}

// modelPod is a pod of a model workload with its labels and ports.
func modelPod(w *platform.Workload) netpol.Pod {
	pod := netpol.Pod{Namespace: w.Zone, Name: w.Name + "-0", Workload: w.Zone + "/" + w.Name, Labels: w.PodLabels}
	for _, np := range w.Ports {
		pod.Ports = append(pod.Ports, netpol.ContainerPort{Name: np.Name, Port: np.Port, Protocol: corev1.Protocol(np.Protocol)})
	}
	return pod
}

// TestACMESolverReachable runs budnet's NetworkPolicy engine over the
// generated policies of every edge, the model's zones and workloads, and
// one solver pod per edge host built from cert-manager's pod template in
// the namespace its Certificate is in: the ingress controller reaches each
// solver on 8089; another workload does not, the controller reaches no
// other port of the solver, and no other pod of the namespace on 8089.
func TestACMESolverReachable(t *testing.T) {
	p := loadModel(t, "")
	if p.Spec.TLS.Issuer.Kind != "acme" {
		t.Fatal("the Bud model's issuer is not acme")
	}
	for _, edge := range []platform.EdgeKind{platform.EdgeGatewayAPI, platform.EdgeTraefik, platform.EdgeNginx} {
		t.Run(string(edge), func(t *testing.T) {
			files, err := generate.Generate(p, generate.Options{Edge: edge})
			if err != nil {
				t.Fatal(err)
			}
			var c netpol.Cluster
			for _, z := range p.Spec.Zones {
				c.Namespaces = append(c.Namespaces, netpol.Namespace{Name: z.Name, Labels: map[string]string{"kubernetes.io/metadata.name": z.Name}})
			}
			for i := range p.Spec.Workloads {
				c.Pods = append(c.Pods, modelPod(&p.Spec.Workloads[i]))
			}
			solvers := map[string]string{} // pod name -> host
			for _, f := range files {
				for _, u := range f.Objects {
					switch u.GetKind() {
					case "NetworkPolicy":
						var np networkingv1.NetworkPolicy
						if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &np); err != nil {
							t.Fatal(err)
						}
						c.Policies = append(c.Policies, &np)
					case "Certificate":
						dns, _ := u.Object["spec"].(map[string]any)["dnsNames"].([]any)
						if len(dns) != 1 || u.GetName() == "budnet-internal-ca" {
							continue
						}
						host := fmt.Sprint(dns[0])
						pod := solverPod(u.GetNamespace(), host, "tok-"+host)
						pod.Name = u.GetName() + "-solver"
						solvers[pod.Name] = host
						c.Pods = append(c.Pods, pod)
						// A pod of the same namespace that is not a solver
						// but also listens on 8089.
						c.Pods = append(c.Pods, netpol.Pod{Namespace: u.GetNamespace(), Name: u.GetName() + "-impostor",
							Labels: map[string]string{"app": "impostor"}, Ports: []netpol.ContainerPort{{Name: "http", Port: 8089}}})
					}
				}
			}
			if len(solvers) != len(p.Spec.Edge.Hosts) {
				t.Fatalf("%d solver pods for %d edge hosts", len(solvers), len(p.Spec.Edge.Hosts))
			}
			eng, err := netpol.New(c, netpol.Options{})
			if err != nil {
				t.Fatal(err)
			}
			ingress := p.Select(platform.Selector{Role: platform.RoleIngress})[0]
			ctl, ok := eng.PodPeer(ingress.Zone, ingress.Name+"-0")
			if !ok {
				t.Fatal("no ingress controller pod")
			}
			other, _ := eng.PodPeer("bud-system", "budapp-0")
			for name, host := range solvers {
				var ns string
				for _, pod := range c.Pods {
					if pod.Name == name {
						ns = pod.Namespace
					}
				}
				solver, _ := eng.PodPeer(ns, name)
				if v := eng.Evaluate(ctl, solver, corev1.ProtocolTCP, 8089); !v.Allowed {
					t.Errorf("%s: the ingress controller cannot reach the solver for %s in %s: %s", edge, host, ns, v)
				}
				if v := eng.Evaluate(ctl, solver, corev1.ProtocolTCP, 8080); v.Allowed {
					t.Errorf("%s: controller reaches the solver on 8080: %s", edge, v)
				}
				if v := eng.Evaluate(other, solver, corev1.ProtocolTCP, 8089); v.Allowed {
					t.Errorf("%s: budapp reaches the solver in %s: %s", edge, ns, v)
				}
				impostor, _ := eng.PodPeer(ns, name[:len(name)-len("-solver")]+"-impostor")
				if v := eng.Evaluate(ctl, impostor, corev1.ProtocolTCP, 8089); v.Allowed {
					t.Errorf("%s: controller reaches a non-solver pod on 8089 in %s: %s", edge, ns, v)
				}
			}
			// The ACME server reaches the edge's HTTP port from the internet.
			httpPort := int32(80)
			for _, np := range ingress.Ports {
				if np.Name == "web" || np.Name == "http" {
					httpPort = np.Port
				}
			}
			if v := eng.Evaluate(netpol.AddressPeer(netip.MustParseAddr("8.8.8.8")), ctl, corev1.ProtocolTCP, httpPort); !v.Allowed {
				t.Errorf("%s: the internet cannot reach the edge's HTTP port %d: %s", edge, httpPort, v)
			}
		})
	}
}

// TestACMEGatewayAPIRequirement: with the gateway-api edge the ACME
// issuer's gatewayHTTPRoute solver works only when cert-manager runs with
// Gateway API support, which is off by default; the issuer says so.
func TestACMEGatewayAPIRequirement(t *testing.T) {
	p := loadModel(t, "")
	for _, edge := range []platform.EdgeKind{platform.EdgeGatewayAPI, platform.EdgeTraefik} {
		files, err := generate.Certs(p, generate.Options{Edge: edge})
		if err != nil {
			t.Fatal(err)
		}
		u := find(files[0].Objects, "ClusterIssuer", "", "budnet-acme")
		if u == nil {
			t.Fatal("no ACME issuer")
		}
		data, err := files[0].Render()
		if err != nil {
			t.Fatal(err)
		}
		header, _, _ := strings.Cut(string(data), "\n")
		if inHeader := strings.Contains(header, "--enable-gateway-api"); inHeader != (edge == platform.EdgeGatewayAPI) {
			t.Errorf("%s: header comment %q", edge, header)
		}
		got := u.GetAnnotations()[generate.AnnotationRequires]
		if want := edge == platform.EdgeGatewayAPI; want != (got != "") {
			t.Errorf("%s: requires %q", edge, got)
		}
		if edge == platform.EdgeGatewayAPI && !strings.Contains(got, "--enable-gateway-api") {
			t.Errorf("%s: requires %q does not name --enable-gateway-api", edge, got)
		}
	}
}
