// Package netpol evaluates Kubernetes networking.k8s.io/v1 NetworkPolicies over a
// snapshot of namespaces and pods: pointwise (Engine.Evaluate explains one
// connection) and as a connectivity matrix over workloads and external address
// ranges (Engine.Matrix). It does no I/O; loading manifests is the caller's job.
//
// The semantics follow the API reference,
// https://kubernetes.io/docs/reference/kubernetes-api/networking-resources/network-policy-v1/,
// and the concept page https://kubernetes.io/docs/concepts/services-networking/network-policies/;
// docs/netpol-engine.md lists each rule with its source and the choices made where
// the reference leaves room (hostNetwork pods, ipBlock against pod IPs).
package netpol

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// Namespace is a namespace and its labels. The caller adds the automatic
// kubernetes.io/metadata.name label; a pod whose namespace is not listed gets a
// namespace carrying only that label.
type Namespace struct {
	Name   string
	Labels map[string]string
}

// ContainerPort is a port a pod's container declares; named policy ports resolve
// against these. An empty Protocol means TCP, as the API server defaults it.
type ContainerPort struct {
	Name     string
	Port     int32
	Protocol corev1.Protocol
}

// Pod is one pod as the engine sees it.
type Pod struct {
	Namespace, Name string
	// Workload is the identity the matrix reports, e.g. "ns/name[Deployment]";
	// pods sharing it are one workload. Empty means "namespace/name".
	Workload    string
	Labels      map[string]string
	Ports       []ContainerPort
	HostNetwork bool
	// IPs are used by ipBlock peers only with Options.IPBlockMatchesPods, and
	// always for host-network pods, whose addresses are node addresses.
	IPs []netip.Addr
}

// WorkloadName is the workload the pod belongs to, defaulting to "namespace/name".
func (p *Pod) WorkloadName() string {
	if p.Workload != "" {
		return p.Workload
	}
	return p.Namespace + "/" + p.Name
}

// Cluster is the snapshot an Engine evaluates.
type Cluster struct {
	Namespaces []Namespace
	Pods       []Pod
	Policies   []*networkingv1.NetworkPolicy
	// The network-policy-api tiers: the Admin tier (AdminNetworkPolicies and
	// ClusterNetworkPolicies of tier Admin) is judged before NetworkPolicies,
	// the Baseline tier (the BaselineAdminNetworkPolicy and ClusterNetworkPolicies
	// of tier Baseline) only where no NetworkPolicy selects the pod.
	AdminNetworkPolicies         []*AdminNetworkPolicy
	BaselineAdminNetworkPolicies []*BaselineAdminNetworkPolicy
	ClusterNetworkPolicies       []*ClusterNetworkPolicy
	// CiliumNetworkPolicies are Cilium's policies, namespaced and
	// clusterwide (told apart by Kind), judged at the NetworkPolicy tier.
	CiliumNetworkPolicies []*CiliumNetworkPolicy
}

// Options select behaviour where CNIs disagree.
type Options struct {
	// IPBlockMatchesPods makes ipBlock peers match pod IPs too. The API reference
	// intends ipBlock for cluster-external addresses and CNIs differ (Cilium does
	// not match pod IPs, cilium/cilium#14497; Calico does, projectcalico/calico#6634).
	IPBlockMatchesPods bool
	// PodCIDRs are the cluster's pod address ranges. network-policy-api
	// networks peers match pod addresses too; for a pod whose IPs are not
	// known (manifests), a network matches it when it contains one of these.
	// Empty means 0.0.0.0/0: pods have IPv4 addresses somewhere, so only a
	// network covering all of IPv4 is known to hold them.
	PodCIDRs []netip.Prefix
}

// Peer is one end of a connection: a pod of the cluster (by index into
// Cluster.Pods) or an address outside the pod network.
type Peer struct {
	pod  int // index+1; 0 means an address
	addr netip.Addr
}

// PodPeer is the pod at index i of Cluster.Pods; i must be a valid index
// (Engine.PodPeer looks a pod up by name).
func PodPeer(i int) Peer { return Peer{pod: i + 1} }

// AddressPeer is an address outside the pod network (an IPv4-mapped IPv6
// address is treated as the IPv4 address).
func AddressPeer(a netip.Addr) Peer { return Peer{addr: a.Unmap()} }

// IsPod reports whether the peer is a pod, and which.
func (p Peer) IsPod() (int, bool) { return p.pod - 1, p.pod > 0 }

// Addr is the peer's address when it is not a pod.
func (p Peer) Addr() netip.Addr { return p.addr }

// PolicyRef names a policy: a NetworkPolicy when Kind is empty, otherwise
// a policy of the tiers or of Cilium (Namespace empty when cluster-scoped).
type PolicyRef struct {
	Namespace, Name string
	Kind            string
}

// String is "namespace/name" for a NetworkPolicy, "name[Kind]" or
// "namespace/name[Kind]" for other kinds, as reach names objects.
func (r PolicyRef) String() string {
	switch {
	case r.Kind == "":
		return r.Namespace + "/" + r.Name
	case r.Namespace == "":
		return r.Name + "[" + r.Kind + "]"
	}
	return r.Namespace + "/" + r.Name + "[" + r.Kind + "]"
}

// RuleRef is one rule of a policy: spec.ingress[Rule] or spec.egress[Rule]
// (Section names another list, such as Cilium's ingressDeny).
type RuleRef struct {
	Policy    PolicyRef
	Direction Direction
	Rule      int
	// Name is the rule's name, when its kind has one (network-policy-api rules).
	Name string
	// Section is the rule list when it is not "ingress" or "egress".
	Section string
}

// String is "namespace/name ingress[N]" or "namespace/name egress[N]", with
// the rule's name quoted after it when it has one.
func (r RuleRef) String() string {
	sec := r.Section
	if sec == "" {
		sec = r.Direction.String()
	}
	s := fmt.Sprintf("%s %s[%d]", r.Policy, sec, r.Rule)
	if r.Name != "" {
		s += fmt.Sprintf(" %q", r.Name)
	}
	return s
}

// Direction is the side of a connection a policy governs.
type Direction uint8

// Directions: egress is judged at the source, ingress at the destination.
const (
	Egress Direction = iota
	Ingress
)

// String is "egress" or "ingress".
func (d Direction) String() string {
	if d == Ingress {
		return "ingress"
	}
	return "egress"
}
