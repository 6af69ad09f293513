package platform

// The cluster services every component of budnet derives something from:
// the cluster DNS (where default-deny egress must still let pods resolve
// names) and the egress gateway (where host egress goes). generate writes
// policies for them, reach builds the intended matrix with them, audit's
// probe stands in for a missing DNS pod with them; each asks here, so a
// model that moves DNS or renames the gateway's port changes all of them.

// ProxyPortName is the name of the egress gateway's port its callers reach
// it on (HTTP CONNECT), as the model's gateway workload declares it.
const ProxyPortName = "proxy"

// DefaultDNS is the cluster DNS a model that says nothing means: CoreDNS
// in kube-system under the k8s-app: kube-dns label it keeps for kube-dns
// compatibility (kubeadm, EKS, AKS, GKE), on UDP and TCP 53, since DNS
// falls back to TCP for large answers and UDP alone breaks them. It
// returns fresh maps and slices each call, so callers may change them.
func DefaultDNS() DNS {
	return DNS{
		Namespace: DefaultDNSNamespace,
		PodLabels: map[string]string{"k8s-app": "kube-dns"},
		Ports:     []Port{{Port: 53, Protocol: "UDP"}, {Port: 53, Protocol: "TCP"}},
	}
}

// WithDefaults is d with each field the model leaves unset taken from
// DefaultDNS (the loader applies it; a component holding no model asks
// DefaultDNS().WithDefaults() through ClusterDNS).
func (d DNS) WithDefaults() DNS {
	def := DefaultDNS()
	if d.Namespace == "" {
		d.Namespace = def.Namespace
	}
	if len(d.PodLabels) == 0 {
		d.PodLabels = def.PodLabels
	}
	if len(d.Ports) == 0 {
		d.Ports = def.Ports
	}
	return d
}

// ClusterDNS is where the pods of p resolve names: the model's cluster DNS
// with defaults, or DefaultDNS when there is no model.
func ClusterDNS(p *Platform) DNS {
	if p == nil {
		return DefaultDNS()
	}
	return p.Spec.Cluster.DNS.WithDefaults()
}

// PortRanges are the DNS ports as port ranges (a single port is a range of
// one), in the model's order: what policies open to the DNS pods.
func (d DNS) PortRanges() []PortRange {
	out := make([]PortRange, 0, len(d.Ports))
	for _, pt := range d.Ports {
		out = append(out, numericRange(pt, pt.Protocol))
	}
	return out
}

// EgressGateway is the workload the model routes host egress through: the
// one spec.egressGateway names, when the gateway is enabled and the
// workload exists (validation refuses a model where it does not).
func (p *Platform) EgressGateway() (*Workload, bool) {
	eg := p.Spec.EgressGateway
	if !eg.Enabled || eg.Workload == "" {
		return nil, false
	}
	return p.Workload(eg.Workload)
}

// ProxyPorts are the ports the egress gateway's callers reach it on: its
// port named ProxyPortName, or every port it has when none is so named.
func (w *Workload) ProxyPorts() []PortRange {
	var all []PortRange
	for _, np := range w.Ports {
		proto := np.Protocol
		if proto == "" {
			proto = DefaultProtocol
		}
		r := PortRange{Protocol: proto, Port: np.Port, EndPort: np.Port}
		if np.Name == ProxyPortName {
			return []PortRange{r}
		}
		all = append(all, r)
	}
	return all
}
