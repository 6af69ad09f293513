package tlsprobe

import (
	"crypto/tls"
	"fmt"
	"strings"

	"github.com/budnet/budnet/internal/platform"
)

// clusterDomain is the default Kubernetes cluster domain of in-cluster DNS
// names (https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/).
const clusterDomain = "svc.cluster.local"

// TargetsFromPlatform lists every TLS endpoint the platform model names:
// each edge host as https://host:443, and each workload port marked TLS (plus
// every PostgreSQL port, whose TLS is negotiated on the same port through
// SSLRequest) at its Service's in-cluster name
// <service or workload>.<zone>.svc.cluster.local. Wildcard edge hosts cannot
// be dialled and are left out.
//
// Every target carries the model's spec.tls.minVersion.
func TargetsFromPlatform(p *platform.Platform) []Target {
	minV := uint16(tls.VersionTLS12)
	if p.Spec.TLS.MinVersion == "1.3" {
		minV = tls.VersionTLS13
	}
	var out []Target
	for i, h := range p.Spec.Edge.Hosts {
		if h.Name == "" || strings.HasPrefix(h.Name, "*") {
			continue
		}
		out = append(out, Target{Scheme: SchemeHTTPS, Host: h.Name, Port: 443, MinVersion: minV, Source: fmt.Sprintf("spec.edge.hosts[%d]", i)})
	}
	for _, w := range p.Spec.Workloads {
		svc := w.Service
		if svc == "" {
			svc = w.Name
		}
		for _, port := range w.Ports {
			scheme, ok := schemeForPort(port)
			if !ok {
				continue
			}
			out = append(out, Target{
				Scheme:     scheme,
				Host:       svc + "." + w.Zone + "." + clusterDomain,
				Port:       int(port.Port),
				MinVersion: minV,
				Source:     fmt.Sprintf("spec.workloads[%s].ports[%s]", w.Name, port.Name),
			})
		}
	}
	return out
}

// schemeForPort maps a port's appProtocol to the probe that speaks it. An
// in-cluster https port is probed as plain TLS: the redirect and header checks
// are about the public edge.
func schemeForPort(p platform.NamedPort) (Scheme, bool) {
	proto := strings.ToLower(p.AppProtocol)
	if proto == "postgresql" || proto == "postgres" {
		return SchemePostgres, true
	}
	if !p.TLS {
		return "", false
	}
	switch proto {
	case "redis", "rediss", "valkey":
		return SchemeRedis, true
	case "clickhouse-https":
		return SchemeClickHouseHTTPS, true
	case "clickhouse-native":
		return SchemeClickHouseNative, true
	default:
		return SchemeTLS, true
	}
}
