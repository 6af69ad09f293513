package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
)

// PlatformKey is the ConfigMap key the platform model is read from.
const PlatformKey = "platform.yaml"

// Options configure a Controller.
type Options struct {
	// Config connects to the cluster (in-cluster or a kubeconfig's).
	Config *rest.Config
	// Namespace limits namespaced kinds to one namespace; empty watches all.
	Namespace string
	// PlatformFile is a model file, re-read when its modification time
	// changes; PlatformConfigMap ("ns/name", key PlatformKey) a ConfigMap,
	// watched with the other ConfigMaps. Both empty: the embedded Bud model.
	PlatformFile      string
	PlatformConfigMap string
	// Debounce is how long to wait after a change for more changes before
	// evaluating; 0 means 200 ms.
	Debounce time.Duration
	// Rediscover is how often kinds whose CRD was missing are looked for
	// again (and the platform file's modification time checked); 0 means 1 min.
	Rediscover time.Duration
	// Evaluator computes the state; nil means an Incremental (the matrix
	// kept by the incremental engine), logging to Logger.
	Evaluator Evaluator
	// Logger receives progress and problems; nil discards them.
	Logger *slog.Logger
	// OnState is called after each successful evaluation, with the
	// previous state (nil the first time); PolicyReports and Events hang
	// here. An error is logged and counted, the state is kept.
	OnState func(ctx context.Context, prev, cur *State) error
}

// Controller watches the cluster and keeps State current.
type Controller struct {
	opts    Options
	log     *slog.Logger
	dyn     dynamic.Interface
	disc    discovery.DiscoveryInterface
	factory dynamicinformer.DynamicSharedInformerFactory
	metrics *metrics
	kick    chan struct{}

	mu        sync.Mutex
	informers []watchedResource
	missing   []schema.GroupResource
	changed   []string
	state     *State
	lastErr   error
	ready     bool
	modTime   time.Time
	fileModel *platform.Platform
}

type watchedResource struct {
	res      manifest.ServedResource
	informer cache.SharedIndexInformer
}

// New checks the options and builds the clients; Run starts watching.
func New(opts Options) (*Controller, error) {
	if opts.Config == nil {
		return nil, errors.New("controller: no cluster config")
	}
	if opts.PlatformFile != "" && opts.PlatformConfigMap != "" {
		return nil, errors.New("controller: a platform file and a platform ConfigMap are exclusive")
	}
	if opts.PlatformConfigMap != "" {
		if ns, name, ok := strings.Cut(opts.PlatformConfigMap, "/"); !ok || ns == "" || name == "" || strings.Contains(name, "/") {
			return nil, fmt.Errorf("controller: platform ConfigMap %q: want NAMESPACE/NAME", opts.PlatformConfigMap)
		}
	}
	if opts.Debounce <= 0 {
		opts.Debounce = 200 * time.Millisecond
	}
	if opts.Rediscover <= 0 {
		opts.Rediscover = time.Minute
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Evaluator == nil {
		opts.Evaluator = &Incremental{Log: log}
	}
	cfg := rest.CopyConfig(opts.Config)
	cfg.UserAgent = "budnet-controller"
	// One list per kind at start: client-go's default 5 QPS would throttle.
	cfg.QPS, cfg.Burst = 50, 100
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("controller: dynamic client: %w", err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("controller: discovery client: %w", err)
	}
	return &Controller{
		opts: opts, log: log, dyn: dyn, disc: disc,
		factory: dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 0, opts.Namespace, nil),
		metrics: newMetrics(),
		kick:    make(chan struct{}, 1),
	}, nil
}

// Handler serves /metrics, /healthz and /readyz.
func (c *Controller) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(c.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		c.mu.Lock()
		ready, err := c.ready, c.lastErr
		c.mu.Unlock()
		if !ready {
			msg := "informers not synced or no evaluation yet\n"
			if err != nil {
				msg = "no successful evaluation yet: " + err.Error() + "\n"
			}
			http.Error(w, msg, http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}

// State returns the last successful evaluation; nil before the first.
func (c *Controller) State() *State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Ready reports whether the informers synced and an evaluation succeeded.
func (c *Controller) Ready() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ready
}

// Gatherer exposes the metrics registry (tests read the series from it).
func (c *Controller) Gatherer() prometheus.Gatherer { return c.metrics.reg }

// Run watches until ctx ends. It returns an error when the first discovery
// fails or the caches never sync; later failures are logged and retried.
func (c *Controller) Run(ctx context.Context) error {
	if err := c.discover(ctx); err != nil {
		return err
	}
	defer c.factory.Shutdown()
	rediscover := time.NewTicker(c.opts.Rediscover)
	defer rediscover.Stop()
	c.trigger("start")
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-rediscover.C:
			if err := c.discover(ctx); err != nil {
				c.log.Warn("rediscovery failed", "err", err)
			}
			if c.platformFileChanged() {
				c.trigger("platform file")
			}
			continue
		case <-c.kick:
		}
		// Debounce: a rollout changes many objects within milliseconds.
		t := time.NewTimer(c.opts.Debounce)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		select {
		case <-c.kick:
		default:
		}
		c.evaluate(ctx)
	}
}

