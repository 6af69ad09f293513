package controller

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// LeaseName is the coordination.k8s.io Lease replicas elect a writer with.
const LeaseName = "budnet-controller"

// Leader elects one replica, through a Lease, to write reports and Events;
// every replica still watches, serves metrics and answers admission.
type Leader struct {
	Client    kubernetes.Interface
	Namespace string
	Identity  string
	// OnElected runs when this replica starts leading (publish at once).
	OnElected func()

	leading atomic.Bool
}

// Leading reports whether this replica holds the Lease now.
func (l *Leader) Leading() bool { return l.leading.Load() }

// Run campaigns until ctx ends, standing again after losing the Lease. On
// ctx's end the Lease is released, so another replica takes over at once
// instead of after the lease duration.
func (l *Leader) Run(ctx context.Context) error {
	if l.Client == nil || l.Namespace == "" || l.Identity == "" {
		return errors.New("leader election: client, namespace and identity are required")
	}
	cfg := leaderelection.LeaderElectionConfig{
		Lock: &resourcelock.LeaseLock{
			LeaseMeta:  metav1ObjectMeta(LeaseName, l.Namespace),
			Client:     l.Client.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: l.Identity},
		},
		// client-go's recommended defaults (leaderelection.go).
		LeaseDuration:   15 * time.Second,
		RenewDeadline:   10 * time.Second,
		RetryPeriod:     2 * time.Second,
		ReleaseOnCancel: true,
		Name:            LeaseName,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) {
				l.leading.Store(true)
				if l.OnElected != nil {
					l.OnElected()
				}
			},
			OnStoppedLeading: func() { l.leading.Store(false) },
		},
	}
	le, err := leaderelection.NewLeaderElector(cfg)
	if err != nil {
		return err
	}
	for ctx.Err() == nil {
		le.Run(ctx)
	}
	return nil
}

// Kick asks for an evaluation now (a new leader publishes at once).
func (c *Controller) Kick() { c.trigger("kick") }

func metav1ObjectMeta(name, namespace string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: namespace}
}
