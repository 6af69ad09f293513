package platform

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	p, err := Load("testdata/valid/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := p.Spec
	checks := []struct {
		name      string
		got, want any
	}{
		{name: "dns namespace", got: s.Cluster.DNS.Namespace, want: "kube-system"},
		{name: "dns labels", got: s.Cluster.DNS.PodLabels["k8s-app"], want: "kube-dns"},
		{name: "dns ports", got: len(s.Cluster.DNS.Ports), want: 2},
		{name: "dns udp", got: s.Cluster.DNS.Ports[0], want: Port{Port: 53, Protocol: "UDP"}},
		{name: "dns tcp", got: s.Cluster.DNS.Ports[1], want: Port{Port: 53, Protocol: "TCP"}},
		{name: "api server ports", got: s.Cluster.APIServer.Ports[1].Port, want: int32(6443)},
		{name: "mesh namespace", got: s.Mesh.Namespace, want: "bud-infra"},
		{name: "trust domain", got: s.Mesh.TrustDomain, want: "cluster.local"},
		{name: "mtls on", got: *s.Mesh.MTLS.Enabled, want: true},
		{name: "cert ttl", got: s.Mesh.MTLS.WorkloadCertTTL.Duration, want: 24 * time.Hour},
		{name: "clock skew", got: s.Mesh.MTLS.AllowedClockSkew.Duration, want: 15 * time.Minute},
		{name: "edge kind", got: s.Edge.Kind, want: EdgeGatewayAPI},
		{name: "tls", got: s.TLS.MinVersion, want: "1.2"},
		{name: "egress mode", got: s.EgressGateway.Mode, want: EgressEnforce},
		{name: "egress action", got: s.EgressGateway.DefaultAction, want: "deny"},
		{name: "error rate", got: s.Monitoring.IngressErrorRate, want: 0.05},
		{name: "service name", got: s.Workloads[1].Service, want: "db"},
		{name: "port protocol", got: s.Workloads[1].Ports[0].Protocol, want: "TCP"},
		{name: "flow port protocol", got: s.Flows.Internal[0].Ports[0].Protocol, want: "TCP"},
		{name: "source file", got: s.Workloads[1].Source.File, want: "testdata/valid/minimal.yaml"},
		{name: "source line", got: s.Workloads[1].Source.Line, want: 17},
		{name: "zone line", got: s.Zones[1].Source.Line, want: 9},
		{name: "flow line", got: s.Flows.Internal[0].Source.Line, want: 24},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// The Dapr workload gains the sidecar's ports; the other does not.
	web, _ := p.Workload("web")
	if np, ok := web.Port("dapr-internal"); !ok || np.Port != 50002 {
		t.Errorf("web's dapr-internal port = %v, %v, want 50002", np, ok)
	}
	db, _ := p.Workload("db")
	if _, ok := db.Port("dapr-internal"); ok {
		t.Error("db has no sidecar but got a dapr-internal port")
	}
}

func TestDefaultKeepsSetValues(t *testing.T) {
	off := false
	p := model(func(p *Platform) {
		p.Spec.Mesh.MTLS.Enabled = &off
		p.Spec.TLS.MinVersion = "1.3"
		p.Spec.Edge.Kind = EdgeTraefik
		p.Spec.Cluster.DNS.Namespace = "node-local-dns"
		p.Spec.Workloads[0].Service = "api-svc"
		// A workload moving its sidecar port with dapr.io/internal-grpc-port declares it.
		p.Spec.Workloads[0].Ports = append(p.Spec.Workloads[0].Ports, NamedPort{Name: "dapr-internal", Port: 51002})
	})
	p.Default() // twice: defaulting is idempotent
	if *p.Spec.Mesh.MTLS.Enabled || p.Spec.TLS.MinVersion != "1.3" || p.Spec.Edge.Kind != EdgeTraefik ||
		p.Spec.Cluster.DNS.Namespace != "node-local-dns" || p.Spec.Workloads[0].Service != "api-svc" {
		t.Errorf("Default overwrote set values: %+v", p.Spec)
	}
	api, _ := p.Workload("api")
	var internal []int32
	for _, np := range api.Ports {
		if np.Name == "dapr-internal" {
			internal = append(internal, np.Port)
		}
	}
	if !slices.Equal(internal, []int32{51002}) {
		t.Errorf("dapr-internal ports = %v, want only the declared 51002", internal)
	}
	if err := p.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestHostError(t *testing.T) {
	tests := []struct {
		name  string
		host  string
		valid bool
		hint  string
	}{
		{name: "exact", host: "api.openai.com", valid: true},
		{name: "wildcard", host: "*.openai.azure.com", valid: true},
		{name: "wildcard below registrable domain", host: "*.example.co.uk", valid: true},
		{name: "star alone", host: "*", hint: "wildcard"},
		{name: "public suffix wildcard", host: "*.com", hint: "public suffix"},
		{name: "multi-label public suffix", host: "*.co.uk", hint: "public suffix"},
		{name: "private public suffix", host: "*.s3.amazonaws.com", hint: "public suffix"},
		{name: "inner wildcard", host: "api.*.example.com", hint: "wildcard"},
		{name: "double wildcard", host: "*.*.example.com", hint: "wildcard"},
		{name: "ipv4", host: "10.0.0.1", hint: "IP address"},
		{name: "ipv6", host: "2001:db8::1", hint: "IP address"},
		{name: "bracketed ipv6", host: "[2001:db8::1]", hint: "IP address"},
		{name: "port", host: "api.example.com:443", hint: "ports go in ports"},
		{name: "url", host: "https://api.example.com", hint: "not a bare host"},
		{name: "upper case", host: "API.example.com", hint: "lower case"},
		{name: "unicode", host: "bücher.example", hint: `normal form, expected "xn--bcher-kva.example"`},
		{name: "trailing dot", host: "api.example.com.", hint: `normal form, expected "api.example.com"`},
		{name: "punycode", host: "xn--bcher-kva.example", valid: true},
		{name: "numeric last label", host: "api.example.0x7f", hint: "numeric label"},
		{name: "single label", host: "localhost", hint: "single label"},
		{name: "underscore", host: "my_host.example.com", hint: "invalid label"},
		{name: "empty label", host: "api..example.com", hint: "invalid label"},
		{name: "leading hyphen", host: "-api.example.com", hint: "invalid label"},
		{name: "empty", host: "", hint: "empty"},
		{name: "too long", host: strings.Repeat("a.", 130) + "com", hint: "longer than 253"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := HostError(tt.host)
			if tt.valid {
				if msg != "" {
					t.Errorf("HostError(%q) = %q, want valid", tt.host, msg)
				}
				return
			}
			if !strings.Contains(msg, tt.hint) {
				t.Errorf("HostError(%q) = %q, want a message containing %q", tt.host, msg, tt.hint)
			}
		})
	}
}

func TestNormalizeHost(t *testing.T) {
	for in, want := range map[string]string{"API.OpenAI.com.": "api.openai.com", " *.Example.COM ": "*.example.com", "ok.example.com": "ok.example.com",
		"*.Bücher.example.": "*.xn--bcher-kva.example", "ａｐｉ.openai.com": "api.openai.com"} {
		if got := NormalizeHost(in); got != want {
			t.Errorf("NormalizeHost(%q) = %q, want %q", in, got, want)
		}
		if msg := HostError(NormalizeHost(in)); msg != "" {
			t.Errorf("HostError(NormalizeHost(%q)) = %q, want valid", in, msg)
		}
	}
	// What is no host pattern keeps its spelling, lower-cased, for
	// validation to say what is wrong with it.
	if got, want := NormalizeHost("API..Example.com."), "api..example.com"; got != want {
		t.Errorf("NormalizeHost of a broken name = %q, want %q", got, want)
	}
}
