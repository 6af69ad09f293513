package netpol

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The network-policy-api kinds, as minimal structs with the upstream JSON
// field names (sigs.k8s.io/network-policy-api v0.3.1, apis/v1alpha1 and
// apis/v1alpha2; the v1beta1 ClusterNetworkPolicy has the v1alpha2 schema).
// They are defined here rather than imported so budnet's go.mod does not
// take in that module's generators and controller-runtime; a loader decodes
// objects into them with unknown fields rejected, so a field added upstream
// is an error, never silently ignored.

// AdminNetworkPolicy is policy.networking.k8s.io/v1alpha1 AdminNetworkPolicy:
// the Admin tier, cluster-scoped.
type AdminNetworkPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              AdminNetworkPolicySpec `json:"spec"`
	Status            any                    `json:"status,omitempty"`
}

// AdminNetworkPolicySpec: priority 0-1000, lower first.
type AdminNetworkPolicySpec struct {
	Priority int32                    `json:"priority"`
	Subject  ClusterPolicySubject     `json:"subject"`
	Ingress  []AdminPolicyIngressRule `json:"ingress,omitempty"`
	Egress   []AdminPolicyEgressRule  `json:"egress,omitempty"`
}

// BaselineAdminNetworkPolicy is policy.networking.k8s.io/v1alpha1
// BaselineAdminNetworkPolicy: the Baseline tier (a singleton named
// "default"); its actions are Allow and Deny.
type BaselineAdminNetworkPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              BaselineAdminNetworkPolicySpec `json:"spec"`
	Status            any                            `json:"status,omitempty"`
}

// BaselineAdminNetworkPolicySpec has no priority: there is one BANP.
type BaselineAdminNetworkPolicySpec struct {
	Subject ClusterPolicySubject     `json:"subject"`
	Ingress []AdminPolicyIngressRule `json:"ingress,omitempty"`
	Egress  []AdminPolicyEgressRule  `json:"egress,omitempty"`
}

// ClusterPolicySubject selects the pods a cluster policy applies to; exactly
// one field is set. Host-network pods are never subjects.
type ClusterPolicySubject struct {
	Namespaces *metav1.LabelSelector `json:"namespaces,omitempty"`
	Pods       *NamespacedPod        `json:"pods,omitempty"`
}

// NamespacedPod selects pods by namespace AND pod labels.
type NamespacedPod struct {
	NamespaceSelector metav1.LabelSelector `json:"namespaceSelector"`
	PodSelector       metav1.LabelSelector `json:"podSelector"`
}

// AdminPolicyIngressRule is an ANP or BANP ingress rule.
type AdminPolicyIngressRule struct {
	Name   string               `json:"name,omitempty"`
	Action string               `json:"action"`
	From   []ClusterIngressPeer `json:"from"`
	Ports  *[]AdminPolicyPort   `json:"ports,omitempty"`
}

// AdminPolicyEgressRule is an ANP or BANP egress rule.
type AdminPolicyEgressRule struct {
	Name   string              `json:"name,omitempty"`
	Action string              `json:"action"`
	To     []ClusterEgressPeer `json:"to"`
	Ports  *[]AdminPolicyPort  `json:"ports,omitempty"`
}

// ClusterIngressPeer is a source: exactly one field set.
type ClusterIngressPeer struct {
	Namespaces *metav1.LabelSelector `json:"namespaces,omitempty"`
	Pods       *NamespacedPod        `json:"pods,omitempty"`
}

// ClusterEgressPeer is a destination: exactly one field set. Networks match
// pod and node addresses too; DomainNames (Accept/Allow rules only) cannot be
// judged on addresses and are reported as host flows.
type ClusterEgressPeer struct {
	Namespaces  *metav1.LabelSelector `json:"namespaces,omitempty"`
	Pods        *NamespacedPod        `json:"pods,omitempty"`
	Nodes       *metav1.LabelSelector `json:"nodes,omitempty"`
	Networks    []string              `json:"networks,omitempty"`
	DomainNames []string              `json:"domainNames,omitempty"`
}

// AdminPolicyPort is one v1alpha1 port: exactly one field set.
type AdminPolicyPort struct {
	PortNumber *AdminPortNumber `json:"portNumber,omitempty"`
	NamedPort  *string          `json:"namedPort,omitempty"`
	PortRange  *AdminPortRange  `json:"portRange,omitempty"`
}

