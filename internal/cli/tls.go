package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/budnet/budnet/internal/platform"
	"github.com/budnet/budnet/internal/tlsprobe"
)

// TLSCheckOptions holds the flags and resolved inputs of `budnet tls check`.
type TLSCheckOptions struct {
	Targets              []string
	PlatformFile         string
	CAFile               string
	Output               string
	FailOn               string
	Timeout              time.Duration
	Concurrency          int
	HandshakeConcurrency int
	HTTPPort             int
	Resolve              []string
	MinVersion           string
	Verbose              bool

	streams  Streams
	targets  []tlsprobe.Target
	failOn   tlsprobe.Severity
	roots    *x509.CertPool
	resolve  map[string]string
	platform func(path string) ([]tlsprobe.Target, error)
}

func newTLSCommand(streams Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tls",
		Short: "Verify TLS on live edge and database endpoints",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError(errors.New("tls needs a subcommand: check"))
		},
	}
	cmd.AddCommand(newTLSCheckCommand(streams))
	return cmd
}

func newTLSCheckCommand(streams Streams) *cobra.Command {
	o := &TLSCheckOptions{streams: streams, platform: platformTargets}
	cmd := &cobra.Command{
		Use:   "check [TARGET...]",
		Short: "Connect to endpoints and verify their TLS versions, cipher suites, certificates and protocol guarantees",
		Long: `check connects to each target and proves what it offers: the TLS versions it
accepts (1.0 to 1.3, each tried alone), the TLS 1.2 cipher suites it accepts (each
suite Go implements, offered alone), the negotiated version and suite, the certificate
chain (system roots or --ca), host name, expiry, key and signature.

PostgreSQL targets are reached through SSLRequest, and are also asked for an
unencrypted session without any credential: a server with hostssl-only pg_hba rules
refuses it. HTTPS targets must redirect plain HTTP permanently to https and send HSTS
and the security headers of the guide's edge hardening.

Targets: https://host[:443], postgres://host[:5432], redis://host[:6379] (a TLS port),
clickhouse-https://host[:8443], clickhouse-native://host[:9440], tls://host:port.

Exit status: 0 when no check fails at or above --fail-on, 1 when one does, 2 on
usage or input errors. The JSON schema is documented in docs/tls.md.`,
		Example: `  budnet tls check https://app.bud.example postgres://db.internal:5432
  budnet tls check --ca ca.pem -o json redis://cache.internal:6380
  budnet tls check --platform budnet.yaml --resolve postgres.bud-data.svc.cluster.local:5432:127.0.0.1:15432`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.PlatformFile, "platform", "", "platform model file (or "+platform.BudFile+"): also check every TLS endpoint it names")
	f.StringVar(&o.CAFile, "ca", "", "PEM file of CA certificates to trust instead of the system roots")
	f.StringVarP(&o.Output, "output", "o", "text", "output format: text or json")
	f.StringVar(&o.FailOn, "fail-on", "high", "exit 1 when a check fails at or above this severity: low, medium, high or critical")
	f.DurationVar(&o.Timeout, "timeout", 5*time.Second, "timeout for each dial, handshake and HTTP request")
	f.IntVar(&o.Concurrency, "concurrency", 8, "targets probed at once")
	f.IntVar(&o.HandshakeConcurrency, "handshake-concurrency", 4, "handshakes in flight per target while versions and suites are enumerated")
	f.IntVar(&o.HTTPPort, "http-port", 80, "port where https targets must redirect plain HTTP")
	f.StringArrayVar(&o.Resolve, "resolve", nil, "HOST:PORT:ADDR dials ADDR for HOST:PORT while still verifying the certificate for HOST (repeatable, like curl)")
	f.StringVar(&o.MinVersion, "min-version", "1.2", "lowest TLS version command-line targets may accept: 1.2 or 1.3 (platform targets use spec.tls.minVersion)")
	f.BoolVarP(&o.Verbose, "verbose", "v", false, "log each probe to stderr")
	return cmd
}

