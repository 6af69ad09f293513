package manifest

import "strings"

// clusterScoped lists the kinds known to be cluster-scoped, keyed by API
// group and kind. Kinds not listed, including unknown custom resources, are
// treated as namespaced, which is what most CRDs are; docs/inputs.md says so.
// Sources: `kubectl api-resources --namespaced=false` on Kubernetes 1.37 and
// the CRDs of cert-manager, Gateway API, Traefik, Dapr, Calico and Cilium.
var clusterScoped = map[string]map[string]bool{
	"": {
		"Namespace": true, "Node": true, "PersistentVolume": true,
		"ComponentStatus": true,
	},
	"rbac.authorization.k8s.io": {"ClusterRole": true, "ClusterRoleBinding": true},
	"apiextensions.k8s.io":      {"CustomResourceDefinition": true},
	"apiregistration.k8s.io":    {"APIService": true},
	"admissionregistration.k8s.io": {
		"ValidatingWebhookConfiguration": true, "MutatingWebhookConfiguration": true,
		"ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true,
		"MutatingAdmissionPolicy": true, "MutatingAdmissionPolicyBinding": true,
	},
	"storage.k8s.io": {
		"StorageClass": true, "CSIDriver": true, "CSINode": true,
		"VolumeAttachment": true, "VolumeAttributesClass": true,
	},
	"scheduling.k8s.io":            {"PriorityClass": true},
	"node.k8s.io":                  {"RuntimeClass": true},
	"networking.k8s.io":            {"IngressClass": true, "IPAddress": true, "ServiceCIDR": true},
	"policy.networking.k8s.io":     {"AdminNetworkPolicy": true, "BaselineAdminNetworkPolicy": true, "ClusterNetworkPolicy": true},
	"flowcontrol.apiserver.k8s.io": {"FlowSchema": true, "PriorityLevelConfiguration": true},
	"certificates.k8s.io":          {"CertificateSigningRequest": true, "ClusterTrustBundle": true},
	"resource.k8s.io":              {"DeviceClass": true},
	"gateway.networking.k8s.io":    {"GatewayClass": true},
	"cert-manager.io":              {"ClusterIssuer": true},
	"snapshot.storage.k8s.io":      {"VolumeSnapshotClass": true, "VolumeSnapshotContent": true},
	"cilium.io": {
		"CiliumClusterwideNetworkPolicy": true, "CiliumIdentity": true,
		"CiliumNode": true, "CiliumExternalWorkload": true, "CiliumCIDRGroup": true,
	},
	"crd.projectcalico.org": {
		"GlobalNetworkPolicy": true, "GlobalNetworkSet": true, "HostEndpoint": true,
		"IPPool": true, "FelixConfiguration": true, "BGPConfiguration": true,
		"ClusterInformation": true, "Tier": true,
	},
	"projectcalico.org": {
		"GlobalNetworkPolicy": true, "GlobalNetworkSet": true, "HostEndpoint": true,
		"IPPool": true, "Tier": true,
	},
}

// IsClusterScoped reports whether objects of kind in apiVersion live outside
// namespaces. Unknown kinds are namespaced.
func IsClusterScoped(apiVersion, kind string) bool {
	return clusterScoped[groupOf(apiVersion)][kind]
}

// groupOf returns the API group of an apiVersion ("apps/v1" -> "apps", "v1" -> "").
func groupOf(apiVersion string) string {
	group, _, found := strings.Cut(apiVersion, "/")
	if !found {
		return ""
	}
	return group
}
