package identity

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// PodIndex maps pod IPs to pods, kept current by a client-go shared informer.
// Host-network pods are left out: their IP is the node's, shared by every
// host-network pod and the kubelet, so it identifies nobody.
type PodIndex struct {
	client kubernetes.Interface
	resync time.Duration
	log    *slog.Logger

	mu    sync.RWMutex
	byIP  map[netip.Addr]podEntry
	byKey map[string][]netip.Addr

	syncedMu sync.Mutex
	synced   cache.InformerSynced
}

type podEntry struct {
	key  string
	info PodInfo
}

var _ PodLookup = (*PodIndex)(nil)

// NewPodIndex returns an index fed from client once Run starts. Failed lists
// and watches are logged to log (nil discards them).
func NewPodIndex(client kubernetes.Interface, resync time.Duration, log *slog.Logger) *PodIndex {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &PodIndex{
		client: client,
		resync: resync,
		log:    log,
		byIP:   map[netip.Addr]podEntry{},
		byKey:  map[string][]netip.Addr{},
	}
}

// Run starts the informer, waits for its first list, and then blocks until ctx
// ends. It returns an error if the cache never syncs.
func (x *PodIndex) Run(ctx context.Context) error {
	factory := informers.NewSharedInformerFactoryWithOptions(x.client, x.resync,
		informers.WithTransform(stripPod))
	inf := factory.Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { x.upsert(obj) },
		UpdateFunc: func(_, obj any) { x.upsert(obj) },
		DeleteFunc: x.remove,
	}); err != nil {
		return fmt.Errorf("pod index: add handler: %w", err)
	}
	if err := inf.SetWatchErrorHandlerWithContext(x.watchError); err != nil {
		return fmt.Errorf("pod index: set watch error handler: %w", err)
	}
	x.syncedMu.Lock()
	x.synced = inf.HasSynced
	x.syncedMu.Unlock()
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("pod index: cache did not sync")
	}
	<-ctx.Done()
	return nil
}

// watchError replaces client-go's default handler, which logs through klog
// outside the gateway's JSON log. The informer retries either way, by listing
// again with backoff, so a gateway without watch permission keeps working
// with identities up to a backoff stale; the warning is how anyone finds out.
func (x *PodIndex) watchError(ctx context.Context, _ *cache.Reflector, err error) {
	switch {
	case ctx.Err() != nil, errors.Is(err, io.EOF):
		// shutting down, or the watch closed normally
	case apierrors.IsResourceExpired(err), apierrors.IsGone(err), errors.Is(err, io.ErrUnexpectedEOF):
		x.log.Debug("pod watch closed; listing again", "err", err)
	default:
		x.log.Warn("pod list or watch failed; pod identities may be stale until it recovers", "err", err)
	}
}

// Synced reports whether the first list has been applied; /readyz uses it.
func (x *PodIndex) Synced() bool {
	x.syncedMu.Lock()
	defer x.syncedMu.Unlock()
	return x.synced != nil && x.synced()
}

// PodByIP returns the pod that owns a.
func (x *PodIndex) PodByIP(a netip.Addr) (PodInfo, bool) {
	x.mu.RLock()
	e, ok := x.byIP[a]
	x.mu.RUnlock()
	return e.info, ok
}

// stripPod keeps only what identification reads, to bound the cache's memory
// on large clusters.
func stripPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	return &corev1.Pod{
		ObjectMeta: metav1ObjectMeta(p),
		Spec:       corev1.PodSpec{ServiceAccountName: p.Spec.ServiceAccountName, HostNetwork: p.Spec.HostNetwork},
		Status:     corev1.PodStatus{Phase: p.Status.Phase, PodIP: p.Status.PodIP, PodIPs: p.Status.PodIPs},
	}, nil
}

func (x *PodIndex) upsert(obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	key := p.Namespace + "/" + p.Name
	var ips []netip.Addr
	if !p.Spec.HostNetwork && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
		ips = podIPs(p)
	}
	info := PodInfo{Namespace: p.Namespace, Name: p.Name, ServiceAccount: p.Spec.ServiceAccountName, Labels: p.Labels}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.dropLocked(key)
	for _, ip := range ips {
		x.byIP[ip] = podEntry{key: key, info: info}
	}
	if len(ips) > 0 {
		x.byKey[key] = ips
	}
}

func (x *PodIndex) remove(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.dropLocked(p.Namespace + "/" + p.Name)
}

// dropLocked forgets key's IPs, except where a newer pod already took the IP
// over (IP reuse after a delete that arrives late).
func (x *PodIndex) dropLocked(key string) {
	for _, ip := range x.byKey[key] {
		if e, ok := x.byIP[ip]; ok && e.key == key {
			delete(x.byIP, ip)
		}
	}
	delete(x.byKey, key)
}

func podIPs(p *corev1.Pod) []netip.Addr {
	var out []netip.Addr
	seen := map[netip.Addr]bool{}
	add := func(s string) {
		if a, err := netip.ParseAddr(s); err == nil && !seen[a.Unmap()] {
			seen[a.Unmap()] = true
			out = append(out, a.Unmap())
		}
	}
	add(p.Status.PodIP)
	for _, ip := range p.Status.PodIPs {
		add(ip.IP)
	}
	return out
}

func metav1ObjectMeta(p *corev1.Pod) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: p.Name, Namespace: p.Namespace, UID: p.UID,
		ResourceVersion: p.ResourceVersion, Labels: p.Labels,
	}
}
