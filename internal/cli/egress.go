package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/budnet/budnet/internal/egress"
	"github.com/budnet/budnet/internal/egress/dnscache"
	"github.com/budnet/budnet/internal/egress/identity"
	"github.com/budnet/budnet/internal/egress/verdict"
	"github.com/budnet/budnet/internal/platform"
)

func newEgressCommand(streams Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "egress",
		Short: "Egress gateway enforcing the external provider allowlist (guide 4.3, 8.2)",
		Long: `The egress gateway is a forward proxy (HTTP CONNECT and absolute-form HTTP) that
lets each workload reach only the external hosts the platform model's egress flows
name, and never a private, metadata or cluster address. See docs/egress.md.`,
	}
	cmd.AddCommand(newEgressServeCommand(streams), newEgressCheckCommand(streams))
	return cmd
}

// dnsCacheEntries bounds the gateway's DNS cache: far more names than an
// allowlist's wildcards are used for, and under a megabyte.
const dnsCacheEntries = 10000

// EgressServeOptions holds the flags of `budnet egress serve`.
type EgressServeOptions struct {
	Platform      string
	Listen        string
	AdminListen   string
	Mode          string
	Kube          bool
	Kubeconfig    string
	TLSCert       string
	TLSKey        string
	ClientCA      string
	WatchInterval time.Duration
	DNSCacheTTL   time.Duration
	LogLevel      string
	Limits        egress.Config

	streams Streams
	logger  *slog.Logger
	mode    *verdict.Mode
}

func newEgressServeCommand(streams Streams) *cobra.Command {
	o := &EgressServeOptions{streams: streams, Limits: egress.Defaults()}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the egress gateway",
		Example: `  # Enforce the embedded Bud model's allowlist, identifying callers by pod IP
  budnet egress serve --kube

  # Roll out a new allowlist: log and count what enforce mode would refuse
  budnet egress serve --platform platform.yaml --mode report`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Complete(); err != nil {
				return usageError(err)
			}
			if err := o.Validate(); err != nil {
				return usageError(err)
			}
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Platform, "platform", "", "platform file (default: the embedded Bud AI Foundry model); reloaded on SIGHUP or change")
	f.StringVar(&o.Listen, "listen", ":3128", "proxy listen address")
	f.StringVar(&o.AdminListen, "admin-listen", ":9091", "listen address for /metrics, /healthz and /readyz")
	f.StringVar(&o.Mode, "mode", "", "enforce or report (default: the model's egressGateway.mode)")
	f.BoolVar(&o.Kube, "kube", false, "identify callers by pod IP with a Kubernetes informer")
	f.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig for --kube (default: in-cluster configuration)")
	f.StringVar(&o.TLSCert, "tls-cert", "", "serve the proxy over TLS with this certificate (PEM)")
	f.StringVar(&o.TLSKey, "tls-key", "", "private key for --tls-cert (PEM)")
	f.StringVar(&o.ClientCA, "client-ca", "", "CA bundle verifying client certificates (mTLS identity; needs --tls-cert)")
	f.DurationVar(&o.WatchInterval, "watch-interval", 10*time.Second, "how often to check --platform for changes (0 disables)")
	f.DurationVar(&o.DNSCacheTTL, "dns-cache-ttl", 5*time.Second, "keep successful name lookups this long (0 disables); every request still checks the addresses")
	f.StringVar(&o.LogLevel, "log-level", "info", "operational log level: debug, info, warn, error")
	f.DurationVar(&o.Limits.HeaderTimeout, "header-timeout", o.Limits.HeaderTimeout, "time allowed for a request head (slowloris bound)")
	f.DurationVar(&o.Limits.IdleTimeout, "idle-timeout", o.Limits.IdleTimeout, "close keep-alive connections and tunnels idle this long")
	f.DurationVar(&o.Limits.DialTimeout, "dial-timeout", o.Limits.DialTimeout, "time allowed to resolve and connect to a destination")
	f.DurationVar(&o.Limits.DrainTimeout, "shutdown-timeout", o.Limits.DrainTimeout, "on SIGTERM, how long open tunnels may drain")
	f.IntVar(&o.Limits.MaxHeaderBytes, "max-header-bytes", o.Limits.MaxHeaderBytes, "maximum size of a request line plus headers")
	f.IntVar(&o.Limits.MaxConnections, "max-connections", o.Limits.MaxConnections, "maximum concurrent client connections of any kind; at the limit connections still waiting for a request head are reclaimed (408), else new ones wait in the listen backlog")
	f.IntVar(&o.Limits.MaxConnsPerAddress, "max-connections-per-address", o.Limits.MaxConnsPerAddress, "maximum concurrent client connections from one IP address; more are answered 429")
	f.IntVar(&o.Limits.MaxTunnels, "max-tunnels", o.Limits.MaxTunnels, "maximum concurrent CONNECT tunnels")
	f.IntVar(&o.Limits.MaxTunnelsPerSource, "max-tunnels-per-source", o.Limits.MaxTunnelsPerSource, "maximum concurrent CONNECT tunnels per source workload")
	f.Var((*relayFlag)(&o.Limits.Relay), "relay", `how tunnel bytes move: "copy" (through a 512 KiB buffer while one is free, else splice) or "splice" (never through user space: least CPU per byte); see docs/egress.md`)
	f.IntVar(&o.Limits.CopyBuffers, "relay-copy-buffers", o.Limits.CopyBuffers, "with --relay=copy: buffers of 512 KiB busy tunnels may hold at once, a burst finding none splices (0: one per CPU the gateway may use)")
	return cmd
}

