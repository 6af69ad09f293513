package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/budnet/budnet/internal/admission"
	"github.com/budnet/budnet/internal/controller"
)

// ControllerOptions holds the flags of `budnet controller`.
type ControllerOptions struct {
	Kubeconfig        string
	Context           string
	Namespace         string
	PlatformFile      string
	PlatformConfigMap string
	MetricsAddr       string
	Debounce          time.Duration
	Rediscover        time.Duration
	LogLevel          string
	PolicyReports     bool
	WebhookAddr       string
	TLSCertDir        string
	WebhookMode       string
	WebhookTimeout    time.Duration
	OnTimeout         string
	LeaderElect       bool
	LeaderNamespace   string
	Evaluator         string

	streams Streams
	logger  *slog.Logger
	config  *rest.Config
	mode    admission.Mode
}

func newControllerCommand(streams Streams) *cobra.Command {
	o := &ControllerOptions{streams: streams}
	cmd := &cobra.Command{
		Use:   "controller [--kubeconfig FILE] [--context NAME] [--platform FILE | --platform-configmap NS/NAME]",
		Short: "Keep the reach comparison and the audit current on a live cluster, as Prometheus metrics",
		Long: `controller watches the objects budnet reads (informers over the kinds audit --cluster
lists), and after each change (debounced) recomputes the connectivity matrix, its
comparison with the platform model and the hardening checks. It publishes them as
Prometheus metrics on --metrics-addr, with /healthz and /readyz. It needs read access
only. docs/controller.md documents the metrics and the deployment.`,
		Example: `  # In the cluster, with the manifests of deploy/controller
  budnet controller --platform-configmap budnet/platform

  # From a workstation, against a kubeconfig context
  budnet controller --context prod --platform my-platform.yaml --metrics-addr 127.0.0.1:9090`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return usageError(err)
			}
			if err := o.Complete(); err != nil {
				return usageError(err)
			}
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster configuration when running in a pod, else $KUBECONFIG or ~/.kube/config)")
	f.StringVar(&o.Context, "context", "", "kubeconfig context (default: the current one)")
	f.StringVarP(&o.Namespace, "namespace", "n", "", "watch namespaced kinds in this namespace only (default: all)")
	f.StringVar(&o.PlatformFile, "platform", "", "platform model file, re-read when it changes (default: the embedded Bud AI Foundry model)")
	f.StringVar(&o.PlatformConfigMap, "platform-configmap", "", "read the platform model from key "+controller.PlatformKey+" of this ConfigMap (NAMESPACE/NAME), watched")
	f.StringVar(&o.MetricsAddr, "metrics-addr", ":9090", "listen address for /metrics, /healthz and /readyz")
	f.DurationVar(&o.Debounce, "debounce", 200*time.Millisecond, "wait this long after a change for more before recomputing")
	f.DurationVar(&o.Rediscover, "rediscover", time.Minute, "how often to look again for kinds whose CRD is missing, and check --platform for changes")
	f.BoolVar(&o.PolicyReports, "policy-reports", true, "write wgpolicyk8s.io/v1alpha2 PolicyReports and a ClusterPolicyReport named "+controller.ReportName+" (server-side apply, field manager "+controller.FieldManager+"; needs their CRDs)")
	f.StringVar(&o.WebhookAddr, "webhook-addr", "", "serve the admission guard (ValidatingWebhook, path /validate) over TLS on this address, e.g. :9443 (default: off)")
	f.StringVar(&o.TLSCertDir, "tls-cert-dir", "", "with --webhook-addr: directory holding tls.crt and tls.key (a mounted kubernetes.io/tls Secret), re-read when they change")
	f.StringVar(&o.WebhookMode, "webhook-mode", string(admission.ModeEnforce), "with --webhook-addr: enforce (deny changes that open or break a flow) or warn (admit them with warnings)")
	f.DurationVar(&o.WebhookTimeout, "webhook-timeout", 8*time.Second, "with --webhook-addr: time allowed for a decision; keep it below the webhook's timeoutSeconds")
	f.StringVar(&o.OnTimeout, "on-timeout", "admit", "with --webhook-addr: admit or deny a change the guard could not judge in time (the answer says so)")
	f.BoolVar(&o.LeaderElect, "leader-elect", false, "elect one replica (Lease "+controller.LeaseName+") to write reports and Events; every replica still serves metrics and admission")
	f.StringVar(&o.LeaderNamespace, "leader-election-namespace", "", "namespace of the Lease (default: $POD_NAMESPACE)")
	f.StringVar(&o.Evaluator, "evaluator", "incremental", "how the matrix is kept current: incremental (the incremental engine, fed each change's objects) or full (recomputed on every change)")
	f.StringVar(&o.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	return cmd
}

