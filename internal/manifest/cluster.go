package manifest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// ClusterSource is the Source.File of objects read from a live cluster;
// their provenance is the object itself (kind, namespace, name), not a line.
const ClusterSource = "cluster"

// ClusterOptions say which cluster to read and how much of it.
type ClusterOptions struct {
	// Kubeconfig is the kubeconfig file; empty means $KUBECONFIG or
	// ~/.kube/config, as kubectl.
	Kubeconfig string
	// Context is the kubeconfig context; empty means the current one.
	Context string
	// Namespace limits namespaced kinds to one namespace; empty lists all.
	Namespace string
	// Progress receives one line per kind listed; nil for none. The command
	// passes stderr only when it is a terminal.
	Progress io.Writer
	// Config, when set, is used instead of the kubeconfig (tests).
	Config *rest.Config
}

// clusterPageSize bounds each list call, so a large cluster is read in pages.
const clusterPageSize = 500

// ClusterResources are the resources an audit reads, by API group: the kinds
// the loader types and every kind a check looks at. Kinds of CRDs that are not
// installed are skipped with a warning.
var ClusterResources = []schema.GroupResource{
	{Resource: "namespaces"},
	{Resource: "pods"},
	{Resource: "services"},
	{Resource: "configmaps"},
	{Resource: "secrets"},
	{Resource: "replicationcontrollers"},
	{Group: "apps", Resource: "deployments"},
	{Group: "apps", Resource: "statefulsets"},
	{Group: "apps", Resource: "daemonsets"},
	{Group: "apps", Resource: "replicasets"},
	{Group: "batch", Resource: "jobs"},
	{Group: "batch", Resource: "cronjobs"},
	{Group: "networking.k8s.io", Resource: "networkpolicies"},
	{Group: "networking.k8s.io", Resource: "ingresses"},
	{Group: "networking.k8s.io", Resource: "ingressclasses"},
	{Group: "dapr.io", Resource: "configurations"},
	{Group: "dapr.io", Resource: "components"},
	{Group: "dapr.io", Resource: "httpendpoints"},
	{Group: "cert-manager.io", Resource: "certificates"},
	{Group: "cert-manager.io", Resource: "issuers"},
	{Group: "cert-manager.io", Resource: "clusterissuers"},
	{Group: "gateway.networking.k8s.io", Resource: "gatewayclasses"},
	{Group: "gateway.networking.k8s.io", Resource: "gateways"},
	{Group: "gateway.networking.k8s.io", Resource: "httproutes"},
	{Group: "gateway.networking.k8s.io", Resource: "grpcroutes"},
	{Group: "gateway.networking.k8s.io", Resource: "tlsroutes"},
	{Group: "traefik.io", Resource: "ingressroutes"},
	{Group: "traefik.io", Resource: "middlewares"},
	{Group: "traefik.io", Resource: "tlsoptions"},
	{Group: "cilium.io", Resource: "ciliumnetworkpolicies"},
	{Group: "cilium.io", Resource: "ciliumclusterwidenetworkpolicies"},
	{Group: "policy.networking.k8s.io", Resource: "adminnetworkpolicies"},
	{Group: "policy.networking.k8s.io", Resource: "baselineadminnetworkpolicies"},
	{Group: "policy.networking.k8s.io", Resource: "clusternetworkpolicies"},
	{Group: "monitoring.coreos.com", Resource: "prometheusrules"},
	{Group: "monitoring.coreos.com", Resource: "servicemonitors"},
	{Group: "monitoring.coreos.com", Resource: "podmonitors"},
	{Group: "apiregistration.k8s.io", Resource: "apiservices"},
}

// served is how discovery says a resource is served.
type served struct {
	gvr        schema.GroupVersionResource
	kind       string
	namespaced bool
}

