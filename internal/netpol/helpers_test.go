package netpol_test

import (
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"

	"github.com/budnet/budnet/internal/netpol"
)

// fixtureCluster is the small cluster the semantic tests judge connections in.
// Namespaces a (team=blue) and b (team=green), c (no team label); pods carry IPs so
// that ipBlock-matches-pods can be tested; c/node is a host-network pod.
func fixtureCluster() netpol.Cluster {
	ns := func(name string, kv ...string) netpol.Namespace {
		l := map[string]string{"kubernetes.io/metadata.name": name}
		for i := 0; i+1 < len(kv); i += 2 {
			l[kv[i]] = kv[i+1]
		}
		return netpol.Namespace{Name: name, Labels: l}
	}
	tcp := func(name string, port int32) netpol.ContainerPort {
		return netpol.ContainerPort{Name: name, Port: port}
	}
	pod := func(ns, name, ip string, labels map[string]string, ports ...netpol.ContainerPort) netpol.Pod {
		return netpol.Pod{Namespace: ns, Name: name, Labels: labels, Ports: ports, IPs: []netip.Addr{netip.MustParseAddr(ip)}}
	}
	c := netpol.Cluster{
		Namespaces: []netpol.Namespace{ns("a", "team", "blue"), ns("b", "team", "green"), ns("c")},
		Pods: []netpol.Pod{
			pod("a", "web", "10.0.0.1", map[string]string{"app": "web", "tier": "front"}, tcp("http", 8080)),
			pod("a", "db", "10.0.0.2", map[string]string{"app": "db", "tier": "back"}, tcp("postgres", 5432), tcp("http", 9000)),
			pod("a", "client", "10.0.0.3", map[string]string{"app": "client"}),
			pod("b", "web", "10.0.1.1", map[string]string{"app": "web", "tier": "front"}, tcp("http", 80),
				netpol.ContainerPort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}),
			pod("b", "db", "10.0.1.2", map[string]string{"app": "db"}, tcp("postgres", 5432)),
			pod("b", "client", "10.0.1.3", map[string]string{"app": "client"}),
			pod("c", "node", "192.168.0.10", map[string]string{"app": "web"}, tcp("http", 10250)),
			pod("c", "api", "fd00::5", map[string]string{"app": "api"}, tcp("http", 8443)),
		},
	}
	c.Pods[6].HostNetwork = true
	return c
}

// parsePolicies decodes "---"-separated NetworkPolicy YAML documents.
func parsePolicies(t testing.TB, docs string) []*networkingv1.NetworkPolicy {
	t.Helper()
	var out []*networkingv1.NetworkPolicy
	for _, doc := range strings.Split(docs, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		np := &networkingv1.NetworkPolicy{}
		if err := yaml.UnmarshalStrict([]byte(doc), np); err != nil {
			t.Fatalf("policy yaml: %v\n%s", err, doc)
		}
		out = append(out, np)
	}
	return out
}

// peerOf resolves "ns/name" to a pod peer and anything else to an address.
func peerOf(t testing.TB, c netpol.Cluster, s string) netpol.Peer {
	t.Helper()
	if a, err := netip.ParseAddr(s); err == nil {
		return netpol.AddressPeer(a)
	}
	for i, p := range c.Pods {
		if p.Namespace+"/"+p.Name == s {
			return netpol.PodPeer(i)
		}
	}
	t.Fatalf("no pod %q", s)
	return netpol.Peer{}
}
