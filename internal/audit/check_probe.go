package audit

import (
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/platform"
)

// probeOutside is a namespace no policy can know about: what a pod there may
// do, any pod of the cluster may do.
const probeOutside = "budnet-probe-elsewhere"

// probe is the inventory's pods plus hypothetical pods the policy engine
// judges like real ones: a label-less pod in every namespace (what a new
// deployment gets by default), one in a namespace nobody selects, and the
// cluster DNS when the manifests do not contain it. Isolation questions are
// answered by evaluating these pods, never by reading policy text.
type probe struct {
	eng     *netpol.Engine
	m       *netpol.Matrix
	nsPod   map[string]int
	outside int
	dns     []int
}

func probeName(ns string) string { return ns + "/(a new pod)" }

func newProbe(c *Context) (*probe, error) {
	if c.probe != nil {
		return c.probe, nil
	}
	pr, err := buildProbe(c)
	if err == nil {
		c.probe = pr
	}
	return pr, err
}

// matrix is the probe engine's matrix, computed once.
func (pr *probe) matrix() *netpol.Matrix {
	if pr.m == nil {
		pr.m = pr.eng.Matrix()
	}
	return pr.m
}

func buildProbe(c *Context) (*probe, error) {
	rv := c.Reach()
	if rv.Input == nil || rv.Engine == nil {
		if rv.Err != nil {
			return nil, fmt.Errorf("evaluating the network policies: %w", rv.Err)
		}
		return nil, errors.New("evaluating the network policies: no engine")
	}
	in := rv.Input
	cl := netpol.Cluster{
		Namespaces: slices.Clone(in.Cluster.Namespaces),
		Pods:       slices.Clone(in.Cluster.Pods),
		Policies:   in.Cluster.Policies,
	}
	pr := &probe{nsPod: map[string]int{}}
	for _, ns := range c.Inventory.Namespaces {
		pr.nsPod[ns.Name] = len(cl.Pods)
		cl.Pods = append(cl.Pods, netpol.Pod{Namespace: ns.Name, Name: "budnet-probe", Workload: probeName(ns.Name), Labels: map[string]string{}})
	}
	cl.Namespaces = append(cl.Namespaces, netpol.Namespace{Name: probeOutside, Labels: map[string]string{manifest.NamespaceNameLabel: probeOutside}})
	pr.outside = len(cl.Pods)
	cl.Pods = append(cl.Pods, netpol.Pod{Namespace: probeOutside, Name: "budnet-probe", Workload: probeName(probeOutside), Labels: map[string]string{}})

	dnsNS, dnsLabels, dnsPorts := dnsOf(c.Platform)
	for i, p := range in.Cluster.Pods {
		if p.Namespace == dnsNS && platform.HasLabels(p.Labels, dnsLabels) {
			pr.dns = append(pr.dns, i)
		}
	}
	if len(pr.dns) == 0 {
		if !slices.ContainsFunc(cl.Namespaces, func(n netpol.Namespace) bool { return n.Name == dnsNS }) {
			cl.Namespaces = append(cl.Namespaces, netpol.Namespace{Name: dnsNS, Labels: map[string]string{manifest.NamespaceNameLabel: dnsNS}})
		}
		pr.dns = []int{len(cl.Pods)}
		cl.Pods = append(cl.Pods, netpol.Pod{Namespace: dnsNS, Name: "cluster-dns", Workload: dnsNS + "/(cluster DNS)", Labels: dnsLabels,
			Ports: dnsContainerPorts(dnsPorts)})
	}
	eng, err := netpol.New(cl, netpol.Options{})
	if err != nil {
		return nil, fmt.Errorf("evaluating the network policies: %w", err)
	}
	pr.eng = eng
	return pr, nil
}

// dnsOf is where pods resolve names: the model's cluster DNS, or kube-dns
// (platform.ClusterDNS, the one home of the defaults).
func dnsOf(p *platform.Platform) (string, map[string]string, []platform.Port) {
	d := platform.ClusterDNS(p)
	return d.Namespace, d.PodLabels, d.Ports
}

// dnsContainerPorts are the ports of the pod the probe stands in for a
// cluster DNS the manifests lack: the model's DNS ports, the first UDP and
// TCP ones under the names CoreDNS's kube-dns Deployment gives them (dns,
// dns-tcp) so a policy naming them resolves as on a real cluster.
func dnsContainerPorts(ports []platform.Port) []netpol.ContainerPort {
	names := map[corev1.Protocol]string{corev1.ProtocolUDP: "dns", corev1.ProtocolTCP: "dns-tcp"}
	out := make([]netpol.ContainerPort, 0, len(ports))
	for _, p := range ports {
		proto := protocolOf(p.Protocol)
		out = append(out, netpol.ContainerPort{Name: names[proto], Port: p.Port, Protocol: proto})
		delete(names, proto)
	}
	return out
}

func protocolOf(s string) corev1.Protocol {
	if s == "" {
		return corev1.ProtocolTCP
	}
	return corev1.Protocol(s)
}

// firstPort is a port of a non-empty set, to explain it with Evaluate.
func firstPort(ps netpol.PortSet) (corev1.Protocol, int32) {
	r := ps.Ranges()
	if len(r) == 0 {
		return corev1.ProtocolTCP, 1
	}
	return r[0].Protocol, r[0].Start
}

func ruleStrings(rs []netpol.RuleRef) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = appendUnique(out, r.Policy.String())
	}
	return out
}

func policyStrings(rs []netpol.PolicyRef) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = appendUnique(out, r.String())
	}
	return out
}

func appendUnique(xs []string, s string) []string {
	if slices.Contains(xs, s) {
		return xs
	}
	return append(xs, s)
}
