package generate

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/budnet/budnet/internal/platform"
)

// FileClusters holds, in the management cluster, the kubeconfig templates
// of the registered clusters.
const FileClusters = "70-clusters.yaml"

// Names in each registered (workload) cluster.
const (
	// ClusterAgentNamespace holds budcluster's ServiceAccount and token in
	// every registered cluster.
	ClusterAgentNamespace = "bud-management"
	clusterAgent          = "budcluster"
	clusterAgentToken     = "budcluster-token"
	clusterAgentRole      = "budnet-budcluster"
	// KubeconfigKey is the ConfigMap key of a kubeconfig template.
	KubeconfigKey = "kubeconfig.template"
)

// ClusterFile is the path of a registered cluster's objects: they are
// applied to that cluster, not the management cluster, so they are written
// raw and kustomization.yaml does not list them.
func ClusterFile(name string) string { return "clusters/" + objectName(name) + ".yaml" }

// Clusters implements guide section 9.2 per registered cluster: there, a
// ServiceAccount for budcluster with a token Secret, a ClusterRole that
// only reads what placement needs (namespaces, nodes, storage and runtime
// classes: no secrets, no writes cluster-wide) and, in each namespace
// budcluster deploys into, a Role to manage workloads there; in the
// management cluster, a kubeconfig template that trusts the cluster's CA
// and presents the token (never insecure-skip-tls-verify).
func Clusters(p *platform.Platform, _ Options) ([]File, error) {
	if len(p.Spec.Clusters) == 0 {
		return nil, nil
	}
	var files []File
	var templates []*unstructured.Unstructured
	ns := managementNamespace(p)
	for i, c := range p.Spec.Clusters {
		row := ModelRow(fmt.Sprintf("spec.clusters[%d]", i), c.Name)
		f := File{Name: ClusterFile(c.Name), Concern: "budcluster access to cluster " + c.Name + " (apply there)",
			Objects: clusterAccess(c, row)}
		raw, err := f.Render()
		if err != nil {
			return nil, err
		}
		files = append(files, File{Name: f.Name, Concern: f.Concern, Raw: raw})
		tmpl, err := kubeconfigTemplate(c, ns, row)
		if err != nil {
			return nil, err
		}
		templates = append(templates, tmpl)
	}
	files = append(files, File{Name: FileClusters, Concern: "kubeconfig templates of the registered clusters (guide 9.2)", Objects: templates})
	return files, nil
}

// managementNamespace is where budcluster runs in the management cluster.
func managementNamespace(p *platform.Platform) string {
	if w, ok := p.Workload(clusterAgent); ok {
		return w.Zone
	}
	return ClusterAgentNamespace
}

// clusterAccess are the objects applied to a registered cluster.
func clusterAccess(c platform.RegisteredCluster, row string) []*unstructured.Unstructured {
	guide := "9.2 management to cluster: ServiceAccount token with least privilege"
	subject := []any{map[string]any{"kind": "ServiceAccount", "name": clusterAgent, "namespace": ClusterAgentNamespace}}
	objs := []*unstructured.Unstructured{
		Object("v1", "Namespace", "", ClusterAgentNamespace, row, guide, nil),
		Object("v1", "ServiceAccount", ClusterAgentNamespace, clusterAgent, row, guide,
			map[string]any{"automountServiceAccountToken": false}),
	}
	token := Object("v1", "Secret", ClusterAgentNamespace, clusterAgentToken, row, guide,
		map[string]any{"type": "kubernetes.io/service-account-token"})
	setAnnotation(token, "kubernetes.io/service-account.name", clusterAgent)
	objs = append(objs, token,
		Object("rbac.authorization.k8s.io/v1", "ClusterRole", "", clusterAgentRole, row, guide,
			map[string]any{"rules": []any{
				rule("", []string{"namespaces", "nodes"}, "get", "list", "watch"),
				rule("storage.k8s.io", []string{"storageclasses"}, "get", "list", "watch"),
				rule("node.k8s.io", []string{"runtimeclasses"}, "get", "list", "watch"),
			}}),
		Object("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", clusterAgentRole, row, guide,
			map[string]any{"roleRef": roleRef("ClusterRole"), "subjects": subject}),
	)
	for _, ns := range c.Namespaces {
		if ns != ClusterAgentNamespace {
			objs = append(objs, Object("v1", "Namespace", "", ns, row, guide, nil))
		}
		objs = append(objs,
			Object("rbac.authorization.k8s.io/v1", "Role", ns, clusterAgentRole, row, guide,
				map[string]any{"rules": namespaceRules()}),
			Object("rbac.authorization.k8s.io/v1", "RoleBinding", ns, clusterAgentRole, row, guide,
				map[string]any{"roleRef": roleRef("Role"), "subjects": subject}),
		)
	}
	return objs
}

