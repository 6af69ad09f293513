package controller

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"

	"github.com/budnet/budnet/internal/audit"
	"github.com/budnet/budnet/internal/reach"
)

// Drift event reasons.
const (
	ReasonOverPermissive = "OverPermissive"
	ReasonFlowBroken     = "FlowBroken"
)

// apiVersions of the workload kinds reach names, for the Events' regarding.
var workloadAPIVersion = map[string]string{
	"Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1", "ReplicaSet": "apps/v1",
	"Job": "batch/v1", "CronJob": "batch/v1", "Pod": "v1", "ReplicationController": "v1",
}

// DriftEvents records an Event for each connection that became
// over-permissive and each model flow that became broken since the last
// evaluation. The first evaluation is the baseline: it records nothing
// (the metrics and reports carry the standing state).
type DriftEvents struct {
	Recorder events.EventRecorder
}

// Record compares prev and cur.
func (d *DriftEvents) Record(prev, cur *State) {
	if prev == nil || prev.Diff == nil || cur.Diff == nil {
		return
	}
	for _, x := range reach.Added(prev.Diff.OverPermissive, cur.Diff.OverPermissive) {
		d.emit(x, ReasonOverPermissive, "now allowed but not intended by the platform model")
	}
	for _, x := range reach.Added(prev.Diff.Broken, cur.Diff.Broken) {
		d.emit(x, ReasonFlowBroken, "intended by the platform model but now blocked")
	}
}

func (d *DriftEvents) emit(x reach.Discrepancy, reason, what string) {
	ref, ok := workloadRef(x.Dst)
	if !ok {
		if ref, ok = workloadRef(x.Src); !ok {
			return
		}
	}
	note := fmt.Sprintf("%s => %s : %s %s", x.Src, x.Dst, x.Ports, what)
	if x.Flow != "" {
		note += " (flow " + x.Flow
		if x.Guide != "" {
			note += ", guide " + x.Guide
		}
		note += ")"
	}
	d.Recorder.Eventf(ref, nil, corev1.EventTypeWarning, reason, "Evaluate", "%s", note)
}

// workloadRef turns "ns/name[Kind]" into an object reference; address
// entities are not objects.
func workloadRef(name string) (*corev1.ObjectReference, bool) {
	ns, n, kind, ok := audit.ParseRef(name)
	if !ok || ns == "" || workloadAPIVersion[kind] == "" {
		return nil, false
	}
	return &corev1.ObjectReference{APIVersion: workloadAPIVersion[kind], Kind: kind, Namespace: ns, Name: n}, true
}

// NewDriftEvents starts an events.k8s.io broadcaster writing through client
// (client-go's tools/events, which aggregates repeats into series); stop
// flushes and ends it.
func NewDriftEvents(client kubernetes.Interface) (d *DriftEvents, stop func()) {
	b := events.NewBroadcaster(&events.EventSinkImpl{Interface: client.EventsV1()})
	done := make(chan struct{})
	b.StartRecordingToSink(done)
	return &DriftEvents{Recorder: b.NewRecorder(scheme.Scheme, "budnet-controller")}, func() {
		close(done)
		b.Shutdown()
	}
}
