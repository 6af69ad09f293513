package egress

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	k8sjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/client-go/kubernetes/scheme"
)

const deployDir = "../../deploy/egress"

// loadDeploy strictly decodes every manifest in deploy/egress (unknown fields
// fail) and checks the kustomization lists each file.
func loadDeploy(t *testing.T) []runtime.Object {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(deployDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", deployDir, err)
	}
	kust, err := os.ReadFile(filepath.Join(deployDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dec := k8sjson.NewSerializerWithOptions(k8sjson.DefaultMetaFactory, scheme.Scheme, scheme.Scheme,
		k8sjson.SerializerOptions{Yaml: true, Strict: true})
	var out []runtime.Object
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		if !strings.Contains(string(kust), "- "+filepath.Base(f)) {
			t.Errorf("kustomization.yaml does not list %s", filepath.Base(f))
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range strings.Split(string(b), "\n---\n") {
			obj, _, err := dec.Decode([]byte(doc), nil, nil)
			if err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			out = append(out, obj)
		}
	}
	return out
}

func TestDeployManifests(t *testing.T) {
	objs := loadDeploy(t)
	var dep *appsv1.Deployment
	var svc *corev1.Service
	var pdb *policyv1.PodDisruptionBudget
	var hpa *autoscalingv2.HorizontalPodAutoscaler
	var gw *networkingv1.NetworkPolicy
	clients := map[string][]string{}
	for _, o := range objs {
		switch v := o.(type) {
		case *appsv1.Deployment:
			dep = v
		case *corev1.Service:
			svc = v
		case *policyv1.PodDisruptionBudget:
			pdb = v
		case *autoscalingv2.HorizontalPodAutoscaler:
			hpa = v
		case *networkingv1.NetworkPolicy:
			if v.Name == "budnet-egress-gateway" {
				gw = v
			} else {
				clients[v.Namespace] = append(clients[v.Namespace], v.Name)
			}
		}
	}
	if dep == nil || svc == nil || pdb == nil || hpa == nil || gw == nil {
		t.Fatalf("missing objects: deployment %v service %v pdb %v hpa %v gateway policy %v", dep != nil, svc != nil, pdb != nil, hpa != nil, gw != nil)
	}
	pod := dep.Spec.Template
	podLabels := labels.Set(pod.Labels)
	c := pod.Spec.Containers[0]
	t.Run("hardened pod", func(t *testing.T) {
		sc, psc := c.SecurityContext, pod.Spec.SecurityContext
		if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
			t.Error("pod must run as a non-root user")
		}
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			t.Error("container must have a read-only root, no privilege escalation and no capabilities")
		}
	})
	t.Run("dns ndots 1", func(t *testing.T) {
		// The kubelet's default is ndots:5 with the cluster search list;
		// issue 11 showed where that leads for a proxy.
		dc := pod.Spec.DNSConfig
		if dc == nil || !slices.ContainsFunc(dc.Options, func(o corev1.PodDNSConfigOption) bool {
			return o.Name == "ndots" && o.Value != nil && *o.Value == "1"
		}) {
			t.Errorf("pod dnsConfig must set options ndots:1, has %+v", dc)
		}
		if pol := pod.Spec.DNSPolicy; pol != "" && pol != corev1.DNSClusterFirst {
			t.Errorf("dnsPolicy %s: the gateway must use the cluster DNS like the workloads it serves", pol)
		}
	})
	t.Run("probes hit the admin endpoints", func(t *testing.T) {
		for name, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe, "startup": c.StartupProbe} {
			if p == nil || p.HTTPGet == nil || p.HTTPGet.Port.String() != "metrics" {
				t.Errorf("%s probe must be an HTTP GET on the metrics port", name)
			}
		}
		if c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe.HTTPGet.Path != "/healthz" {
			t.Error("readiness must use /readyz and liveness /healthz")
		}
	})
	t.Run("ports agree with the flags", func(t *testing.T) {
		args := strings.Join(c.Args, " ")
		for _, p := range c.Ports {
			flag := map[string]string{"proxy": "--listen=:", "metrics": "--admin-listen=:"}[p.Name]
			if !strings.Contains(args, flag+strconv.Itoa(int(p.ContainerPort))) {
				t.Errorf("container port %s=%d not what the args listen on (%s)", p.Name, p.ContainerPort, args)
			}
		}
		if dep.Spec.Template.Spec.TerminationGracePeriodSeconds == nil || *dep.Spec.Template.Spec.TerminationGracePeriodSeconds <= 35 {
			t.Error("termination grace must exceed --shutdown-timeout plus the preStop pause")
		}
	})
	t.Run("selectors match the pods", func(t *testing.T) {
		for name, sel := range map[string]map[string]string{"service": svc.Spec.Selector, "pdb": pdb.Spec.Selector.MatchLabels, "gateway policy": gw.Spec.PodSelector.MatchLabels} {
			if len(sel) == 0 || !labels.SelectorFromSet(sel).Matches(podLabels) {
				t.Errorf("%s selector %v does not select the gateway pods %v", name, sel, podLabels)
			}
		}
		if hpa.Spec.ScaleTargetRef.Name != dep.Name || *hpa.Spec.MinReplicas < 2 {
			t.Error("HPA must target the deployment with at least 2 replicas")
		}
	})
	t.Run("gateway leaves only on 443 to public ranges", func(t *testing.T) {
		for _, r := range gw.Spec.Egress {
			for _, peer := range r.To {
				if peer.IPBlock == nil || peer.IPBlock.CIDR != "0.0.0.0/0" {
					continue
				}
				if len(r.Ports) != 1 || r.Ports[0].Port.IntValue() != 443 {
					t.Errorf("the internet rule must allow only 443, has %v", r.Ports)
				}
				for _, private := range []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10", "127.0.0.0/8"} {
					if !slices.ContainsFunc(peer.IPBlock.Except, func(e string) bool {
						return netip.MustParsePrefix(e).Overlaps(netip.MustParsePrefix(private)) && netip.MustParsePrefix(e).Bits() <= netip.MustParsePrefix(private).Bits()
					}) {
						t.Errorf("internet rule does not except %s", private)
					}
				}
			}
		}
	})
	t.Run("bud namespaces leave only through the gateway", func(t *testing.T) {
		for _, ns := range []string{"bud-system", "bud-frontend", "bud-data", "bud-monitoring", "bud-auth"} {
			if !slices.Contains(clients[ns], "default-deny-egress") || !slices.Contains(clients[ns], "egress-via-budnet-gateway") {
				t.Errorf("namespace %s has policies %v", ns, clients[ns])
			}
		}
	})
}