// AdminPortNumber is a protocol (default TCP) and port.
type AdminPortNumber struct {
	Protocol corev1.Protocol `json:"protocol,omitempty"`
	Port     int32           `json:"port"`
}

// AdminPortRange is a protocol (default TCP) and an inclusive range.
type AdminPortRange struct {
	Protocol corev1.Protocol `json:"protocol,omitempty"`
	Start    int32           `json:"start"`
	End      int32           `json:"end"`
}

// ClusterNetworkPolicy is policy.networking.k8s.io/v1alpha2 (and v1beta1)
// ClusterNetworkPolicy: tier Admin or Baseline, priority 0-1000, actions
// Accept, Deny and Pass.
type ClusterNetworkPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              ClusterNetworkPolicySpec `json:"spec"`
	Status            any                      `json:"status,omitempty"`
}

// ClusterNetworkPolicySpec is the v1alpha2 spec.
type ClusterNetworkPolicySpec struct {
	Tier     string                     `json:"tier"`
	Priority int32                      `json:"priority"`
	Subject  ClusterPolicySubject       `json:"subject"`
	Ingress  []ClusterPolicyIngressRule `json:"ingress,omitempty"`
	Egress   []ClusterPolicyEgressRule  `json:"egress,omitempty"`
}

// ClusterPolicyIngressRule is a ClusterNetworkPolicy ingress rule.
type ClusterPolicyIngressRule struct {
	Name      string                  `json:"name,omitempty"`
	Action    string                  `json:"action"`
	From      []ClusterIngressPeer    `json:"from"`
	Protocols []ClusterPolicyProtocol `json:"protocols,omitempty"`
}

// ClusterPolicyEgressRule is a ClusterNetworkPolicy egress rule.
type ClusterPolicyEgressRule struct {
	Name      string                  `json:"name,omitempty"`
	Action    string                  `json:"action"`
	To        []ClusterEgressPeer     `json:"to"`
	Protocols []ClusterPolicyProtocol `json:"protocols,omitempty"`
}

// ClusterPolicyProtocol is one protocol match: exactly one field set.
type ClusterPolicyProtocol struct {
	TCP                  *ClusterPolicyProtocolPort `json:"tcp,omitempty"`
	UDP                  *ClusterPolicyProtocolPort `json:"udp,omitempty"`
	SCTP                 *ClusterPolicyProtocolPort `json:"sctp,omitempty"`
	DestinationNamedPort string                     `json:"destinationNamedPort,omitempty"`
}

// ClusterPolicyProtocolPort is a protocol's destination port; absent means
// every port of the protocol.
type ClusterPolicyProtocolPort struct {
	DestinationPort *ClusterPolicyPort `json:"destinationPort,omitempty"`
}

// ClusterPolicyPort is a number or a range: exactly one set.
type ClusterPolicyPort struct {
	Number int32                   `json:"number,omitempty"`
	Range  *ClusterPolicyPortRange `json:"range,omitempty"`
}

// ClusterPolicyPortRange is an inclusive range, Start < End.
type ClusterPolicyPortRange struct {
	Start int32 `json:"start"`
	End   int32 `json:"end"`
}

// Tier is the precedence level a decision was made at.
type Tier uint8

// Tiers in evaluation order
// (network-policy-api apis/v1alpha2 ClusterNetworkPolicySpec.Tier): Admin,
// then NetworkPolicy (v1 NetworkPolicies and, at the same level, Cilium's
// policies), then Baseline, then the default (allow).
const (
	TierDefault Tier = iota // no tier decided: Kubernetes' default allows
	TierAdmin
	TierNetworkPolicy
	TierBaseline
)

// String names the tier as docs and JSON do.
func (t Tier) String() string {
	switch t {
	case TierAdmin:
		return "Admin"
	case TierNetworkPolicy:
		return "NetworkPolicy"
	case TierBaseline:
		return "Baseline"
	}
	return "Default"
}

// MarshalText makes the tier a string in JSON.
func (t Tier) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// Action is what a tiered rule does with the traffic it matches.
type Action uint8

// Actions: ANP's and BANP's Allow is ClusterNetworkPolicy's Accept.
const (
	ActionAccept Action = iota
	ActionDeny
	ActionPass
)

// String is "Accept", "Deny" or "Pass".
func (a Action) String() string {
	switch a {
	case ActionDeny:
		return "Deny"
	case ActionPass:
		return "Pass"
	}
	return "Accept"
}
