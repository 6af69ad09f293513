package audit

import (
	"embed"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
	"github.com/budnet/budnet/internal/reach"
)

// fixtures holds each check's failing and passing example. The tests load
// the same files, so docs/checks.md shows manifests that are proven to fail
// and to pass.
//
//go:embed testdata/checks
var fixtures embed.FS

// docOf returns the documentation examples of the check id.
func docOf(id string) Doc {
	read := func(name string) string {
		b, err := fixtures.ReadFile("testdata/checks/" + id + "/" + name)
		if err != nil {
			return ""
		}
		return string(b)
	}
	return Doc{Fails: read("fail.yaml"), Passes: read("pass.yaml")}
}

func res(st Status, subject, msg string, ev ...Evidence) Result {
	return Result{Status: st, Subject: subject, Message: msg, Evidence: ev}
}

// nested returns the value at path of the object's content.
func nested(o *manifest.Object, path ...string) (any, bool) {
	if o == nil || o.Unstructured == nil {
		return nil, false
	}
	return nestedIn(o.Unstructured.Object, path...)
}

func nestedIn(m map[string]any, path ...string) (any, bool) {
	v, ok, err := unstructured.NestedFieldNoCopy(m, path...)
	return v, ok && err == nil
}

// scalar renders a YAML scalar as written; non-scalars are "".
func scalar(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case bool:
		return strconv.FormatBool(t)
	case int64:
		return strconv.FormatInt(t, 10)
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case int:
		return strconv.Itoa(t)
	}
	return ""
}

func nestedString(o *manifest.Object, path ...string) string {
	v, _ := nested(o, path...)
	return scalar(v)
}

func stringIn(m map[string]any, path ...string) string {
	v, _ := nestedIn(m, path...)
	return scalar(v)
}

func nestedSlice(o *manifest.Object, path ...string) []any {
	v, _ := nested(o, path...)
	s, _ := v.([]any)
	return s
}

func sliceIn(m map[string]any, path ...string) []any {
	v, _ := nestedIn(m, path...)
	s, _ := v.([]any)
	return s
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func stringsIn(m map[string]any, path ...string) []string {
	var out []string
	for _, v := range sliceIn(m, path...) {
		if s := scalar(v); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func annotationsOf(o *manifest.Object) map[string]string {
	if o == nil || o.Unstructured == nil {
		return nil
	}
	return o.Unstructured.GetAnnotations()
}

// apiGroup is the group of an apiVersion ("" for the core group).
func apiGroup(apiVersion string) string {
	if i := strings.IndexByte(apiVersion, '/'); i >= 0 {
		return apiVersion[:i]
	}
	return ""
}

// objectsOf returns the objects of the given kinds whose API group is one of
// groups, in load order. A kind of another group (a CRD that reuses a name)
// is a different thing and is left out.
func objectsOf(inv *manifest.Inventory, groups []string, kinds ...string) []*manifest.Object {
	var out []*manifest.Object
	for _, o := range inv.Objects {
		if slices.Contains(kinds, o.Kind) && slices.Contains(groups, apiGroup(o.APIVersion)) {
			out = append(out, o)
		}
	}
	return out
}

// API groups of the kinds the checks read.
var (
	groupsCore       = []string{""}
	groupsNetworking = []string{"networking.k8s.io", "extensions"}
	groupsTraefik    = []string{"traefik.io", "traefik.containo.us"}
	groupsGateway    = []string{"gateway.networking.k8s.io"}
	groupsDapr       = []string{"dapr.io"}
	groupsCertMgr    = []string{"cert-manager.io"}
	groupsCilium     = []string{"cilium.io"}
	groupsPromOp     = []string{"monitoring.coreos.com"}
)

// modelOf maps manifest workloads to the model workload they implement,
// the first in model order, by reach.MatchWorkload in any namespace (every
// tier), so that a workload in the wrong zone is still recognised.
func modelOf(inv *manifest.Inventory, p *platform.Platform) map[*manifest.Workload]*platform.Workload {
	out := map[*manifest.Workload]*platform.Workload{}
	if p == nil {
		return out
	}
	cands := candidates(inv)
	for i := range p.Spec.Workloads {
		mw := &p.Spec.Workloads[i]
		for _, m := range reach.MatchWorkload(mw, cands) {
			if w := inv.Workloads[m.Index]; out[w] == nil {
				out[w] = mw
			}
		}
	}
	return out
}

// matching returns the manifest workloads implementing the model workload,
// in any namespace (reach.MatchWorkload, every tier).
func matching(inv *manifest.Inventory, mw *platform.Workload) []*manifest.Workload {
	var out []*manifest.Workload
	for _, m := range reach.MatchWorkload(mw, candidates(inv)) {
		out = append(out, inv.Workloads[m.Index])
	}
	return out
}

// candidates reads the inventory's workloads for reach.MatchWorkload; the
// indexes of its matches are indexes into inv.Workloads.
func candidates(inv *manifest.Inventory) []reach.Candidate {
	out := make([]reach.Candidate, len(inv.Workloads))
	for i, w := range inv.Workloads {
		out[i] = reach.CandidateOf(w)
	}
	return out
}

// podIndex is the engine pod of a manifest workload.
func podIndex(in *reach.Input, w *manifest.Workload) (int, bool) {
	rw, ok := in.Workload(reach.WorkloadName(w))
	if !ok {
		return 0, false
	}
	return rw.Pod, true
}

func modelEvidence(p *platform.Platform, what string, src platform.Source) Evidence {
	file := src.File
	if file == "" {
		file = p.Source.File
	}
	return Evidence{Object: "platform " + p.Metadata.Name, File: file, Line: src.Line, Detail: what}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := slices.Collect(maps.Keys(m))
	sort.Strings(keys)
	return keys
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// listing joins names for a message, eliding after max.
func listing(names []string, max int) string {
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:max], ", ") + fmt.Sprintf(" and %d more", len(names)-max)
}

// systemNamespace reports namespaces that belong to the Kubernetes
// distribution, not the platform: their pods (CoreDNS, the CNI) need egress
// the platform's policies do not describe, and a default deny there breaks
// the cluster. The model's DNS namespace counts as one.
func systemNamespace(c *Context, ns string) bool {
	switch ns {
	case "kube-system", "kube-public", "kube-node-lease":
		return true
	}
	dnsNS, _, _ := dnsOf(c.Platform)
	return ns == dnsNS
}
