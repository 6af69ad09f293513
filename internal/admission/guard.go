// Package admission is budnet's admission guard: given the cluster's current
// objects and one change (a NetworkPolicy, Namespace or Pod created, updated
// or deleted), it decides whether the change opens a connection the platform
// model does not intend or breaks one it does. The decision engine (Guard)
// does no I/O; Handler serves it as a ValidatingWebhook.
package admission

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/platform"
	"github.com/budnet/budnet/internal/reach"
)

// Mode says what a harmful change gets.
type Mode string

// Modes.
const (
	// ModeEnforce denies a change that opens or breaks a flow.
	ModeEnforce Mode = "enforce"
	// ModeWarn admits it with warnings the client prints.
	ModeWarn Mode = "warn"
)

// ParseMode parses "enforce" or "warn".
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case ModeEnforce, ModeWarn:
		return Mode(s), nil
	}
	return "", fmt.Errorf("mode %q: want enforce or warn", s)
}

// Operation is the admission operation.
type Operation string

// Operations the guard judges.
const (
	Create Operation = "CREATE"
	Update Operation = "UPDATE"
	Delete Operation = "DELETE"
)

// Change is one object change under admission.
type Change struct {
	Operation Operation
	// Object is the new object (CREATE, UPDATE); OldObject the old one
	// (UPDATE, DELETE). Both carry apiVersion and kind.
	Object, OldObject *unstructured.Unstructured
}

// Decision is the guard's answer.
type Decision struct {
	Allowed bool
	// Message says why a change is denied (enforce) and names the flows.
	Message string
	// Warnings are returned to the client (warn mode, or an admitted change
	// the guard could not judge).
	Warnings []string
	// Opened are connections the change makes over-permissive, Broken the
	// model flows it blocks.
	Opened, Broken []reach.Discrepancy
}

// Guard decides changes against the model.
type Guard struct {
	Mode     Mode
	Platform *platform.Platform
}

// Decide applies ch to current (not modified), recomputes the comparison
// with the model before and after, and judges what changed. It returns an
// error when either state cannot be evaluated (the caller decides per its
// failure policy: it must not be read as "harmless").
func (g Guard) Decide(ctx context.Context, current []*unstructured.Unstructured, ch Change) (Decision, error) {
	if g.Platform == nil {
		return Decision{}, fmt.Errorf("admission: no platform model")
	}
	current, ch = podItself(current, ch)
	after, err := applyChange(current, ch)
	if err != nil {
		return Decision{}, err
	}
	before, err := compare(ctx, current, g.Platform)
	if err != nil {
		return Decision{}, fmt.Errorf("evaluating the cluster before the change: %w", err)
	}
	next, err := compare(ctx, after, g.Platform)
	if err != nil {
		return Decision{}, fmt.Errorf("evaluating the cluster with the change: %w", err)
	}
	d := Decision{Allowed: true,
		Opened: reach.Added(before.diff.OverPermissive, next.diff.OverPermissive),
		Broken: reach.Added(before.diff.Broken, next.diff.Broken)}
	unjudged := addedUnjudged(before.unjudged, next.unjudged)
	if len(d.Opened)+len(d.Broken) == 0 {
		if len(unjudged) > 0 {
			// What the engine cannot judge (a Cilium fromNodes, an ANP node
			// selector) it reads as matching nothing: admitting the change
			// as harmless would pass it by default.
			return Decision{}, &NotJudgedError{Parts: unjudged}
		}
		return d, nil
	}
	lines := describe(d)
	for _, u := range unjudged {
		lines = append(lines, "adds what the engine does not judge: "+u)
	}
	if g.Mode == ModeWarn {
		d.Warnings = lines
		return d, nil
	}
	d.Allowed = false
	d.Message = "budnet: " + strings.Join(lines, "; ")
	return d, nil
}

// describe names each flow, its ports and guide row.
func describe(d Decision) []string {
	var out []string
	for _, x := range d.Opened {
		out = append(out, "opens "+flowText(x)+" that the platform model does not intend")
	}
	for _, x := range d.Broken {
		out = append(out, "breaks "+flowText(x)+" that the platform model intends")
	}
	return out
}

func flowText(x reach.Discrepancy) string {
	s := fmt.Sprintf("%s => %s : %s", x.Src, x.Dst, x.Ports)
	if x.Flow != "" {
		s += " (flow " + x.Flow
		if x.Guide != "" {
			s += ", guide " + x.Guide
		}
		s += ")"
	}
	return s
}

// NotJudgedError says a change adds policy parts the engine does not judge
// (reach's "unjudged" list), so the guard cannot call it harmless. The
// handler answers it as undecided, per --on-timeout.
type NotJudgedError struct {
	// Parts name each part: "Kind ns/name field: why".
	Parts []string
}

func (e *NotJudgedError) Error() string {
	return "the change adds policy parts the engine does not judge: " + strings.Join(e.Parts, "; ")
}

