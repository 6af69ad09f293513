package controller

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"time"

	"github.com/budnet/budnet/internal/audit"
	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/reach"
)

// Engine paths a State was computed by (State.EnginePath and the
// budnet_engine_updates_total metric).
const (
	// PathFull is FullRecompute: the matrix computed anew.
	PathFull = "full"
	// PathIncremental is the incremental engine fed the changed objects.
	PathIncremental = "incremental"
	// PathRebuild is the incremental engine built anew: the first
	// evaluation, or a delta it could not apply (an error).
	PathRebuild = "rebuild"
)

// Incremental is the Evaluator that keeps a netpol.Incremental (issue 17
// section 1) across calls. Each call still decodes the watched objects
// (manifest.InventoryFromObjects) and reads them as a cluster (reach.Build,
// the one home of how a live Pod, Namespace and policy become engine
// input), then compares that cluster with the one the engine holds, object
// by object, and applies only the differences as netpol deltas: pods,
// namespaces, NetworkPolicies, the network-policy-api tiers and Cilium
// policies, every kind netpol.Cluster carries. The comparison with the
// model and every check then read the engine's matrix (audit.Context's
// Connectivity) instead of a full netpol.Matrix. A delta the engine
// rejects rebuilds it from the whole cluster, which is logged and counted
// (State.EnginePath "rebuild"); the model is not engine input, so a model
// reload needs no rebuild (the comparison runs on every call).
//
// Not safe for concurrent use; the controller calls Apply from one
// goroutine.
type Incremental struct {
	// Log receives the rebuilds; nil discards.
	Log *slog.Logger

	x    *netpol.Incremental
	held clusterIndex
}

// Apply implements Evaluator.
func (e *Incremental) Apply(ctx context.Context, d Delta) (*State, error) {
	start := time.Now()
	inv, err := inventoryOf(ctx, d)
	if err != nil {
		return nil, err
	}
	in := reach.Build(inv, reach.BuildOptions{})
	path, applied, err := e.update(in.Cluster)
	if err != nil {
		// The cluster itself is rejected (what netpol.New rejects): the
		// full recompute reports the same error through the checks.
		return nil, fmt.Errorf("reach analysis: %w", err)
	}
	c := &audit.Context{Inventory: inv, Platform: d.Platform, Source: "cluster", Connectivity: e.x}
	st, err := evaluateContext(c)
	if err != nil {
		return nil, err
	}
	st.Objects = len(d.Objects)
	st.EnginePath, st.EngineDeltas = path, applied
	st.Duration = time.Since(start)
	return st, nil
}

func (e *Incremental) log() *slog.Logger {
	if e.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Log
}

// update brings the engine to c: the deltas between the held cluster and
// c, or a rebuild. It returns the path taken and the deltas applied.
func (e *Incremental) update(c netpol.Cluster) (string, int, error) {
	now := indexCluster(c)
	if e.x != nil {
		deltas := e.held.deltas(now)
		var err error
		for i, dl := range deltas {
			if _, err = e.x.Apply(dl); err != nil {
				e.log().Warn("incremental engine: delta not applied, rebuilding from the whole cluster",
					"delta", i, "of", len(deltas), "op", dl.Op.String(), "object", fmt.Sprintf("%T", dl.Object), "err", err)
				break
			}
		}
		if err == nil {
			e.held = now
			return PathIncremental, len(deltas), nil
		}
	}
	x, err := netpol.NewIncremental(c, netpol.Options{})
	if err != nil {
		e.x, e.held = nil, clusterIndex{}
		return PathRebuild, 0, err
	}
	e.log().Info("incremental engine built", "pods", len(c.Pods), "namespaces", len(c.Namespaces))
	e.x, e.held = x, now
	return PathRebuild, 0, nil
}

// clusterIndex is a netpol.Cluster keyed by each object's identity
// (netpol.ObjectKey, the identities netpol.Incremental keys its own stores
// by).
type clusterIndex struct {
	namespaces map[string]*netpol.Namespace
	pods       map[string]*netpol.Pod
	objects    map[string]any // policies of every kind
}

func indexCluster(c netpol.Cluster) clusterIndex {
	ix := clusterIndex{namespaces: map[string]*netpol.Namespace{}, pods: map[string]*netpol.Pod{}, objects: map[string]any{}}
	for i := range c.Namespaces {
		ns := &c.Namespaces[i]
		ix.namespaces[keyOf(ns)] = ns
	}
	for i := range c.Pods {
		p := &c.Pods[i]
		ix.pods[keyOf(p)] = p
	}
	putPolicies(ix.objects, c.Policies)
	putPolicies(ix.objects, c.AdminNetworkPolicies)
	putPolicies(ix.objects, c.BaselineAdminNetworkPolicies)
	putPolicies(ix.objects, c.ClusterNetworkPolicies)
	putPolicies(ix.objects, c.CiliumNetworkPolicies)
	return ix
}

// keyOf is netpol.ObjectKey for an object of a kind it keys.
func keyOf(obj any) string {
	k, _ := netpol.ObjectKey(obj)
	return k
}

// putPolicies adds the non-nil policies of one kind to m by identity.
func putPolicies[P any](m map[string]any, policies []*P) {
	for _, p := range policies {
		if k, ok := netpol.ObjectKey(p); ok {
			m[k] = p
		}
	}
}

// deltas are the changes from ix to now, in an order the engine accepts
// at every step: policies removed, pods removed, namespaces added or
// changed, pods added or changed, policies added or changed, namespaces
// removed. Objects are compared by value (reflect.DeepEqual): reach.Build
// makes new ones on every call.
func (ix clusterIndex) deltas(now clusterIndex) []netpol.Delta {
	var out []netpol.Delta
	for _, k := range slices.Sorted(maps.Keys(ix.objects)) {
		if _, ok := now.objects[k]; !ok {
			out = append(out, netpol.Delta{Op: netpol.Delete, Object: ix.objects[k]})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(ix.pods)) {
		if _, ok := now.pods[k]; !ok {
			out = append(out, netpol.Delta{Op: netpol.Delete, Object: ix.pods[k]})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(now.namespaces)) {
		if old, ok := ix.namespaces[k]; !ok || !reflect.DeepEqual(old, now.namespaces[k]) {
			out = append(out, netpol.Delta{Op: netpol.Upsert, Object: now.namespaces[k]})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(now.pods)) {
		if old, ok := ix.pods[k]; !ok || !reflect.DeepEqual(old, now.pods[k]) {
			out = append(out, netpol.Delta{Op: netpol.Upsert, Object: now.pods[k]})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(now.objects)) {
		if old, ok := ix.objects[k]; !ok || !reflect.DeepEqual(old, now.objects[k]) {
			out = append(out, netpol.Delta{Op: netpol.Upsert, Object: now.objects[k]})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(ix.namespaces)) {
		if _, ok := now.namespaces[k]; !ok {
			out = append(out, netpol.Delta{Op: netpol.Delete, Object: ix.namespaces[k]})
		}
	}
	return out
}