// Validate checks flag combinations.
func (o *ControllerOptions) Validate() error {
	var errs []error
	if o.PlatformFile != "" && o.PlatformConfigMap != "" {
		errs = append(errs, errors.New("--platform and --platform-configmap are mutually exclusive"))
	}
	if o.PlatformConfigMap != "" {
		ns, name, ok := strings.Cut(o.PlatformConfigMap, "/")
		if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
			errs = append(errs, fmt.Errorf("--platform-configmap %q: want NAMESPACE/NAME", o.PlatformConfigMap))
		}
	}
	if o.MetricsAddr == "" {
		errs = append(errs, errors.New("--metrics-addr must not be empty"))
	} else if _, _, err := net.SplitHostPort(o.MetricsAddr); err != nil {
		errs = append(errs, fmt.Errorf("--metrics-addr %q: %w", o.MetricsAddr, err))
	}
	if o.WebhookAddr != "" {
		if o.TLSCertDir == "" {
			errs = append(errs, errors.New("--webhook-addr needs --tls-cert-dir: the API server calls webhooks over TLS only"))
		}
		if _, _, err := net.SplitHostPort(o.WebhookAddr); err != nil {
			errs = append(errs, fmt.Errorf("--webhook-addr %q: %w", o.WebhookAddr, err))
		}
		m, err := admission.ParseMode(o.WebhookMode)
		if err != nil {
			errs = append(errs, fmt.Errorf("--webhook-mode: %w", err))
		}
		o.mode = m
		if o.OnTimeout != "admit" && o.OnTimeout != "deny" {
			errs = append(errs, fmt.Errorf("--on-timeout %q: want admit or deny", o.OnTimeout))
		}
		if o.WebhookTimeout <= 0 || o.WebhookTimeout >= 30*time.Second {
			errs = append(errs, errors.New("--webhook-timeout must be above 0 and below 30s, the longest timeoutSeconds the API server allows"))
		}
	}
	if o.LeaderElect && o.LeaderNamespace == "" {
		o.LeaderNamespace = os.Getenv("POD_NAMESPACE")
		if o.LeaderNamespace == "" {
			errs = append(errs, errors.New("--leader-elect needs --leader-election-namespace (or $POD_NAMESPACE)"))
		}
	}
	if o.Evaluator != "incremental" && o.Evaluator != "full" {
		errs = append(errs, fmt.Errorf("--evaluator %q: want incremental or full", o.Evaluator))
	}
	if o.Debounce < 0 || o.Rediscover < 0 {
		errs = append(errs, errors.New("--debounce and --rediscover must not be negative"))
	}
	return errors.Join(errs...)
}

// Complete builds the logger and the cluster config: in-cluster when in a
// pod and no kubeconfig flag is given, else the kubeconfig as kubectl reads it.
func (o *ControllerOptions) Complete() error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.LogLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	o.logger = slog.New(slog.NewJSONHandler(o.streams.ErrOut, &slog.HandlerOptions{Level: level}))
	if o.Kubeconfig == "" && o.Context == "" && os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return fmt.Errorf("in-cluster config: %w", err)
		}
		o.config = cfg
		return nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.Kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: o.Context}).ClientConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	o.config = cfg
	return nil
}