// addedUnjudged returns the parts of after that before lacks.
func addedUnjudged(before, after []string) []string {
	had := make(map[string]bool, len(before))
	for _, u := range before {
		had[u] = true
	}
	var out []string
	for _, u := range after {
		if !had[u] {
			out = append(out, u)
		}
	}
	return out
}

// comparison is one state's comparison with the model and what of its
// policies the engine did not judge.
type comparison struct {
	diff     *reach.Diff
	unjudged []string
}

// compare computes the comparison of objs with the model, through the
// same decoding and engine as reach --cluster --intended.
func compare(ctx context.Context, objs []*unstructured.Unstructured, model *platform.Platform) (*comparison, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	inv, err := manifest.InventoryFromObjects(objs, "admission", nil,
		manifest.Options{AllowEmpty: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, err
	}
	in := reach.Build(inv, reach.BuildOptions{})
	if err := in.Err(); err != nil {
		return nil, err
	}
	eng, err := netpol.New(in.Cluster, netpol.Options{})
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	diff, err := reach.Compare(in, eng, eng.Matrix(), model)
	if err != nil {
		return nil, err
	}
	c := &comparison{diff: diff}
	for _, u := range append(slices.Clip(in.Unjudged), in.EngineUnjudged(eng.Unjudged())...) {
		s := u.Kind + " " + u.Object
		if u.Field != "" {
			s += " " + u.Field
		}
		c.unjudged = append(c.unjudged, s+": "+u.Why)
	}
	return c, nil
}

// podItself makes a Pod update judged by the Pod's own labels. The
// inventory reads a controller-owned Pod through its owner's template (so a
// workload is not counted once per replica), which would make relabelling
// the Pod itself (kubectl label pod db-0 role=x) invisible: the labels the
// NetworkPolicies select on change, the template does not. So for an
// UPDATE of a Pod that a controller owns before or after, both the old and
// the new Pod are judged as standalone Pods (controller reference dropped
// from copies): before holds the old Pod beside its owner, after the new
// one, and what the relabel adds is what the Pod gains. A change that only
// adopts or orphans the Pod changes nothing it can reach, and is judged so.
func podItself(current []*unstructured.Unstructured, ch Change) ([]*unstructured.Unstructured, Change) {
	if ch.Operation != Update || ch.Object == nil || ch.OldObject == nil || !isPod(ch.Object) || !isPod(ch.OldObject) {
		return current, ch
	}
	if metav1.GetControllerOf(ch.Object) == nil && metav1.GetControllerOf(ch.OldObject) == nil {
		return current, ch
	}
	old, nu := standalone(ch.OldObject), standalone(ch.Object)
	out := slices.Clone(current)
	if i := slices.IndexFunc(out, func(o *unstructured.Unstructured) bool { return sameObject(o, old) }); i >= 0 {
		out[i] = old
	} else {
		// Not in the caches yet (a watch event behind): the request says what it was.
		out = append(out, old)
	}
	return out, Change{Operation: Update, Object: nu, OldObject: old}
}

func isPod(u *unstructured.Unstructured) bool {
	return u.GetKind() == "Pod" && u.GroupVersionKind().Group == ""
}

// standalone returns a copy of a Pod without its controller reference.
func standalone(pod *unstructured.Unstructured) *unstructured.Unstructured {
	cp := pod.DeepCopy()
	refs := slices.DeleteFunc(cp.GetOwnerReferences(), func(r metav1.OwnerReference) bool {
		return r.Controller != nil && *r.Controller
	})
	cp.SetOwnerReferences(refs)
	return cp
}

func sameObject(a, b *unstructured.Unstructured) bool {
	return a.GetKind() == b.GetKind() && a.GroupVersionKind().Group == b.GroupVersionKind().Group &&
		a.GetNamespace() == b.GetNamespace() && a.GetName() == b.GetName()
}

// applyChange returns current with ch applied.
func applyChange(current []*unstructured.Unstructured, ch Change) ([]*unstructured.Unstructured, error) {
	out := slices.Clone(current)
	switch ch.Operation {
	case Create, Update:
		if ch.Object == nil {
			return nil, fmt.Errorf("admission: %s without an object", ch.Operation)
		}
		if i := slices.IndexFunc(out, func(o *unstructured.Unstructured) bool { return sameObject(o, ch.Object) }); i >= 0 {
			out[i] = ch.Object
		} else {
			out = append(out, ch.Object)
		}
	case Delete:
		if ch.OldObject == nil {
			return nil, fmt.Errorf("admission: DELETE without the old object")
		}
		out = slices.DeleteFunc(out, func(o *unstructured.Unstructured) bool { return sameObject(o, ch.OldObject) })
	default:
		return nil, fmt.Errorf("admission: operation %q is not judged", ch.Operation)
	}
	return out, nil
}