// Complete resolves derived values.
func (o *EgressServeOptions) Complete() error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.LogLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	o.logger = slog.New(slog.NewJSONHandler(o.streams.ErrOut, &slog.HandlerOptions{Level: level}))
	if o.Mode != "" {
		m, err := verdict.ParseMode(o.Mode)
		if err != nil {
			return fmt.Errorf("--mode: %w", err)
		}
		o.mode = &m
	}
	return nil
}

// Validate checks flag combinations.
func (o *EgressServeOptions) Validate() error {
	var errs []error
	if o.Listen == "" || o.AdminListen == "" {
		errs = append(errs, errors.New("--listen and --admin-listen must not be empty"))
	}
	if o.Listen == o.AdminListen {
		errs = append(errs, errors.New("--listen and --admin-listen must differ"))
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	if o.ClientCA != "" && o.TLSCert == "" {
		errs = append(errs, errors.New("--client-ca needs --tls-cert"))
	}
	if o.Kubeconfig != "" && !o.Kube {
		errs = append(errs, errors.New("--kubeconfig needs --kube"))
	}
	if o.WatchInterval < 0 {
		errs = append(errs, errors.New("--watch-interval must not be negative"))
	}
	if o.DNSCacheTTL < 0 {
		errs = append(errs, errors.New("--dns-cache-ttl must not be negative"))
	}
	if err := o.Limits.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// loadPolicy reads the model and compiles it, applying --mode.
func (o *EgressServeOptions) loadPolicy() (*egress.Policy, error) {
	p, err := loadPlatform(o.Platform)
	if err != nil {
		return nil, err
	}
	if !p.Spec.EgressGateway.Enabled {
		o.logger.Warn("egressGateway.enabled is false in the model; serving its allowlist anyway")
	}
	return compileEgressPolicy(p, o.mode)
}

// compileEgressPolicy compiles the gateway's policy from the model; mode,
// when set, overrides the model's egressGateway.mode. serve and check share
// it so check decides with exactly the policy serve would enforce.
func compileEgressPolicy(p *platform.Platform, mode *verdict.Mode) (*egress.Policy, error) {
	spec, err := egress.SpecFromPlatform(p)
	if err != nil {
		return nil, err
	}
	if mode != nil {
		spec.Mode = *mode
	}
	return egress.NewPolicy(spec)
}

// Run serves until ctx ends (SIGTERM or SIGINT), then drains.
func (o *EgressServeOptions) Run(ctx context.Context) error {
	pol, err := o.loadPolicy()
	if err != nil {
		return usageError(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics, err := egress.NewPromMetrics(reg)
	if err != nil {
		return fmt.Errorf("register metrics: %w", err)
	}
	deps := egress.Deps{Logger: o.logger, Audit: o.streams.Out, Metrics: metrics}
	if o.DNSCacheTTL > 0 {
		deps.Resolver = dnscache.New(net.DefaultResolver, o.DNSCacheTTL, dnsCacheEntries)
	}
	var podsSynced func() bool
	if o.Kube {
		idx, err := o.podIndex()
		if err != nil {
			return err
		}
		deps.Pods, podsSynced = idx, idx.Synced
		go func() {
			if err := idx.Run(ctx); err != nil {
				o.logger.Error("pod index stopped", "err", err)
			}
		}()
	}
	srv, err := egress.NewServer(o.Limits, pol, deps)
	if err != nil {
		return usageError(err)
	}
	ln, err := o.listen()
	if err != nil {
		return err
	}
	admin := &http.Server{Handler: egress.AdminHandler(srv, reg, podsSynced), ReadHeaderTimeout: 5 * time.Second}
	adminLn, err := net.Listen("tcp", o.AdminListen)
	if err != nil {
		ln.Close()
		return fmt.Errorf("admin listen %s: %w", o.AdminListen, err)
	}
	go func() { _ = admin.Serve(adminLn) }()
	defer admin.Close()
	o.watchReloads(ctx, srv)
	o.logger.Info("egress gateway serving", "listen", ln.Addr().String(), "admin", adminLn.Addr().String(),
		"mode", pol.Mode.String(), "platform", o.platformName())
	err = srv.Serve(ctx, ln)
	o.logger.Info("egress gateway stopped")
	return err
}

func (o *EgressServeOptions) platformName() string {
	if o.Platform == "" {
		return platform.BudFile
	}
	return o.Platform
}

// watchReloads reloads on SIGHUP and, with --platform, when the file changes.
func (o *EgressServeOptions) watchReloads(ctx context.Context, srv *egress.Server) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	reload := func() { _ = srv.Reload(o.loadPolicy) }
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				reload()
			}
		}
	}()
	if o.Platform != "" && o.WatchInterval > 0 {
		go egress.WatchFile(ctx, o.Platform, o.WatchInterval, reload)
	}
}

