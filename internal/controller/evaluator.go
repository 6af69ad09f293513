// Package controller keeps budnet's answer current on a live cluster:
// informers over manifest.ClusterResources feed an inventory, an Evaluator
// turns it into the reach comparison and the audit, and the result is
// published as Prometheus metrics (and, where wired, PolicyReports and
// Events). It holds no cobra: internal/cli/controller.go is the command.
package controller

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/budnet/budnet/internal/audit"
	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/platform"
	"github.com/budnet/budnet/internal/reach"
)

// Delta is what changed since the last evaluation, with the whole current
// state beside it. Changed lists the objects touched ("Kind/ns/name"); the
// full recompute ignores it, an incremental engine (issue 17 section 1)
// applies only those.
type Delta struct {
	// Objects are every watched object, in ClusterResources order.
	Objects []*unstructured.Unstructured
	// Changed are the objects added, updated or deleted since the last call.
	Changed []string
	// Detail says what was read (kinds and scope), for empty-input errors.
	Detail string
	// Warnings are the watch's own (kinds not served).
	Warnings []manifest.Warning
	// Platform is the model to compare with.
	Platform *platform.Platform
}

// State is one evaluation's result.
type State struct {
	Report    *audit.Report
	Checklist []audit.ChecklistState
	// Diff is the comparison with the platform model; nil when the reach
	// analysis failed (Report then carries the checks' own account).
	Diff        *reach.Diff
	Connections int
	Workloads   int
	Objects     int
	// Duration is how long the evaluation took.
	Duration time.Duration
	// EnginePath is how the matrix was brought up to date: PathFull,
	// PathIncremental or PathRebuild (evaluator_incremental.go).
	EnginePath string
	// EngineDeltas counts the engine deltas an incremental update applied.
	EngineDeltas int
}

// Evaluator turns a Delta into a State: FullRecompute, or Incremental
// (evaluator_incremental.go), which keeps the matrix by deltas.
type Evaluator interface {
	Apply(ctx context.Context, d Delta) (*State, error)
}

// FullRecompute rebuilds the inventory, the matrix, the comparison and every
// check from all objects on each call.
type FullRecompute struct{}

// Apply implements Evaluator.
func (FullRecompute) Apply(ctx context.Context, d Delta) (*State, error) {
	start := time.Now()
	inv, err := inventoryOf(ctx, d)
	if err != nil {
		return nil, err
	}
	st, err := evaluateInventory(inv, d.Platform)
	if err != nil {
		return nil, err
	}
	st.Objects = len(d.Objects)
	st.EnginePath = PathFull
	st.Duration = time.Since(start)
	return st, nil
}

// inventoryOf decodes the watched objects of d, as both evaluators read
// them, unless ctx has ended.
func inventoryOf(ctx context.Context, d Delta) (*manifest.Inventory, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	opts := manifest.Options{AllowEmpty: true, Logger: slog.New(slog.DiscardHandler)}
	inv, err := manifest.InventoryFromObjects(d.Objects, d.Detail, d.Warnings, opts)
	if err != nil {
		return nil, fmt.Errorf("building the inventory from %d watched objects: %w", len(d.Objects), err)
	}
	return inv, nil
}

// evaluateInventory runs the reach comparison and every check over inv.
func evaluateInventory(inv *manifest.Inventory, model *platform.Platform) (*State, error) {
	return evaluateContext(&audit.Context{Inventory: inv, Platform: model, Source: "cluster"})
}

// evaluateContext runs the reach comparison and every check over c.
func evaluateContext(c *audit.Context) (*State, error) {
	r := audit.Run(c, audit.Checks())
	r.Inputs = []string{"cluster (informers)"}
	v := c.Reach()
	if v.Err != nil {
		return nil, fmt.Errorf("reach analysis: %w", v.Err)
	}
	st := &State{Report: r, Checklist: audit.EvaluateChecklist(r), Diff: v.Diff, Workloads: len(v.Input.Workloads)}
	v.Matrix.Each(func(netpol.Connection) bool { st.Connections++; return true })
	return st, nil
}
