package controller

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestLeaderElection: of two replicas exactly one leads; when it stops
// (releasing the Lease), the other takes over.
func TestLeaderElection(t *testing.T) {
	env := harness.Env(t)
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Create(t.Context(), nsObject("leader-test"), metav1CreateOptions()); err != nil {
		t.Fatal(err)
	}
	run := func(id string) (*Leader, context.CancelFunc, chan struct{}) {
		l := &Leader{Client: cs, Namespace: "leader-test", Identity: id}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := l.Run(ctx); err != nil {
				t.Error(err)
			}
		}()
		return l, cancel, done
	}
	a, stopA, doneA := run("a")
	b, stopB, doneB := run("b")
	// Cancelling twice and reading a closed channel are both harmless.
	defer func() { stopA(); stopB(); <-doneA; <-doneB }()
	waitFor(t, "one leader", func() bool { return a.Leading() != b.Leading() })
	first, other, stopFirst, doneFirst := a, b, stopA, doneA
	if b.Leading() {
		first, other, stopFirst, doneFirst = b, a, stopB, doneB
	}
	stopFirst()
	<-doneFirst
	waitFor(t, "the other replica takes over", func() bool { return other.Leading() && !first.Leading() })
}

func nsObject(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func metav1CreateOptions() metav1.CreateOptions { return metav1.CreateOptions{} }