func (o *EgressServeOptions) listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", o.Listen, err)
	}
	if o.TLSCert == "" {
		return ln, nil
	}
	cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
	if err != nil {
		ln.Close()
		return nil, usageError(fmt.Errorf("load --tls-cert/--tls-key: %w", err))
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if o.ClientCA != "" {
		pem, err := os.ReadFile(o.ClientCA)
		if err != nil {
			ln.Close()
			return nil, usageError(fmt.Errorf("read --client-ca: %w", err))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			ln.Close()
			return nil, usageError(fmt.Errorf("--client-ca %s holds no PEM certificates", o.ClientCA))
		}
		// Callers without a certificate are still served and identified by pod
		// IP or source CIDR; a certificate that is presented must verify.
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	return tls.NewListener(ln, cfg), nil
}

func (o *EgressServeOptions) podIndex() (*identity.PodIndex, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.Kubeconfig
	// With no kubeconfig found this falls back to the in-cluster service account.
	restCfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, usageError(fmt.Errorf("kubernetes client configuration: %w", err))
	}
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return identity.NewPodIndex(client, 10*time.Minute, o.logger), nil
}

// relayFlag is --relay: one of the gateway's relay modes, refused otherwise
// at parse time so the error names the flag.
type relayFlag egress.RelayMode

func (r *relayFlag) String() string { return string(*r) }
func (r *relayFlag) Type() string   { return "copy|splice" }
func (r *relayFlag) Set(v string) error {
	switch m := egress.RelayMode(v); m {
	case egress.RelayCopy, egress.RelaySplice:
		*r = relayFlag(m)
		return nil
	}
	return fmt.Errorf("must be %q or %q", egress.RelayCopy, egress.RelaySplice)
}