// Complete parses targets and reads the files the flags name.
func (o *TLSCheckOptions) Complete(args []string) error {
	o.Targets = args
	minV, ok := map[string]uint16{"1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13}[o.MinVersion]
	if !ok {
		return usageError(fmt.Errorf("--min-version %q: want 1.2 or 1.3", o.MinVersion))
	}
	for _, a := range args {
		t, err := tlsprobe.ParseTarget(a)
		if err != nil {
			return usageError(err)
		}
		t.Source = "command line"
		t.MinVersion = minV
		o.targets = append(o.targets, t)
	}
	if o.PlatformFile != "" {
		ts, err := o.platform(o.PlatformFile)
		if err != nil {
			return usageError(err)
		}
		o.targets = append(o.targets, ts...)
	}
	sev, err := tlsprobe.ParseSeverity(o.FailOn)
	if err != nil || sev == tlsprobe.SeverityInfo {
		return usageError(fmt.Errorf("--fail-on %q: want low, medium, high or critical", o.FailOn))
	}
	o.failOn = sev
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return usageError(fmt.Errorf("read --ca: %w", err))
		}
		o.roots = x509.NewCertPool()
		if !o.roots.AppendCertsFromPEM(pem) {
			return usageError(fmt.Errorf("--ca %s: no PEM certificates found", o.CAFile))
		}
	}
	o.resolve = map[string]string{}
	for _, r := range o.Resolve {
		from, to, err := parseResolve(r)
		if err != nil {
			return usageError(err)
		}
		o.resolve[from] = to
	}
	return nil
}

// parseResolve turns curl's HOST:PORT:ADDR into "host:port" -> "addr:port".
func parseResolve(s string) (string, string, error) {
	host, rest, ok := strings.Cut(s, ":")
	port, addr, ok2 := strings.Cut(rest, ":")
	addr = strings.Trim(addr, "[]")
	if !ok || !ok2 || host == "" || port == "" || net.ParseIP(addr) == nil {
		return "", "", fmt.Errorf("--resolve %q: want HOST:PORT:ADDR with an IP address", s)
	}
	return net.JoinHostPort(host, port), net.JoinHostPort(addr, port), nil
}

// Validate checks flag values that need no I/O.
func (o *TLSCheckOptions) Validate() error {
	var errs []error
	if len(o.targets) == 0 {
		errs = append(errs, errors.New("no targets: name at least one TARGET or --platform FILE"))
	}
	if o.Output != "text" && o.Output != "json" {
		errs = append(errs, fmt.Errorf("unknown output format %q (want text or json)", o.Output))
	}
	if o.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("--timeout %v must be positive", o.Timeout))
	}
	if o.Concurrency < 1 || o.HandshakeConcurrency < 1 {
		errs = append(errs, errors.New("--concurrency and --handshake-concurrency must be at least 1"))
	}
	if o.HTTPPort < 1 || o.HTTPPort > 65535 {
		errs = append(errs, fmt.Errorf("--http-port %d is not in 1-65535", o.HTTPPort))
	}
	if err := errors.Join(errs...); err != nil {
		return usageError(err)
	}
	return nil
}

// Run probes every target, writes the report and turns failing checks into exit 1.
func (o *TLSCheckOptions) Run(ctx context.Context) error {
	level := slog.LevelWarn
	if o.Verbose {
		level = slog.LevelDebug
	}
	p, err := tlsprobe.New(tlsprobe.Options{
		Timeout:              o.Timeout,
		Concurrency:          o.Concurrency,
		HandshakeConcurrency: o.HandshakeConcurrency,
		RootCAs:              o.roots,
		HTTPPort:             o.HTTPPort,
		Resolve:              o.resolve,
		Logger:               slog.New(slog.NewTextHandler(o.streams.ErrOut, &slog.HandlerOptions{Level: level})),
	})
	if err != nil {
		return usageError(err)
	}
	report := tlsprobe.NewReport(p.CheckAll(ctx, o.targets), o.failOn, time.Now())
	write := tlsprobe.WriteText
	if o.Output == "json" {
		write = tlsprobe.WriteJSON
	}
	if err := write(o.streams.Out, report); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return &ExitError{Code: ExitFindings, Err: fmt.Errorf("tls check interrupted: %w", err)}
	}
	if n := report.Summary.Failing; n > 0 {
		return &ExitError{Code: ExitFindings, Err: fmt.Errorf("%d check(s) failed at or above %s", n, o.failOn)}
	}
	return nil
}

// platformTargets loads the platform model at path (platform.BudFile names the
// embedded Bud reference) and lists the TLS endpoints it names.
func platformTargets(path string) ([]tlsprobe.Target, error) {
	var (
		p   *platform.Platform
		err error
	)
	if path == platform.BudFile {
		p, err = platform.Default()
	} else {
		p, err = platform.Load(path)
	}
	if err != nil {
		return nil, err
	}
	targets := tlsprobe.TargetsFromPlatform(p)
	if len(targets) == 0 {
		return nil, fmt.Errorf("platform %s names no TLS endpoints (edge hosts, or workload ports with tls: true)", path)
	}
	return targets, nil
}
