package audit

import (
	"fmt"
	"sort"
	"strings"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
)

// Guide section 3.1: namespaces as security zones.

func checkZonesExist() Check {
	return Check{
		ID: "BUD-3.1-01", Title: "The model's zones exist as namespaces", Section: "3.1", Severity: SeverityMedium,
		Remediation: "Apply the Namespace objects `budnet generate` emits (00-namespaces.yaml): one per zone with the zone's labels and Pod Security level.",
		Doc:         docOf("BUD-3.1-01"),
		Run: func(c *Context) []Result {
			if c.Platform == nil {
				return nil
			}
			var out []Result
			for _, z := range c.Platform.Spec.Zones {
				ns := c.Inventory.Namespace(z.Name)
				switch {
				case ns == nil:
					out = append(out, res(StatusFail, z.Name, fmt.Sprintf("zone %s (%s) has no namespace: nothing is declared or deployed in it", z.Name, z.Purpose),
						modelEvidence(c.Platform, "zone "+z.Name, z.Source)))
				case ns.Implicit:
					out = append(out, res(StatusPass, z.Name, fmt.Sprintf("objects live in namespace %s (declared outside these manifests)", z.Name)))
				default:
					out = append(out, res(StatusPass, z.Name, "namespace "+z.Name+" is declared", ObjectEvidence(ns.Object, "", "")))
				}
			}
			return out
		},
	}
}

func checkWorkloadZones() Check {
	return Check{
		ID: "BUD-3.1-02", Title: "Workloads run in the zone the model assigns", Section: "3.1", Severity: SeverityMedium,
		Remediation: "Install each component into its zone (helm --namespace, or the chart's namespace values); `budnet generate` writes the per-zone NetworkPolicies that assume it.",
		Doc:         docOf("BUD-3.1-02"),
		Run: func(c *Context) []Result {
			var out []Result
			models := modelOf(c.Inventory, c.Platform)
			for _, w := range c.Inventory.Workloads {
				mw := models[w]
				if mw == nil {
					continue
				}
				if w.Namespace == mw.Zone {
					out = append(out, res(StatusPass, w.Ref(), fmt.Sprintf("%s (model workload %s) runs in its zone %s", w.Ref(), mw.Name, mw.Zone)))
					continue
				}
				out = append(out, res(StatusFail, w.Ref(),
					fmt.Sprintf("%s implements model workload %s (%s) but runs in namespace %s, not its zone %s", w.Ref(), mw.Name, mw.Role, w.Namespace, mw.Zone),
					ObjectEvidence(w.Object, "metadata.namespace", "namespace "+w.Namespace+"; zone "+mw.Zone)))
			}
			return out
		},
	}
}

func checkDataStoreNamespaces() Check {
	return Check{
		ID: "BUD-3.1-03", Title: "Data stores do not share a namespace with application services", Section: "3.1", Severity: SeverityHigh,
		Remediation: "Move the data stores into the data zone (bud-data); `budnet generate` then admits only the model's clients to their ports.",
		Doc:         docOf("BUD-3.1-03"),
		Run: func(c *Context) []Result {
			type nsRoles struct{ stores, apps []string }
			byNS := map[string]*nsRoles{}
			models := modelOf(c.Inventory, c.Platform)
			for _, w := range c.Inventory.Workloads {
				mw := models[w]
				if mw == nil {
					continue
				}
				r := byNS[w.Namespace]
				if r == nil {
					r = &nsRoles{}
					byNS[w.Namespace] = r
				}
				switch mw.Role {
				case platform.RoleDatastore:
					r.stores = append(r.stores, w.Ref())
				case platform.RoleService, platform.RoleFrontend, platform.RoleIdentity, platform.RoleIngress:
					r.apps = append(r.apps, w.Ref())
				}
			}
			var out []Result
			for _, ns := range sortedKeys(byNS) {
				r := byNS[ns]
				if len(r.stores) == 0 {
					continue
				}
				if len(r.apps) == 0 {
					out = append(out, res(StatusPass, ns, fmt.Sprintf("namespace %s holds data stores only (%s)", ns, listing(r.stores, 5))))
					continue
				}
				out = append(out, res(StatusFail, ns,
					fmt.Sprintf("namespace %s mixes %s with %s: a policy per namespace cannot separate them", ns,
						plural(len(r.stores), "data store", "data stores"), plural(len(r.apps), "application workload", "application workloads")),
					Evidence{Object: ns + "[Namespace]", Detail: "data stores: " + listing(r.stores, 6) + "; applications: " + listing(r.apps, 6)}))
			}
			return out
		},
	}
}

// clusterCreated are objects every namespace gets from the cluster itself,
// and kustomize's build file, which is never applied.
func clusterCreated(o *manifest.Object) bool {
	switch {
	case apiGroup(o.APIVersion) == "kustomize.config.k8s.io":
		return true
	case o.Kind == "Service" && o.Name == "kubernetes",
		o.Kind == "ConfigMap" && o.Name == "kube-root-ca.crt",
		o.Kind == "ServiceAccount" && o.Name == "default":
		return true
	}
	return false
}

func checkNothingInDefault() Check {
	return Check{
		ID: "BUD-3.1-04", Title: "Nothing runs in the default namespace", Section: "3.1", Severity: SeverityMedium,
		Remediation: "Give every object a zone namespace (kubectl and helm fall back to default when none is set); `budnet generate` emits policies only for the model's zones.",
		Doc:         docOf("BUD-3.1-04"),
		Run: func(c *Context) []Result {
			var out []Result
			namespaced := false
			for _, o := range c.Inventory.Objects {
				if o.Namespace == "" {
					continue
				}
				namespaced = true
				if o.Namespace != "default" || clusterCreated(o) {
					continue
				}
				how := "metadata.namespace is default"
				if o.NamespaceDefaulted {
					how = "no metadata.namespace: kubectl and helm put it in default"
				}
				out = append(out, res(StatusFail, o.Ref(), o.Ref()+" is in the default namespace, outside every zone", ObjectEvidence(o, "metadata", how)))
			}
			if len(out) == 0 && namespaced {
				out = append(out, res(StatusPass, "default", "no object lives in the default namespace"))
			}
			sort.SliceStable(out, func(i, j int) bool { return strings.Compare(out[i].Subject, out[j].Subject) < 0 })
			return out
		},
	}
}