// trigger asks for an evaluation; many triggers before it runs make one.
func (c *Controller) trigger(ref string) {
	c.mu.Lock()
	c.changed = append(c.changed, ref)
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// discover starts informers for the served kinds not yet watched and waits
// for their caches.
func (c *Controller) discover(ctx context.Context) error {
	served, missing, warning, err := manifest.DiscoverResources(c.disc)
	if err != nil {
		return fmt.Errorf("controller: %w", err)
	}
	if warning != "" {
		c.log.Warn(warning)
	}
	c.mu.Lock()
	var added []watchedResource
	for _, s := range served {
		if slices.ContainsFunc(c.informers, func(w watchedResource) bool { return w.res.GVR == s.GVR }) {
			continue
		}
		inf := c.factory.ForResource(s.GVR).Informer()
		if err := inf.SetTransform(liveTransform(s)); err != nil {
			c.mu.Unlock()
			return fmt.Errorf("controller: informer for %s: %w", s.GVR, err)
		}
		ref := s.Kind
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { c.trigger(objRef(ref, o)) },
			UpdateFunc: func(_, o any) { c.trigger(objRef(ref, o)) },
			DeleteFunc: func(o any) { c.trigger(objRef(ref, o)) },
		}); err != nil {
			c.mu.Unlock()
			return fmt.Errorf("controller: informer for %s: %w", s.GVR, err)
		}
		w := watchedResource{res: s, informer: inf}
		c.informers = append(c.informers, w)
		added = append(added, w)
	}
	if len(added) > 0 && len(c.missing) > 0 && !slices.Equal(c.missing, missing) {
		c.log.Info("kinds now served", "kinds", len(added))
	}
	if len(missing) > 0 && !slices.Equal(c.missing, missing) {
		names := make([]string, len(missing))
		for i, gr := range missing {
			names[i] = gr.String()
		}
		c.log.Warn("not served by the cluster (CRD not installed), watched as empty and looked for again", "kinds", strings.Join(names, ", "))
	}
	c.missing = missing
	c.mu.Unlock()
	if len(added) == 0 {
		return nil
	}
	c.factory.Start(ctx.Done())
	for _, w := range added {
		if !cache.WaitForCacheSync(ctx.Done(), w.informer.HasSynced) {
			return fmt.Errorf("controller: cache of %s never synced: %w", w.res.GVR, context.Cause(ctx))
		}
	}
	return nil
}

// liveTransform sets apiVersion and kind (a list's items may lack them) and
// drops managedFields before an object enters the cache: they are most of
// an object's size and nothing reads them.
func liveTransform(s manifest.ServedResource) cache.TransformFunc {
	return func(o any) (any, error) {
		u, ok := o.(*unstructured.Unstructured)
		if !ok {
			return o, nil
		}
		u.SetAPIVersion(s.GVR.GroupVersion().String())
		u.SetKind(s.Kind)
		u.SetManagedFields(nil)
		return u, nil
	}
}

func objRef(kind string, o any) string {
	if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
		return kind + "/" + d.Key
	}
	if u, ok := o.(*unstructured.Unstructured); ok {
		if ns := u.GetNamespace(); ns != "" {
			return kind + "/" + ns + "/" + u.GetName()
		}
		return kind + "/" + u.GetName()
	}
	return kind
}

// snapshot copies the caches into a Delta, in ClusterResources order and
// by namespace and name inside a kind, so the inventory does not depend on
// map order.
func (c *Controller) snapshot() Delta {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := Delta{Changed: c.changed}
	c.changed = nil
	c.metrics.watched.Reset()
	for _, w := range c.informers {
		items := w.informer.GetStore().List()
		objs := make([]*unstructured.Unstructured, 0, len(items))
		for _, it := range items {
			if u, ok := it.(*unstructured.Unstructured); ok {
				objs = append(objs, u)
			}
		}
		slices.SortFunc(objs, func(a, b *unstructured.Unstructured) int {
			return strings.Compare(a.GetNamespace()+"/"+a.GetName(), b.GetNamespace()+"/"+b.GetName())
		})
		c.metrics.watched.WithLabelValues(w.res.Kind).Set(float64(len(objs)))
		d.Objects = append(d.Objects, objs...)
	}
	scope := "all namespaces"
	if c.opts.Namespace != "" {
		scope = "namespace " + c.opts.Namespace
	}
	d.Detail = fmt.Sprintf("%d kinds watched in %s", len(c.informers), scope)
	if len(c.missing) > 0 {
		names := make([]string, len(c.missing))
		for i, gr := range c.missing {
			names[i] = gr.String()
		}
		d.Warnings = append(d.Warnings, manifest.Warning{Source: manifest.Source{File: manifest.ClusterSource},
			Msg: "not served by the cluster (CRD not installed), read as empty: " + strings.Join(names, ", ")})
	}
	return d
}