// Run watches until ctx ends (SIGTERM or SIGINT).
func (o *ControllerOptions) Run(ctx context.Context) error {
	copts := controller.Options{
		Config: o.config, Namespace: o.Namespace,
		PlatformFile: o.PlatformFile, PlatformConfigMap: o.PlatformConfigMap,
		Debounce: o.Debounce, Rediscover: o.Rediscover, Logger: o.logger,
	}
	if o.Evaluator == "full" {
		copts.Evaluator = controller.FullRecompute{}
	}
	cs, err := kubernetes.NewForConfig(o.config)
	if err != nil {
		return fmt.Errorf("cluster client: %w", err)
	}
	drift, stopEvents := controller.NewDriftEvents(cs)
	defer stopEvents()
	var rw *controller.ReportWriter
	if o.PolicyReports {
		dyn, err := dynamic.NewForConfig(o.config)
		if err != nil {
			return fmt.Errorf("cluster client: %w", err)
		}
		rw = &controller.ReportWriter{Client: dyn}
	}
	var leader *controller.Leader
	if o.LeaderElect {
		host, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("leader election identity: %w", err)
		}
		leader = &controller.Leader{Client: cs, Namespace: o.LeaderNamespace, Identity: host}
	}
	copts.OnState = func(ctx context.Context, prev, cur *controller.State) error {
		if leader != nil && !leader.Leading() {
			return nil
		}
		drift.Record(prev, cur)
		if rw == nil {
			return nil
		}
		return rw.Write(ctx, cur)
	}
	c, err := controller.New(copts)
	if err != nil {
		return usageError(err)
	}
	ln, err := net.Listen("tcp", o.MetricsAddr)
	if err != nil {
		return usageError(fmt.Errorf("--metrics-addr: %w", err))
	}
	srv := &http.Server{Handler: c.Handler(), ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 2)
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			serveErr <- err
		}
	}()
	o.logger.Info("serving metrics", "addr", ln.Addr().String())
	var webhook *http.Server
	if o.WebhookAddr != "" {
		if webhook, err = o.serveWebhook(c, serveErr); err != nil {
			_ = srv.Close()
			return err
		}
	}
	// leaderDone closes when the election stopped; on shutdown that is after
	// the Lease was released (client-go releases it within RenewDeadline),
	// so Run waits for it: exiting first would leave the Lease held and
	// the next replica waiting out its duration.
	leaderDone := make(chan struct{})
	leaderCtx, stopLeading := context.WithCancel(ctx)
	if leader != nil {
		leader.OnElected = c.Kick
		go func() {
			defer close(leaderDone)
			if err := leader.Run(leaderCtx); err != nil {
				o.logger.Error("leader election", "err", err)
			}
		}()
	} else {
		close(leaderDone)
	}
	runErr := c.Run(ctx)
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if webhook != nil {
		if err := webhook.Shutdown(shutdown); err != nil {
			o.logger.Warn("webhook server shutdown", "err", err)
		}
	}
	if err := srv.Shutdown(shutdown); err != nil {
		o.logger.Warn("metrics server shutdown", "err", err)
	}
	stopLeading()
	<-leaderDone
	select {
	case err := <-serveErr:
		return errors.Join(runErr, fmt.Errorf("serving: %w", err))
	default:
	}
	return runErr
}

// serveWebhook starts the admission guard's TLS server; the certificate is
// read on each handshake when it changed (cert-manager renews it in place).
func (o *ControllerOptions) serveWebhook(c *controller.Controller, serveErr chan<- error) (*http.Server, error) {
	h, err := admission.NewHandler(c.Current, o.mode, o.WebhookTimeout, o.OnTimeout == "deny", c.Registerer(), o.logger)
	if err != nil {
		return nil, err
	}
	certs := &admission.CertReloader{Dir: o.TLSCertDir}
	if _, err := certs.GetCertificate(nil); err != nil {
		return nil, usageError(fmt.Errorf("--tls-cert-dir: %w", err))
	}
	ln, err := net.Listen("tcp", o.WebhookAddr)
	if err != nil {
		return nil, usageError(fmt.Errorf("--webhook-addr: %w", err))
	}
	mux := http.NewServeMux()
	mux.Handle("/validate", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{GetCertificate: certs.GetCertificate, MinVersion: tls.VersionTLS12}}
	go func() {
		if err := srv.ServeTLS(ln, "", ""); !errors.Is(err, http.ErrServerClosed) {
			serveErr <- err
		}
	}()
	o.logger.Info("serving the admission guard", "addr", ln.Addr().String(), "mode", o.mode)
	return srv, nil
}
