package platform

import (
	"reflect"
	"testing"
)

func TestClusterDNS(t *testing.T) {
	tests := []struct {
		name string
		p    *Platform
		want DNS
		rs   []PortRange
	}{
		{name: "no model is kube-dns on UDP and TCP 53", p: nil,
			want: DNS{Namespace: "kube-system", PodLabels: map[string]string{"k8s-app": "kube-dns"}, Ports: []Port{{Port: 53, Protocol: "UDP"}, {Port: 53, Protocol: "TCP"}}},
			rs:   []PortRange{{Protocol: "UDP", Port: 53, EndPort: 53}, {Protocol: "TCP", Port: 53, EndPort: 53}}},
		{name: "the model's fields win, unset ones default",
			p:    &Platform{Spec: Spec{Cluster: Cluster{DNS: DNS{Namespace: "dns", Ports: []Port{{Port: 5353, EndPort: 5354, Protocol: "UDP"}}}}}},
			want: DNS{Namespace: "dns", PodLabels: map[string]string{"k8s-app": "kube-dns"}, Ports: []Port{{Port: 5353, EndPort: 5354, Protocol: "UDP"}}},
			rs:   []PortRange{{Protocol: "UDP", Port: 5353, EndPort: 5354}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ClusterDNS(tc.p)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ClusterDNS = %+v, want %+v", got, tc.want)
			}
			if rs := got.PortRanges(); !reflect.DeepEqual(rs, tc.rs) {
				t.Errorf("PortRanges = %+v, want %+v", rs, tc.rs)
			}
		})
	}
	// The defaults are fresh each call: a caller changing them changes no other.
	a := DefaultDNS()
	a.PodLabels["k8s-app"] = "x"
	a.Ports[0].Port = 1
	if b := DefaultDNS(); b.PodLabels["k8s-app"] != "kube-dns" || b.Ports[0].Port != 53 {
		t.Errorf("DefaultDNS shares state between calls: %+v", b)
	}
}

func TestEgressGatewayProxyPorts(t *testing.T) {
	gw := Workload{Name: "egress", Ports: []NamedPort{{Name: "metrics", Port: 9090}, {Name: "proxy", Port: 4750}}}
	tests := []struct {
		name  string
		gw    EgressGateway
		ports []NamedPort
		want  []PortRange // nil: no gateway
	}{
		{name: "the proxy port", gw: EgressGateway{Enabled: true, Workload: "egress"}, ports: gw.Ports,
			want: []PortRange{{Protocol: "TCP", Port: 4750, EndPort: 4750}}},
		{name: "no port named proxy: every port", gw: EgressGateway{Enabled: true, Workload: "egress"}, ports: []NamedPort{{Name: "a", Port: 1, Protocol: "UDP"}, {Name: "b", Port: 2}},
			want: []PortRange{{Protocol: "UDP", Port: 1, EndPort: 1}, {Protocol: "TCP", Port: 2, EndPort: 2}}},
		{name: "disabled is no gateway", gw: EgressGateway{Workload: "egress"}, ports: gw.Ports},
		{name: "a missing workload is no gateway", gw: EgressGateway{Enabled: true, Workload: "nope"}, ports: gw.Ports},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := gw
			w.Ports = tc.ports
			p := &Platform{Spec: Spec{EgressGateway: tc.gw, Workloads: []Workload{w}}}
			got, ok := p.EgressGateway()
			if ok != (tc.want != nil) {
				t.Fatalf("EgressGateway ok = %v, want %v", ok, tc.want != nil)
			}
			if ok && !reflect.DeepEqual(got.ProxyPorts(), tc.want) {
				t.Errorf("ProxyPorts = %+v, want %+v", got.ProxyPorts(), tc.want)
			}
		})
	}
}
