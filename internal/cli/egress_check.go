package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/budnet/budnet/internal/egress"
	"github.com/budnet/budnet/internal/egress/identity"
	"github.com/budnet/budnet/internal/egress/verdict"
)

// EgressCheckOptions holds the flags of `budnet egress check`.
type EgressCheckOptions struct {
	Platform    string
	Source      string
	Mode        string
	Resolve     bool
	DNSServer   string
	DialTimeout time.Duration
	Output      string
	Targets     []string

	streams Streams
	mode    *verdict.Mode
}

func newEgressCheckCommand(streams Streams) *cobra.Command {
	o := &EgressCheckOptions{streams: streams}
	cmd := &cobra.Command{
		Use:   "check --source WORKLOAD TARGET...",
		Short: "Say what the gateway would decide for requests, without running it",
		Long: `Check decides requests the way 'egress serve' would with the same platform model:
the caller's allowlist, and with --resolve the address guard on what the names resolve
to (IP literals are always checked). A TARGET is host:port as in CONNECT, or an
http:// or https:// URL (ports 80 and 443 by default). It exits 0 when every request
would be allowed, 1 when any would be denied (or only let through by report mode),
and 2 for a usage error.`,
		Example: `  # Before a rollout: may budgateway reach the providers it calls?
  budnet egress check --source budgateway api.openai.com:443 https://api.anthropic.com

  # Also resolve the names and apply the address guard, as the gateway would
  budnet egress check --source budcluster --resolve https://sts.amazonaws.com -o json

  # ... asking the cluster DNS (from a pod or node that reaches it)
  budnet egress check --source budgateway --resolve --dns-server 10.96.0.10:53 api.openai.com:443`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Targets = args
			if err := o.Validate(); err != nil {
				return usageError(err)
			}
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Platform, "platform", "", "platform file (default: the embedded Bud AI Foundry model)")
	f.StringVar(&o.Source, "source", "", "the calling workload, as the model names it (required)")
	f.StringVar(&o.Mode, "mode", "", "enforce or report (default: the model's egressGateway.mode)")
	f.BoolVar(&o.Resolve, "resolve", false, "resolve host names with the system resolver and check the addresses")
	f.StringVar(&o.DNSServer, "dns-server", "", "with --resolve, ask this DNS server (host:port, e.g. the cluster DNS through a port-forward) instead of the system's")
	f.DurationVar(&o.DialTimeout, "resolve-timeout", 10*time.Second, "time allowed for each name's resolution with --resolve")
	f.StringVarP(&o.Output, "output", "o", "text", "output format: text, json")
	return cmd
}

// Validate checks the flags.
func (o *EgressCheckOptions) Validate() error {
	var errs []error
	if o.Source == "" {
		errs = append(errs, errors.New("--source is required"))
	}
	if o.Output != "text" && o.Output != "json" {
		errs = append(errs, fmt.Errorf("-o %q: want text or json", o.Output))
	}
	if o.Mode != "" {
		m, err := verdict.ParseMode(o.Mode)
		if err != nil {
			errs = append(errs, fmt.Errorf("--mode: %w", err))
		}
		o.mode = &m
	}
	if o.DNSServer != "" {
		if !o.Resolve {
			errs = append(errs, errors.New("--dns-server needs --resolve"))
		}
		if _, _, err := net.SplitHostPort(o.DNSServer); err != nil {
			errs = append(errs, fmt.Errorf("--dns-server %q: want host:port", o.DNSServer))
		}
	}
	if o.DialTimeout <= 0 {
		errs = append(errs, errors.New("--resolve-timeout must be positive"))
	}
	return errors.Join(errs...)
}

// checkResult is one line of the output; the keys are the audit line's.
type checkResult struct {
	Target      string `json:"target"`
	Requested   string `json:"requested"`
	Decision    string `json:"decision"`
	Reason      string `json:"reason"`
	Rule        string `json:"rule,omitempty"`
	Destination string `json:"destination,omitempty"`
	Resolved    string `json:"resolved,omitempty"`
	Detail      string `json:"detail,omitempty"`
	// Unresolved: a host name checked against the allowlist only (no --resolve).
	Unresolved bool `json:"unresolved,omitempty"`
}

// Run decides every target and prints the results.
func (o *EgressCheckOptions) Run(ctx context.Context) error {
	p, err := loadPlatform(o.Platform)
	if err != nil {
		return usageError(err)
	}
	if _, ok := p.Workload(o.Source); !ok {
		return usageError(fmt.Errorf("--source %q: no such workload in the model", o.Source))
	}
	pol, err := compileEgressPolicy(p, o.mode)
	if err != nil {
		return usageError(err)
	}
	var resolver egress.Resolver
	switch {
	case o.DNSServer != "":
		resolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, o.DNSServer)
		}}
	case o.Resolve:
		resolver = net.DefaultResolver
	}
	id := identity.Identity{Workload: o.Source}
	results := make([]checkResult, 0, len(o.Targets))
	allowed := true
	for _, t := range o.Targets {
		authority, err := authorityOf(t)
		if err != nil {
			return usageError(err)
		}
		d := egress.Decide(ctx, pol, resolver, o.DialTimeout, id, authority)
		allowed = allowed && d.Decision == verdict.Allow
		r := checkResult{Target: t, Requested: authority, Decision: d.Decision.String(), Reason: d.Reason.String(),
			Rule: d.Rule, Destination: d.Destination, Detail: d.Detail, Unresolved: d.Unresolved}
		if d.Resolved.IsValid() {
			r.Resolved = d.Resolved.String()
		}
		results = append(results, r)
	}
	if err := o.print(results); err != nil {
		return err
	}
	if !allowed {
		return &ExitError{Code: ExitFindings}
	}
	return nil
}

func (o *EgressCheckOptions) print(results []checkResult) error {
	if o.Output == "json" {
		enc := json.NewEncoder(o.streams.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Source  string        `json:"source"`
			Results []checkResult `json:"results"`
		}{o.Source, results})
	}
	tw := tabwriter.NewWriter(o.streams.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DECISION\tSOURCE\tREQUESTED\tREASON\tRULE\tMATCHED\tADDRESS")
	for _, r := range results {
		addr := r.Resolved
		if r.Unresolved {
			addr = "(not resolved)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", strings.ToUpper(r.Decision), o.Source, r.Requested, r.Reason,
			dash(r.Rule), dash(r.Destination), dash(addr))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range results {
		if r.Detail != "" {
			fmt.Fprintf(o.streams.Out, "%s: %s\n", r.Requested, r.Detail)
		}
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// authorityOf turns a TARGET into the host:port a CONNECT or an absolute-form
// request would name.
func authorityOf(t string) (string, error) {
	if !strings.Contains(t, "://") {
		if _, _, err := net.SplitHostPort(t); err != nil {
			return "", fmt.Errorf("target %q: want host:port or an http:// or https:// URL", t)
		}
		return t, nil
	}
	u, err := url.Parse(t)
	if err != nil {
		return "", fmt.Errorf("target %q: %w", t, err)
	}
	port := u.Port()
	switch strings.ToLower(u.Scheme) {
	case "http":
		if port == "" {
			port = "80"
		}
	case "https":
		if port == "" {
			port = "443"
		}
	default:
		return "", fmt.Errorf("target %q: scheme %q: want http or https", t, u.Scheme)
	}
	if u.Hostname() == "" {
		return "", fmt.Errorf("target %q: no host", t)
	}
	if u.User != nil {
		return "", fmt.Errorf("target %q: userinfo is refused by the gateway", t)
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}