// namespaceRules are what budcluster needs to deploy and run model servers
// in a namespace of its own: workloads, their configuration and storage,
// services and routes, autoscaling, and reading pods, logs and events.
func namespaceRules() []any {
	write := []string{"get", "list", "watch", "create", "update", "patch", "delete"}
	read := []string{"get", "list", "watch"}
	return []any{
		rule("", []string{"configmaps", "persistentvolumeclaims", "secrets", "services", "serviceaccounts"}, write...),
		rule("", []string{"pods", "pods/log", "events"}, read...),
		rule("apps", []string{"deployments", "statefulsets"}, write...),
		rule("apps", []string{"replicasets"}, read...),
		rule("batch", []string{"jobs"}, write...),
		rule("autoscaling", []string{"horizontalpodautoscalers"}, write...),
		rule("networking.k8s.io", []string{"ingresses", "networkpolicies"}, write...),
	}
}

func rule(group string, resources []string, verbs ...string) map[string]any {
	return map[string]any{"apiGroups": []any{group}, "resources": toAny(resources), "verbs": toAny(verbs)}
}

func roleRef(kind string) map[string]any {
	return map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": clusterAgentRole}
}

// Placeholders of the kubeconfig template.
const (
	PlaceholderCA    = "${CLUSTER_CA_DATA}"
	PlaceholderToken = "${SERVICEACCOUNT_TOKEN}"
)

// kubeconfigTemplate is a ConfigMap holding the cluster's kubeconfig with
// placeholders for the CA and token the cluster's token Secret holds. The
// filled kubeconfig is a credential: store it in a Secret, not here.
func kubeconfigTemplate(c platform.RegisteredCluster, ns, row string) (*unstructured.Unstructured, error) {
	name := objectName(c.Name)
	cfg := map[string]any{
		"apiVersion": "v1",
		"kind":       "Config",
		"clusters": []any{map[string]any{"name": name, "cluster": map[string]any{
			"server":                     c.Server,
			"certificate-authority-data": PlaceholderCA,
		}}},
		"users": []any{map[string]any{"name": clusterAgent, "user": map[string]any{"token": PlaceholderToken}}},
		"contexts": []any{map[string]any{"name": name, "context": map[string]any{
			"cluster": name, "user": clusterAgent, "namespace": ClusterAgentNamespace,
		}}},
		"current-context": name,
	}
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("rendering the kubeconfig template of cluster %s: %w", c.Name, err)
	}
	u := Object("v1", "ConfigMap", ns, objectName(c.Name, "kubeconfig"), row,
		"9.2 management to cluster: kubeconfig with service account token",
		map[string]any{"data": map[string]any{KubeconfigKey: string(data)}})
	setAnnotation(u, "budnet.io/fill", fmt.Sprintf(
		"%s: kubectl --context %s -n %s get secret %s -o jsonpath='{.data.ca\\.crt}'; %s: the same with {.data.token}, base64-decoded. Store the result in a Secret.",
		PlaceholderCA, name, ClusterAgentNamespace, clusterAgentToken, PlaceholderToken))
	return u, nil
}