// evaluate brings the state up to date; a failure keeps the last state.
func (c *Controller) evaluate(ctx context.Context) {
	d := c.snapshot()
	model, err := c.platform(d.Objects)
	if err == nil {
		d.Platform = model
		var st *State
		if st, err = c.opts.Evaluator.Apply(ctx, d); err == nil {
			c.mu.Lock()
			prev := c.state
			c.state, c.lastErr, c.ready = st, nil, true
			c.mu.Unlock()
			c.metrics.publish(st)
			c.metrics.evaluations.WithLabelValues("ok").Inc()
			c.metrics.lastSuccess.SetToCurrentTime()
			c.log.Info("evaluated", "objects", st.Objects, "workloads", st.Workloads, "connections", st.Connections, "took", st.Duration)
			if c.opts.OnState != nil {
				// A publish under way when the controller is told to stop
				// finishes, so the reports are not left half-written
				// (some namespaces new, others old) until the next start.
				pctx, cancel := afterGrace(ctx, publishGrace)
				err := c.opts.OnState(pctx, prev, st)
				cancel()
				if err != nil {
					c.log.Error("publishing the state", "err", err)
					c.metrics.evaluations.WithLabelValues("publish-error").Inc()
				}
			}
			return
		}
	}
	c.mu.Lock()
	c.lastErr = err
	c.mu.Unlock()
	c.metrics.evaluations.WithLabelValues("error").Inc()
	c.log.Error("evaluation failed; the last state stands", "err", err)
}

// publishGrace is how long a publish begun before a shutdown may go on
// after it; well inside a Pod's default 30 s termination grace period.
const publishGrace = 10 * time.Second

// afterGrace returns a context that ends grace after ctx does (or when
// cancel is called): work begun before a shutdown finishes, without holding
// the shutdown up for long.
func afterGrace(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	g, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(grace, cancel)
		context.AfterFunc(g, func() { t.Stop() })
	})
	return g, func() { stop(); cancel() }
}

// platform returns the model: the ConfigMap from the cache, the file
// (parsed again when it changed), or the embedded Bud model.
func (c *Controller) platform(objs []*unstructured.Unstructured) (*platform.Platform, error) {
	switch {
	case c.opts.PlatformConfigMap != "":
		ns, name, _ := strings.Cut(c.opts.PlatformConfigMap, "/")
		for _, o := range objs {
			if o.GetKind() == "ConfigMap" && o.GetNamespace() == ns && o.GetName() == name {
				data, _, _ := unstructured.NestedString(o.Object, "data", PlatformKey)
				if data == "" {
					return nil, fmt.Errorf("ConfigMap %s has no key %s", c.opts.PlatformConfigMap, PlatformKey)
				}
				return platform.Parse("configmap:"+c.opts.PlatformConfigMap, []byte(data))
			}
		}
		return nil, fmt.Errorf("platform ConfigMap %s not found (or not in the watched namespace)", c.opts.PlatformConfigMap)
	case c.opts.PlatformFile != "":
		c.mu.Lock()
		defer c.mu.Unlock()
		fi, err := os.Stat(c.opts.PlatformFile)
		if err != nil {
			return nil, fmt.Errorf("platform file: %w", err)
		}
		if c.fileModel == nil || !fi.ModTime().Equal(c.modTime) {
			p, err := platform.Load(c.opts.PlatformFile)
			if err != nil {
				return nil, err
			}
			c.fileModel, c.modTime = p, fi.ModTime()
		}
		return c.fileModel, nil
	}
	return platform.Default()
}

// platformFileChanged reports whether the model file changed since it was read.
func (c *Controller) platformFileChanged() bool {
	if c.opts.PlatformFile == "" {
		return false
	}
	fi, err := os.Stat(c.opts.PlatformFile)
	c.mu.Lock()
	defer c.mu.Unlock()
	return err == nil && !fi.ModTime().Equal(c.modTime)
}

// Current returns the watched objects as the caches hold them now (shared:
// do not modify them) and the model, for the admission guard. It fails
// until the controller is ready.
func (c *Controller) Current() ([]*unstructured.Unstructured, *platform.Platform, error) {
	if !c.Ready() {
		return nil, nil, errors.New("informers not synced or no evaluation yet")
	}
	c.mu.Lock()
	informers := slices.Clone(c.informers)
	c.mu.Unlock()
	var objs []*unstructured.Unstructured
	for _, w := range informers {
		for _, it := range w.informer.GetStore().List() {
			if u, ok := it.(*unstructured.Unstructured); ok {
				objs = append(objs, u)
			}
		}
	}
	model, err := c.platform(objs)
	if err != nil {
		return nil, nil, err
	}
	return objs, model, nil
}

// Registerer lets the admission guard add its series to the controller's
// registry, so one /metrics serves both.
func (c *Controller) Registerer() prometheus.Registerer { return c.metrics.reg }
