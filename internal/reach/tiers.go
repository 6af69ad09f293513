package reach

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/netpol"
)

// policyAPIGroup is the network-policy-api's group.
const policyAPIGroup = "policy.networking.k8s.io"

// tierVersions are the versions of each network-policy-api kind the engine
// evaluates: what sigs.k8s.io/network-policy-api v0.1.7 (v1alpha1 ANP and
// BANP) and v0.3.1 (v1alpha2 and v1beta1 ClusterNetworkPolicy) serve.
var tierVersions = map[string][]string{
	netpol.KindAdminNetworkPolicy:         {"v1alpha1"},
	netpol.KindBaselineAdminNetworkPolicy: {"v1alpha1"},
	netpol.KindClusterNetworkPolicy:       {"v1alpha2", "v1beta1"},
}

// ciliumVersions are the versions of Cilium's policy kinds the engine
// evaluates (the cilium.io/v2 CRDs in internal/crds/cilium).
var ciliumVersions = map[string][]string{
	netpol.KindCiliumNetworkPolicy:            {"v2"},
	netpol.KindCiliumClusterwideNetworkPolicy: {"v2"},
}

// readTiers decodes the inventory's network-policy-api objects into the
// cluster. An object that does not decode strictly or that the engine
// rejects is an error naming its file and line; it is left out of the
// cluster and listed as unjudged, so callers that only warn still show it.
func (in *Input) readTiers(inv *manifest.Inventory) {
	for _, o := range inv.Objects {
		group, version, _ := strings.Cut(o.APIVersion, "/")
		versions, ok := tierVersions[o.Kind]
		if group == ciliumGroup {
			versions, ok = ciliumVersions[o.Kind]
		} else if group != policyAPIGroup {
			ok = false
		}
		if !ok || o.Unstructured == nil {
			continue
		}
		in.sources[policyKey(o)] = o
		if !contains(versions, version) {
			in.Unjudged = append(in.Unjudged, Unjudged{Kind: o.Kind, Object: objectName(o), Source: o.Source.String(),
				Why: fmt.Sprintf("version %s is not evaluated (the engine reads %s)", version, strings.Join(versions, ", "))})
			continue
		}
		var one netpol.Cluster
		var err error
		switch o.Kind {
		case netpol.KindAdminNetworkPolicy:
			p := &netpol.AdminNetworkPolicy{}
			err = decodeStrict(o, p)
			one.AdminNetworkPolicies = append(one.AdminNetworkPolicies, p)
		case netpol.KindBaselineAdminNetworkPolicy:
			p := &netpol.BaselineAdminNetworkPolicy{}
			err = decodeStrict(o, p)
			one.BaselineAdminNetworkPolicies = append(one.BaselineAdminNetworkPolicies, p)
		case netpol.KindCiliumNetworkPolicy, netpol.KindCiliumClusterwideNetworkPolicy:
			p := &netpol.CiliumNetworkPolicy{}
			err = decodeStrict(o, p)
			one.CiliumNetworkPolicies = append(one.CiliumNetworkPolicies, p)
		default:
			p := &netpol.ClusterNetworkPolicy{}
			err = decodeStrict(o, p)
			one.ClusterNetworkPolicies = append(one.ClusterNetworkPolicies, p)
		}
		if err == nil {
			// Compile it alone, so a rejection names this object's file.
			_, err = netpol.New(one, netpol.Options{})
		}
		if err != nil {
			err = fmt.Errorf("%s (%s): %w", o.Ref(), o.Source, err)
			in.Errors = append(in.Errors, err)
			in.Unjudged = append(in.Unjudged, Unjudged{Kind: o.Kind, Object: objectName(o), Source: o.Source.String(), Why: "invalid: " + err.Error()})
			continue
		}
		c := &in.Cluster
		c.AdminNetworkPolicies = append(c.AdminNetworkPolicies, one.AdminNetworkPolicies...)
		c.BaselineAdminNetworkPolicies = append(c.BaselineAdminNetworkPolicies, one.BaselineAdminNetworkPolicies...)
		c.ClusterNetworkPolicies = append(c.ClusterNetworkPolicies, one.ClusterNetworkPolicies...)
		c.CiliumNetworkPolicies = append(c.CiliumNetworkPolicies, one.CiliumNetworkPolicies...)
	}
}

// policyKey is the object's netpol.PolicyRef string: only a
// CiliumNetworkPolicy among these kinds is namespaced.
func policyKey(o *manifest.Object) string {
	if o.Kind == netpol.KindCiliumNetworkPolicy {
		return o.Namespace + "/" + o.Name + "[" + o.Kind + "]"
	}
	return o.Name + "[" + o.Kind + "]"
}

// objectName is "namespace/name", or "name" when cluster-scoped, as
// Unjudged names objects.
func objectName(o *manifest.Object) string {
	if o.Namespace == "" {
		return o.Name
	}
	return o.Namespace + "/" + o.Name
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// decodeStrict decodes an object into one of the engine's API structs,
// rejecting fields the struct does not know: a typo or a newer field must
// not be judged as absent.
func decodeStrict(o *manifest.Object, into any) error {
	raw, err := json.Marshal(o.Unstructured.Object)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return fmt.Errorf("decoding: %w", err)
	}
	return nil
}

// EngineUnjudged turns the engine's unjudged policy parts into output
// entries with the file and line of the field.
func (in *Input) EngineUnjudged(parts []netpol.UnjudgedPart) []Unjudged {
	var out []Unjudged
	for _, p := range parts {
		u := Unjudged{Kind: p.Policy.Kind, Object: p.Policy.Name, Field: p.Field, Why: p.Why}
		if p.Policy.Namespace != "" {
			u.Object = p.Policy.Namespace + "/" + p.Policy.Name
		}
		if u.Kind == "" {
			u.Kind = "NetworkPolicy"
		}
		if o, ok := in.sources[p.Policy.String()]; ok {
			src := o.Source
			if line := o.LineOf(p.Field); line > 0 {
				src.Line = line
			}
			u.Source = src.String()
		}
		out = append(out, u)
	}
	return out
}

// Err is the input's invalid policy objects, joined; nil when all decoded.
func (in *Input) Err() error {
	if len(in.Errors) == 0 {
		return nil
	}
	msgs := make([]string, len(in.Errors))
	for i, e := range in.Errors {
		msgs[i] = e.Error()
	}
	return fmt.Errorf("invalid policy objects:\n  %s", strings.Join(msgs, "\n  "))
}

// TierCounts counts the evaluated policies other than NetworkPolicies, by
// kind; nil when there are none.
func (in *Input) TierCounts() map[string]int {
	out := map[string]int{}
	c := &in.Cluster
	add := func(kind string, n int) {
		if n > 0 {
			out[kind] += n
		}
	}
	add(netpol.KindAdminNetworkPolicy, len(c.AdminNetworkPolicies))
	add(netpol.KindBaselineAdminNetworkPolicy, len(c.BaselineAdminNetworkPolicies))
	add(netpol.KindClusterNetworkPolicy, len(c.ClusterNetworkPolicies))
	for _, p := range c.CiliumNetworkPolicies {
		add(p.Kind, 1)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
