package reach

import (
	"net/netip"
	"sort"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/netpol"
)

// Workload is one workload as reach reports it, with what matching against the
// model needs.
type Workload struct {
	// Name is "namespace/name[Kind]": the workload object itself, a Pod's
	// controller owner, or a bare Pod.
	Name      string
	Namespace string
	Labels    map[string]string
	// Pod is the index in the engine's Cluster.Pods of the workload's first
	// pod; Pods are all of them (a live cluster's pods of one controller may
	// differ, e.g. a per-pod label on one StatefulSet pod).
	Pod  int
	Pods []int
	// Replicas is how many pods the workload runs (1 for DaemonSets: one per node is unknown here).
	Replicas int
}

// Input is the engine's input built from an inventory, with the workloads in
// name order.
type Input struct {
	Cluster   netpol.Cluster
	Workloads []Workload
	byName    map[string]int
	// Unjudged are the policy objects of other kinds (Calico, unknown
	// versions, invalid objects) the engine does not fully evaluate.
	Unjudged []Unjudged
	// Errors are policy objects that do not decode or that the engine
	// rejects, each naming its file and line (Err joins them).
	Errors []error
	// Notes say how a live read's Pods were judged: workloads read from
	// their template (no running Pod), owned objects whose controller is
	// not in the read judged as their own workloads.
	Notes []string
	// sources finds a policy object by its PolicyRef string, for the lines
	// of the fields the engine reports.
	sources map[string]*manifest.Object
}

// Workload returns the workload named name ("ns/name[Kind]", or "ns/name" when
// only one workload has that namespace and name).
func (in *Input) Workload(name string) (*Workload, bool) {
	if i, ok := in.byName[name]; ok {
		return &in.Workloads[i], true
	}
	var found *Workload
	for i := range in.Workloads {
		w := &in.Workloads[i]
		if trimKind(w.Name) == name {
			if found != nil {
				return nil, false // ambiguous: the caller must add [Kind]
			}
			found = w
		}
	}
	return found, found != nil
}

func trimKind(name string) string {
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '[' {
			return name[:i]
		}
	}
	return name
}

// BuildOptions choose readings the API reference leaves to the CNI.
type BuildOptions struct {
	// HostNetworkAsPods applies policies to host-network pods as to any pod
	// (--host-network-pods=pod); false sees their traffic as the node's
	// (--host-network-pods=node, the default and the most common reading).
	HostNetworkAsPods bool
}

// Build turns an inventory into the engine's input. Each workload becomes one
// pod of the engine: the pods of one template are alike, and the engine groups
// alike pods anyway; a StatefulSet becomes one per replica, since its
// controller labels each pod apart, and a live workload one per running Pod,
// with the Pod's own labels (podsOf). A Pod with a controller owner is reported as that owner,
// so a live cluster's pods and the manifests that made them name the same thing.
//
// opts.HostNetworkAsPods chooses the other reading of host-network pods the
// API reference allows (docs/netpol-engine.md): policies apply to them as to
// any pod, as netpol-analyzer reads them and some CNIs enforce.
func Build(inv *manifest.Inventory, opts BuildOptions) *Input {
	in := &Input{byName: map[string]int{}, sources: map[string]*manifest.Object{}}
	for _, ns := range inv.Namespaces {
		in.Cluster.Namespaces = append(in.Cluster.Namespaces, netpol.Namespace{Name: ns.Name, Labels: ns.Labels})
	}
	for _, w := range inv.Workloads {
		name := WorkloadName(w)
		var idxs []int
		for _, po := range podsOf(w) {
			var ports []netpol.ContainerPort
			for _, p := range po.ports {
				ports = append(ports, netpol.ContainerPort{Name: p.Name, Port: p.ContainerPort, Protocol: p.Protocol})
			}
			idxs = append(idxs, len(in.Cluster.Pods))
			in.Cluster.Pods = append(in.Cluster.Pods, netpol.Pod{
				Namespace:   w.Namespace,
				Name:        po.name,
				Workload:    name,
				Labels:      po.labels,
				HostNetwork: po.hostNetwork && !opts.HostNetworkAsPods,
				IPs:         parseIPs(po.ips),
				Ports:       ports,
			})
		}
		if i, seen := in.byName[name]; seen {
			in.Workloads[i].Replicas += replicas(w)
			in.Workloads[i].Pods = append(in.Workloads[i].Pods, idxs...)
			continue
		}
		in.byName[name] = len(in.Workloads)
		in.Workloads = append(in.Workloads, Workload{Name: name, Namespace: w.Namespace, Labels: w.Labels, Pod: idxs[0], Pods: idxs, Replicas: replicas(w)})
	}
	sort.Slice(in.Workloads, func(i, j int) bool { return in.Workloads[i].Name < in.Workloads[j].Name })
	for i, w := range in.Workloads {
		in.byName[w.Name] = i
	}
	for _, np := range inv.NetworkPolicies {
		in.Cluster.Policies = append(in.Cluster.Policies, np.Policy)
	}
	if inv.Live != nil {
		// A live read says what it judged by templates and which owned
		// objects it judged as themselves.
		in.Notes = append(in.Notes, inv.Live.TemplateOnly...)
		for _, s := range inv.Live.OwnWorkload {
			in.Notes = append(in.Notes, "judged as its own workload: "+s)
		}
	}
	in.Unjudged = readUnjudged(inv)
	in.readTiers(inv)
	return in
}

// Pods counts the pods the workloads run.
func (in *Input) Pods() int {
	n := 0
	for _, w := range in.Workloads {
		n += w.Replicas
	}
	return n
}

// Policies is the NetworkPolicies of the input.
func (in *Input) Policies() []*networkingv1.NetworkPolicy { return in.Cluster.Policies }

// WorkloadName is the name reach reports a manifest workload under: the
// object itself ("ns/name[Deployment]"), or, for a Pod with a controller
// owner, that owner ("ns/name[ReplicaSet]"). A static pod's mirror is owned
// by its Node, which runs every static pod of the node: each is its own
// workload, as the kubelet runs them, so it keeps its own name; so does a Pod
// whose owner names no kind, which says nothing to group by.
func WorkloadName(w *manifest.Workload) string {
	if w.Kind == "Pod" && w.Owner != nil && w.Owner.Kind != "" && w.Owner.Kind != "Node" {
		return w.Namespace + "/" + w.Owner.Name + "[" + w.Owner.Kind + "]"
	}
	return w.Ref()
}

func replicas(w *manifest.Workload) int {
	if len(w.LivePods) > 0 {
		return len(w.LivePods)
	}
	if w.Replicas == nil {
		return 1
	}
	return int(*w.Replicas)
}

func parseIPs(ips []string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ips {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, a)
		}
	}
	return out
}
