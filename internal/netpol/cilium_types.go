package netpol

import (
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Cilium's policies (cilium.io/v2 CiliumNetworkPolicy and
// CiliumClusterwideNetworkPolicy) as minimal structs with the upstream JSON
// field names (github.com/cilium/cilium pkg/policy/api: rule.go, ingress.go,
// egress.go, l4.go, cidr.go, fqdn.go). Fields the engine does not evaluate
// are kept as raw JSON so that a policy using them decodes and is reported
// as unjudged in that part, never read as if the field were absent.

// Kinds of Cilium's policies, as PolicyRef.Kind names them.
const (
	KindCiliumNetworkPolicy            = "CiliumNetworkPolicy"
	KindCiliumClusterwideNetworkPolicy = "CiliumClusterwideNetworkPolicy"
)

// CiliumNetworkPolicy is a CiliumNetworkPolicy or, with Kind
// CiliumClusterwideNetworkPolicy and no namespace, a clusterwide one: a rule
// in Spec and/or a list in Specs.
type CiliumNetworkPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              *CiliumRule     `json:"spec,omitempty"`
	Specs             []CiliumRule    `json:"specs,omitempty"`
	Status            json.RawMessage `json:"status,omitempty"`
}

// Clusterwide reports whether the policy is a CiliumClusterwideNetworkPolicy.
func (p *CiliumNetworkPolicy) Clusterwide() bool { return p.Kind == KindCiliumClusterwideNetworkPolicy }

// CiliumRule is pkg/policy/api.Rule.
type CiliumRule struct {
	EndpointSelector  *metav1.LabelSelector `json:"endpointSelector,omitempty"`
	NodeSelector      *metav1.LabelSelector `json:"nodeSelector,omitempty"`
	Ingress           []CiliumIngressRule   `json:"ingress,omitempty"`
	IngressDeny       []CiliumIngressRule   `json:"ingressDeny,omitempty"`
	Egress            []CiliumEgressRule    `json:"egress,omitempty"`
	EgressDeny        []CiliumEgressRule    `json:"egressDeny,omitempty"`
	EnableDefaultDeny *CiliumDefaultDeny    `json:"enableDefaultDeny,omitempty"`
	Labels            json.RawMessage       `json:"labels,omitempty"`
	Description       string                `json:"description,omitempty"`
	Log               json.RawMessage       `json:"log,omitempty"`
}

// CiliumDefaultDeny is pkg/policy/api.DefaultDenyConfig: absent means true
// for a direction the rule has rules in (Rule.Sanitize).
type CiliumDefaultDeny struct {
	Ingress *bool `json:"ingress,omitempty"`
	Egress  *bool `json:"egress,omitempty"`
}

// CiliumIngressRule is pkg/policy/api.IngressRule (and IngressDenyRule,
// whose toPorts carry no L7 rules).
type CiliumIngressRule struct {
	FromEndpoints  []metav1.LabelSelector `json:"fromEndpoints,omitempty"`
	FromRequires   []metav1.LabelSelector `json:"fromRequires,omitempty"`
	FromCIDR       []string               `json:"fromCIDR,omitempty"`
	FromCIDRSet    []CiliumCIDRRule       `json:"fromCIDRSet,omitempty"`
	FromEntities   []string               `json:"fromEntities,omitempty"`
	FromGroups     json.RawMessage        `json:"fromGroups,omitempty"`
	FromNodes      []metav1.LabelSelector `json:"fromNodes,omitempty"`
	ToPorts        []CiliumPortRule       `json:"toPorts,omitempty"`
	ICMPs          json.RawMessage        `json:"icmps,omitempty"`
	Authentication json.RawMessage        `json:"authentication,omitempty"`
}

// CiliumEgressRule is pkg/policy/api.EgressRule (and EgressDenyRule).
type CiliumEgressRule struct {
	ToEndpoints    []metav1.LabelSelector `json:"toEndpoints,omitempty"`
	ToRequires     []metav1.LabelSelector `json:"toRequires,omitempty"`
	ToCIDR         []string               `json:"toCIDR,omitempty"`
	ToCIDRSet      []CiliumCIDRRule       `json:"toCIDRSet,omitempty"`
	ToEntities     []string               `json:"toEntities,omitempty"`
	ToServices     json.RawMessage        `json:"toServices,omitempty"`
	ToFQDNs        []CiliumFQDNSelector   `json:"toFQDNs,omitempty"`
	ToGroups       json.RawMessage        `json:"toGroups,omitempty"`
	ToNodes        []metav1.LabelSelector `json:"toNodes,omitempty"`
	ToPorts        []CiliumPortRule       `json:"toPorts,omitempty"`
	ICMPs          json.RawMessage        `json:"icmps,omitempty"`
	Authentication json.RawMessage        `json:"authentication,omitempty"`
}

// CiliumCIDRRule is pkg/policy/api.CIDRRule.
type CiliumCIDRRule struct {
	CIDR              string                `json:"cidr,omitempty"`
	CIDRGroupRef      string                `json:"cidrGroupRef,omitempty"`
	CIDRGroupSelector *metav1.LabelSelector `json:"cidrGroupSelector,omitempty"`
	Except            []string              `json:"except,omitempty"`
}

// CiliumFQDNSelector is pkg/policy/api.FQDNSelector.
type CiliumFQDNSelector struct {
	MatchName    string `json:"matchName,omitempty"`
	MatchPattern string `json:"matchPattern,omitempty"`
}

// CiliumPortRule is pkg/policy/api.PortRule.
type CiliumPortRule struct {
	Ports          []CiliumPortProtocol `json:"ports,omitempty"`
	Rules          json.RawMessage      `json:"rules,omitempty"`
	TerminatingTLS json.RawMessage      `json:"terminatingTLS,omitempty"`
	OriginatingTLS json.RawMessage      `json:"originatingTLS,omitempty"`
	ServerNames    []string             `json:"serverNames,omitempty"`
	Listener       json.RawMessage      `json:"listener,omitempty"`
}

// CiliumPortProtocol is pkg/policy/api.PortProtocol: Port is a number, a
// name, or empty/"0" for every port; Protocol TCP, UDP, SCTP, ICMP,
// ICMPv6 or ANY (the default).
type CiliumPortProtocol struct {
	Port     string `json:"port,omitempty"`
	EndPort  int32  `json:"endPort,omitempty"`
	Protocol string `json:"protocol,omitempty"`
}
