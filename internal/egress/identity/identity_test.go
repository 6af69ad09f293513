package identity

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/netip"
	"net/url"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/budnet/budnet/internal/testenv"
)

func testIdentifier(t *testing.T) *Identifier {
	t.Helper()
	id, err := New(Config{
		TrustDomain: "cluster.local",
		Workloads: []Workload{
			{Name: "budgateway", Namespace: "bud-system", ServiceAccount: "budgateway", PodLabels: map[string]string{"app": "budgateway"}},
			{Name: "grafana", Namespace: "bud-monitoring", ServiceAccount: "grafana"},
			{Name: "shared-a", Namespace: "bud-system", ServiceAccount: "default"},
			{Name: "shared-b", Namespace: "bud-system", ServiceAccount: "default"},
		},
		Sources: []SourceCIDR{
			{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Workload: "grafana"},
			{Prefix: netip.MustParsePrefix("10.1.0.0/16"), Workload: "budgateway"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

type podMap map[netip.Addr]PodInfo

func (m podMap) PodByIP(a netip.Addr) (PodInfo, bool) { p, ok := m[a]; return p, ok }

func certWith(cn string, uris ...string) *x509.Certificate {
	c := &x509.Certificate{Subject: pkix.Name{CommonName: cn}}
	for _, u := range uris {
		pu, _ := url.Parse(u)
		c.URIs = append(c.URIs, pu)
	}
	return c
}

func TestIdentify(t *testing.T) {
	id := testIdentifier(t)
	pods := podMap{
		netip.MustParseAddr("10.1.2.3"): {Namespace: "bud-monitoring", Name: "grafana-0", ServiceAccount: "grafana"},
		netip.MustParseAddr("10.1.2.4"): {Namespace: "bud-system", Name: "x", ServiceAccount: "unknown"},
	}
	tests := []struct {
		name   string
		peer   Peer
		want   string
		method Method
	}{
		{name: "spiffe wins over pod and cidr", peer: Peer{Addr: netip.MustParseAddr("10.1.2.3"),
			Certs: []*x509.Certificate{certWith("", "spiffe://cluster.local/ns/bud-system/sa/budgateway")}}, want: "budgateway", method: MethodCertificate},
		{name: "cn of a workload", peer: Peer{Certs: []*x509.Certificate{certWith("grafana")}}, want: "grafana", method: MethodCertificate},
		{name: "unknown cert does not fall through to ip", peer: Peer{Addr: netip.MustParseAddr("10.1.2.3"),
			Certs: []*x509.Certificate{certWith("stranger")}}, method: MethodCertificate},
		{name: "wrong trust domain", peer: Peer{Certs: []*x509.Certificate{certWith("", "spiffe://evil.local/ns/bud-system/sa/budgateway")}}, method: MethodCertificate},
		{name: "shared service account is ambiguous", peer: Peer{Certs: []*x509.Certificate{certWith("", "spiffe://cluster.local/ns/bud-system/sa/default")}}, method: MethodCertificate},
		{name: "pod by service account", peer: Peer{Addr: netip.MustParseAddr("10.1.2.3")}, want: "grafana", method: MethodPod},
		{name: "pod without a workload falls to cidr", peer: Peer{Addr: netip.MustParseAddr("10.1.2.4")}, want: "budgateway", method: MethodCIDR},
		{name: "longest cidr", peer: Peer{Addr: netip.MustParseAddr("10.1.9.9")}, want: "budgateway", method: MethodCIDR},
		{name: "shorter cidr", peer: Peer{Addr: netip.MustParseAddr("10.2.0.1")}, want: "grafana", method: MethodCIDR},
		{name: "nobody", peer: Peer{Addr: netip.MustParseAddr("192.168.0.1")}, method: MethodNone},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := id.Identify(tc.peer, pods)
			if got.Workload != tc.want || got.Method != tc.method {
				t.Fatalf("got %+v, want %q by %s", got, tc.want, tc.method)
			}
		})
	}
}

func TestParseSPIFFE(t *testing.T) {
	tests := []struct {
		name, in string
		ok       bool
	}{
		{name: "good", in: "spiffe://cluster.local/ns/a/sa/b", ok: true},
		{name: "case of domain", in: "spiffe://Cluster.Local/ns/a/sa/b", ok: true},
		{name: "extra segment", in: "spiffe://cluster.local/ns/a/sa/b/c"},
		{name: "wrong order", in: "spiffe://cluster.local/sa/b/ns/a"},
		{name: "port", in: "spiffe://cluster.local:8443/ns/a/sa/b"},
		{name: "query", in: "spiffe://cluster.local/ns/a/sa/b?x=1"},
		{name: "https", in: "https://cluster.local/ns/a/sa/b"},
		{name: "encoded slash", in: "spiffe://cluster.local/ns/a%2Fb/sa/c"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := url.Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			_, _, ok := ParseSPIFFE(u, "cluster.local")
			if ok != tc.ok {
				t.Fatalf("ParseSPIFFE(%s) ok=%v want %v", tc.in, ok, tc.ok)
			}
		})
	}
}

func pod(ns, name, ip, sa string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec:       corev1.PodSpec{ServiceAccountName: sa},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}},
	}
}

// TestPodIndexInformer drives the real client-go informer machinery from a
// fake clientset: initial list, add, IP change, host network, delete.
func TestPodIndexInformer(t *testing.T) {
	client := fake.NewClientset(pod("bud-system", "gw-0", "10.244.0.5", "budgateway", map[string]string{"app": "budgateway"}))
	idx := NewPodIndex(client, 0, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- idx.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	waitFor(t, "sync", idx.Synced)
	id := testIdentifier(t)
	who := func(ip string) string {
		got := id.Identify(Peer{Addr: netip.MustParseAddr(ip)}, idx)
		if got.Method != MethodPod {
			return ""
		}
		return got.Workload
	}
	waitFor(t, "initial pod", func() bool { return who("10.244.0.5") == "budgateway" })

	pods := client.CoreV1().Pods("bud-monitoring")
	g := pod("bud-monitoring", "grafana-0", "10.244.1.7", "grafana", nil)
	if _, err := pods.Create(ctx, g, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "added pod", func() bool { return who("10.244.1.7") == "grafana" })

	g.Status.PodIP, g.Status.PodIPs = "10.244.1.8", []corev1.PodIP{{IP: "10.244.1.8"}}
	if _, err := pods.UpdateStatus(ctx, g, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "moved IP", func() bool { return who("10.244.1.8") == "grafana" && who("10.244.1.7") == "" })

	hn := pod("bud-monitoring", "node-exporter", "192.168.5.5", "grafana", nil)
	hn.Spec.HostNetwork = true
	if _, err := pods.Create(ctx, hn, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pods.Delete(ctx, "grafana-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "deleted pod", func() bool { return who("10.244.1.8") == "" })
	if w := who("192.168.5.5"); w != "" {
		t.Fatalf("host-network pod identified as %q", w)
	}
}

// waitFor waits for cond through testenv.WaitFor.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, 10*time.Second, what, cond)
}
