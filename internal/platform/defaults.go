package platform

import (
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Default values applied by (*Platform).Default.
const (
	DefaultDNSNamespace     = "kube-system"
	DefaultMeshNamespace    = "bud-infra"
	DefaultTrustDomain      = "cluster.local"
	DefaultTLSMinVersion    = "1.2"
	DefaultEgressAction     = "deny"
	DefaultIngressErrorRate = 0.05
	DefaultProtocol         = "TCP"
	// DefaultWorkloadCertTTL and DefaultAllowedClockSkew are Dapr's own
	// defaults for the daprsystem Configuration
	// (https://docs.dapr.io/operations/security/mtls/).
	DefaultWorkloadCertTTL  = 24 * time.Hour
	DefaultAllowedClockSkew = 15 * time.Minute
)

// Default fills every unset field that has a default, in place. Load and
// Parse call it before Validate; models built in code call it themselves.
// Defaults never overwrite a value the file sets.
func (p *Platform) Default() {
	s := &p.Spec
	defaultCluster(&s.Cluster)
	for i := range s.Workloads {
		w := &s.Workloads[i]
		if w.Service == "" {
			w.Service = w.Name
		}
		for j := range w.Ports {
			if w.Ports[j].Protocol == "" {
				w.Ports[j].Protocol = DefaultProtocol
			}
		}
		if w.Dapr != nil {
			w.Ports = withSidecarPorts(w.Ports)
		}
	}
	for i := range s.Flows.Internal {
		defaultPorts(s.Flows.Internal[i].Ports)
	}
	for i := range s.Flows.Ingress {
		defaultPorts(s.Flows.Ingress[i].Ports)
	}
	for i := range s.Flows.Egress {
		f := &s.Flows.Egress[i]
		defaultPorts(f.Ports)
		for j, h := range f.Hosts {
			f.Hosts[j] = NormalizeHost(h)
		}
	}
	for i := range s.Edge.Hosts {
		s.Edge.Hosts[i].Name = NormalizeHost(s.Edge.Hosts[i].Name)
	}
	defaultMesh(&s.Mesh)
	if s.Edge.Kind == "" {
		s.Edge.Kind = EdgeGatewayAPI
	}
	if s.TLS.MinVersion == "" {
		s.TLS.MinVersion = DefaultTLSMinVersion
	}
	if s.EgressGateway.Mode == "" {
		s.EgressGateway.Mode = EgressEnforce
	}
	if s.EgressGateway.DefaultAction == "" {
		s.EgressGateway.DefaultAction = DefaultEgressAction
	}
	if s.Monitoring.IngressErrorRate == 0 {
		s.Monitoring.IngressErrorRate = DefaultIngressErrorRate
	}
}

// DaprSidecarPorts are the container ports of the daprd sidecar the Dapr
// injector adds to every pod annotated dapr.io/enabled: "true"
// (https://docs.dapr.io/reference/arguments-annotations-overview/). Only
// dapr-internal (sidecar to sidecar) and dapr-metrics (Prometheus) are reached
// from other pods; the app talks to dapr-http and dapr-grpc over localhost.
func DaprSidecarPorts() []NamedPort {
	return []NamedPort{
		{Name: "dapr-http", Port: 3500, Protocol: "TCP", AppProtocol: "http"},
		{Name: "dapr-grpc", Port: 50001, Protocol: "TCP", AppProtocol: "grpc"},
		{Name: "dapr-internal", Port: 50002, Protocol: "TCP", AppProtocol: "grpc"},
		{Name: "dapr-metrics", Port: 9090, Protocol: "TCP", AppProtocol: "http"},
	}
}

// withSidecarPorts appends the sidecar's ports that the workload does not
// declare itself; a declared port of the same name wins, as it does when an
// annotation such as dapr.io/internal-grpc-port moves the sidecar's port.
func withSidecarPorts(ports []NamedPort) []NamedPort {
	for _, sp := range DaprSidecarPorts() {
		declared := false
		for _, p := range ports {
			declared = declared || p.Name == sp.Name
		}
		if !declared {
			ports = append(ports, sp)
		}
	}
	return ports
}

func defaultCluster(c *Cluster) {
	c.DNS = c.DNS.WithDefaults() // DefaultDNS says why these
	defaultPorts(c.DNS.Ports)
	if len(c.APIServer.Ports) == 0 {
		// Pods reach the API through the kubernetes Service (443) and, once
		// a policy engine sees the DNAT'ed endpoint, on 6443.
		c.APIServer.Ports = []Port{{Port: 443, Protocol: "TCP"}, {Port: 6443, Protocol: "TCP"}}
	}
	defaultPorts(c.APIServer.Ports)
}

func defaultMesh(m *Mesh) {
	if m.Namespace == "" {
		m.Namespace = DefaultMeshNamespace
	}
	if m.TrustDomain == "" {
		m.TrustDomain = DefaultTrustDomain
	}
	if m.MTLS.Enabled == nil {
		on := true
		m.MTLS.Enabled = &on
	}
	if m.MTLS.WorkloadCertTTL == nil {
		m.MTLS.WorkloadCertTTL = &metav1.Duration{Duration: DefaultWorkloadCertTTL}
	}
	if m.MTLS.AllowedClockSkew == nil {
		m.MTLS.AllowedClockSkew = &metav1.Duration{Duration: DefaultAllowedClockSkew}
	}
}

func defaultPorts(ports []Port) {
	for i := range ports {
		if ports[i].Protocol == "" {
			ports[i].Protocol = DefaultProtocol
		}
	}
}

// NormalizeHost writes a model host in its normal form (HostPattern's:
// lower case, since DNS names compare case-insensitively (RFC 4343), no
// trailing dot, A-labels for Unicode names, as the egress gateway compares
// them). A host that is no pattern is only trimmed, lower-cased and
// stripped of a trailing dot, for validation to name what is wrong with it.
func NormalizeHost(h string) string {
	if p, err := ReadHostPattern(h); err == nil {
		return p.String()
	}
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
}