// LoadCluster reads the objects an audit needs from a live cluster, read-only
// (discovery, then list of each resource), and builds the inventory through
// the same typed decoding as files, so checks see the same objects. Kinds
// whose CRD is missing and kinds the user may not list are reported as
// inventory warnings, not errors. A Pod that a controller of the read owns
// is one of that workload's LivePods (through its ReplicaSet to the
// Deployment, its Job to the CronJob), judged by its own labels; an owned
// ReplicaSet or Job is folded into its owner; one whose controller is not in
// the read is its own workload (see foldControlled).
func LoadCluster(ctx context.Context, copts ClusterOptions, opts Options) (*Inventory, error) {
	cfg := copts.Config
	if cfg == nil {
		var err error
		if cfg, err = clusterConfig(copts); err != nil {
			return nil, err
		}
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "budnet-audit"
	// Dozens of list calls in a row: client-go's default 5 QPS would throttle.
	cfg.QPS, cfg.Burst = 50, 100
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster discovery client: %w", err)
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster client: %w", err)
	}
	available, discWarn, err := discover(disc)
	if err != nil {
		return nil, err
	}
	var warnings []Warning
	if discWarn != "" {
		warnings = append(warnings, Warning{Source: Source{File: ClusterSource}, Msg: discWarn})
	}
	var missing, forbidden []string
	var objs []*unstructured.Unstructured
	listed := 0
	for i, gr := range ClusterResources {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("reading cluster: %w", err)
		}
		res, ok := available[gr]
		if !ok {
			missing = append(missing, gr.String())
			continue
		}
		if copts.Progress != nil {
			fmt.Fprintf(copts.Progress, "budnet: listing %s (%d/%d)\n", gr, i+1, len(ClusterResources))
		}
		items, err := listAll(ctx, client, res, copts.Namespace)
		switch {
		case apierrors.IsForbidden(err):
			warnings = append(warnings, Warning{Source: Source{File: ClusterSource},
				Msg: fmt.Sprintf("forbidden to list %s: the checks that read %s see none", gr, res.kind)})
			forbidden = append(forbidden, gr.String())
			continue
		case apierrors.IsNotFound(err):
			missing = append(missing, gr.String())
			continue
		case err != nil:
			return nil, fmt.Errorf("listing %s: %w", gr, err)
		}
		listed++
		for i := range items {
			objs = append(objs, &items[i])
		}
	}
	scope := "all namespaces"
	if copts.Namespace != "" {
		scope = "namespace " + copts.Namespace
	}
	detail := fmt.Sprintf("%d kinds listed in %s", listed, scope)
	if len(forbidden) > 0 {
		detail += "; forbidden to list " + strings.Join(forbidden, ", ")
	}
	if copts.Namespace != "" && !opts.AllowEmpty && !slices.ContainsFunc(objs, func(o *unstructured.Unstructured) bool { return o.GetNamespace() == copts.Namespace }) {
		// Cluster-scoped kinds are listed whole, so the Namespace objects of
		// other namespaces alone must not make -n WRONG-NAME look audited.
		l := newLoader(opts)
		l.inputs = append(l.inputs, inputSummary{name: ClusterSource, kind: "live", detail: detail})
		return nil, l.emptyError()
	}
	if len(missing) > 0 {
		warnings = append(warnings, Warning{Source: Source{File: ClusterSource},
			Msg: fmt.Sprintf("not served by the cluster (CRD not installed), read as empty: %s", strings.Join(missing, ", "))})
	}
	return liveInventory(objs, detail, warnings, opts)
}

// InventoryFromObjects builds an inventory from live objects (an informer's
// cache, a list), decoded exactly as LoadCluster decodes what it lists:
// controller-owned Pods read as their owner's LivePods, owned ReplicaSets
// and Jobs folded into their owner, managed fields and
// last-applied annotations dropped, each object through the typed decoding
// of files. Each object needs its apiVersion and kind set. objs are not
// modified. detail says where they came from, for the empty-input error;
// warnings (missing kinds) are added to the inventory's.
func InventoryFromObjects(objs []*unstructured.Unstructured, detail string, warnings []Warning, opts Options) (*Inventory, error) {
	return liveInventory(objs, detail, warnings, opts)
}

// liveInventory is the one decoding of live objects LoadCluster and
// InventoryFromObjects share.
func liveInventory(objs []*unstructured.Unstructured, detail string, warnings []Warning, opts Options) (*Inventory, error) {
	l := newLoader(opts)
	l.live = true
	objs, pods, podWarnings := foldControlled(objs)
	warnings = append(warnings, podWarnings...)
	for _, o := range objs {
		// addClusterObject edits metadata: work on a copy, so a shared
		// informer cache stays as the server sent it.
		warnings = append(warnings, l.addClusterObject(*o.DeepCopy())...)
	}
	l.inputs = append(l.inputs, inputSummary{name: ClusterSource, kind: "live", detail: detail})
	inv, err := l.finish()
	if err != nil {
		return nil, err
	}
	pods.attach(inv)
	for _, w := range warnings {
		inv.warn(l.log, w)
	}
	return inv, nil
}

// ServedResource is a resource of ClusterResources the server serves, at
// the version it prefers.
type ServedResource struct {
	GVR        schema.GroupVersionResource
	Kind       string
	Namespaced bool
}

// DiscoverResources returns the resources of ClusterResources the server
// serves, in ClusterResources order, and the ones it does not serve (CRD not
// installed). A group whose discovery failed (an aggregated API down) is
// reported in the warning, not as an error.
func DiscoverResources(disc discovery.DiscoveryInterface) (servedRes []ServedResource, missing []schema.GroupResource, warning string, err error) {
	available, warning, err := discover(disc)
	if err != nil {
		return nil, nil, "", err
	}
	for _, gr := range ClusterResources {
		s, ok := available[gr]
		if !ok {
			missing = append(missing, gr)
			continue
		}
		servedRes = append(servedRes, ServedResource{GVR: s.gvr, Kind: s.kind, Namespaced: s.namespaced})
	}
	return servedRes, missing, warning, nil
}

// kubeconfig is the client configuration kubectl would use: the explicit
// file, else $KUBECONFIG's files merged, else ~/.kube/config.
func kubeconfig(path, context string) clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = path
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context})
}

// KubeconfigContexts lists the context names of the kubeconfig --cluster
// would read (path, or the default files when empty), sorted, for shell
// completion of --context.
func KubeconfigContexts(path string) ([]string, error) {
	raw, err := kubeconfig(path, "").RawConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	names := make([]string, 0, len(raw.Contexts))
	for name := range raw.Contexts {
		names = append(names, name)
	}
	slices.Sort(names)
	return names, nil
}

func clusterConfig(copts ClusterOptions) (*rest.Config, error) {
	cfg, err := kubeconfig(copts.Kubeconfig, copts.Context).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return cfg, nil
}

// discover maps each wanted resource to the version the server prefers.
// Groups whose discovery fails (an aggregated API down) are a warning.
func discover(disc discovery.DiscoveryInterface) (map[schema.GroupResource]served, string, error) {
	lists, err := disc.ServerPreferredResources()
	warning := ""
	if err != nil {
		if !discovery.IsGroupDiscoveryFailedError(err) {
			return nil, "", fmt.Errorf("cluster discovery: %w", err)
		}
		warning = "discovery of some API groups failed, their kinds are read as empty: " + err.Error()
	}
	out := map[schema.GroupResource]served{}
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range list.APIResources {
			gr := schema.GroupResource{Group: gv.Group, Resource: r.Name}
			if !slices.Contains(ClusterResources, gr) || !slices.Contains(r.Verbs, "list") {
				continue
			}
			out[gr] = served{gvr: gv.WithResource(r.Name), kind: r.Kind, namespaced: r.Namespaced}
		}
	}
	return out, warning, nil
}

func listAll(ctx context.Context, client dynamic.Interface, res served, namespace string) ([]unstructured.Unstructured, error) {
	var ri dynamic.ResourceInterface = client.Resource(res.gvr)
	if res.namespaced && namespace != "" {
		ri = client.Resource(res.gvr).Namespace(namespace)
	}
	var out []unstructured.Unstructured
	cont := ""
	for {
		list, err := ri.List(ctx, metav1.ListOptions{Limit: clusterPageSize, Continue: cont})
		if err != nil {
			return nil, err
		}
		for _, it := range list.Items {
			it.SetAPIVersion(res.gvr.GroupVersion().String())
			it.SetKind(res.kind)
			out = append(out, it)
		}
		cont = list.GetContinue()
		if cont == "" {
			return out, nil
		}
	}
}

// addClusterObject decodes one live object through the file path. Live
// objects were validated by the API server; one that still fails budnet's
// typed decoding is skipped with a warning rather than failing the audit.
func (l *loader) addClusterObject(u unstructured.Unstructured) []Warning {
	unstructured.RemoveNestedField(u.Object, "metadata", "managedFields")
	if ann := u.GetAnnotations(); ann != nil {
		// The last applied manifest repeats the object (Secrets included).
		delete(ann, "kubectl.kubernetes.io/last-applied-configuration")
		if len(ann) == 0 {
			ann = nil
		}
		u.SetAnnotations(ann)
	}
	ref := u.GetKind() + "/" + u.GetName()
	if ns := u.GetNamespace(); ns != "" {
		ref = u.GetKind() + "/" + ns + "/" + u.GetName()
	}
	src := Source{File: ClusterSource}
	data, err := json.Marshal(u.Object)
	if err != nil {
		return []Warning{{Source: src, Msg: fmt.Sprintf("%s: cannot encode: %v", ref, err)}}
	}
	first, errs := len(l.objects), len(l.errs)
	l.addFile(ClusterSource, data)
	if len(l.errs) > errs {
		bad := errors.Join(l.errs[errs:]...)
		l.errs, l.objects = l.errs[:errs], l.objects[:first]
		return []Warning{{Source: src, Msg: fmt.Sprintf("%s skipped: %v", ref, bad)}}
	}
	for _, o := range l.objects[first:] {
		o.Source = Source{File: ClusterSource, Item: -1}
		zeroLines(o.Node)
	}
	return nil
}

// zeroLines clears the lines of a decoded live object: they are lines of
// budnet's own encoding, which would mislead anyone looking for them.
func zeroLines(n *yaml.Node) {
	if n == nil {
		return
	}
	n.Line, n.Column = 0, 0
	for _, c := range n.Content {
		zeroLines(c)
	}
}
