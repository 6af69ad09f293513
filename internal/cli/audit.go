package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"budnet/internal/audit"
	"budnet/internal/manifest"
	"budnet/internal/report"
)

// auditFormats are the -o values audit accepts.
var auditFormats = []string{"text", "json", "sarif", "markdown", "junit", "html"}

// defaultFailOn is --fail-on's default: high and critical gaps (no default
// deny, plaintext database connections, mTLS off) fail a pipeline; medium and
// low ones are reported without failing it.
const defaultFailOn = "high"

// auditOptions hold `budnet audit`'s flags and what Complete resolves from them.
type auditOptions struct {
	streams Streams
	input   inputOptions

	Chart       string
	Values      []string
	Set         []string
	ReleaseName string

	Cluster       bool
	Kubeconfig    string
	Context       string
	AllNamespaces bool

	PlatformFile string
	Output       string
	FailOn       string
	Verbose      bool

	failOn audit.Severity
	// isTerminal reports whether w is a terminal (colour, progress); tests replace it.
	isTerminal func(w io.Writer) bool
}

func newAuditCommand(streams Streams) *cobra.Command {
	o := &auditOptions{streams: streams, isTerminal: isTerminal}
	cmd := &cobra.Command{
		Use:   "audit (-f FILE|DIR|- ... | --example | --chart DIR|TGZ | --cluster) [-o FORMAT] [--fail-on SEVERITY]",
		Short: "Compute the guide's hardening checklist from manifests, a Helm chart or a live cluster",
		Long: `audit runs every check of the guide's hardening checklist (section 11) against what is
deployed: manifests (-f), the embedded unhardened Bud deployment (--example), a Helm chart
rendered in-process as 'helm template' would (--chart), or a live cluster read through its
API (--cluster, read-only). Checks judge the objects against the platform model (the
embedded Bud reference, or --platform FILE). docs/audit.md documents inputs, formats,
suppression and exit codes; docs/checks.md lists every check.

Exit codes: 0 when no unsuppressed finding at or above --fail-on fails, 1 when one does,
2 for usage and input errors.`,
		Example: `  budnet audit --example
  budnet audit -f manifests/ -o sarif > budnet.sarif
  budnet audit --chart ./charts/bud --values prod.yaml -n bud-system -o markdown
  budnet audit --cluster --context prod --fail-on critical`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return usageError(err)
			}
			return o.run(cmd.Context())
		},
	}
	o.input.addFlags(cmd.Flags())
	fs := cmd.Flags()
	fs.StringVar(&o.Chart, "chart", "", "render this Helm chart (directory or .tgz) in-process and audit its objects")
	fs.StringArrayVar(&o.Values, "values", nil, "with --chart: values file, repeatable (later files win)")
	fs.StringArrayVar(&o.Set, "set", nil, "with --chart: set a value (key=value, Helm syntax), repeatable")
	fs.StringVar(&o.ReleaseName, "release-name", "", `with --chart: release name (default "release-name", as helm template)`)
	fs.BoolVar(&o.Cluster, "cluster", false, "read the objects from a live cluster (read-only: discovery and list)")
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "", "with --cluster: kubeconfig file (default $KUBECONFIG or ~/.kube/config)")
	fs.StringVar(&o.Context, "context", "", "with --cluster: kubeconfig context (default the current one)")
	fs.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "with --cluster: read every namespace (the default without -n)")
	fs.StringVar(&o.PlatformFile, "platform", "", "platform model file (default: the embedded Bud AI Foundry model)")
	fs.StringVarP(&o.Output, "output", "o", "text", "output format: "+strings.Join(auditFormats, ", "))
	fs.StringVar(&o.FailOn, "fail-on", defaultFailOn, "exit 1 when a finding of this severity or above fails: low, medium, high or critical")
	fs.BoolVarP(&o.Verbose, "verbose", "v", false, "with -o text: list passing findings too")
	return cmd
}

func (o *auditOptions) validate() error {
	var sources []string
	if o.input.Example {
		sources = append(sources, "--example")
	}
	if len(o.input.Files) > 0 {
		sources = append(sources, "-f")
	}
	if o.Chart != "" {
		sources = append(sources, "--chart")
	}
	if o.Cluster {
		sources = append(sources, "--cluster")
	}
	switch {
	case len(sources) == 0:
		return errors.New("no input: give -f FILE|DIR|- (repeatable), --example, --chart DIR|TGZ or --cluster")
	case len(sources) > 1:
		return fmt.Errorf("%s are mutually exclusive: audit one input at a time", strings.Join(sources, " and "))
	}
	if o.Chart == "" && (len(o.Values) > 0 || len(o.Set) > 0 || o.ReleaseName != "") {
		return errors.New("--values, --set and --release-name need --chart")
	}
	if !o.Cluster && (o.Kubeconfig != "" || o.Context != "" || o.AllNamespaces) {
		return errors.New("--kubeconfig, --context and -A need --cluster")
	}
	if o.AllNamespaces && o.input.Namespace != "" {
		return errors.New("-A and -n are mutually exclusive")
	}
	if err := o.input.complete(); err != nil {
		return err
	}
	if !slices.Contains(auditFormats, o.Output) {
		return fmt.Errorf("unknown output format %q for audit (want %s)", o.Output, strings.Join(auditFormats, ", "))
	}
	sev, err := audit.ParseSeverity(o.FailOn)
	if err != nil || sev == audit.SeverityInfo {
		return fmt.Errorf("--fail-on %q: want low, medium, high or critical", o.FailOn)
	}
	o.failOn = sev
	return nil
}

func (o *auditOptions) run(ctx context.Context) error {
	model, err := loadPlatform(o.PlatformFile)
	if err != nil {
		return usageError(err)
	}
	c := &audit.Context{Platform: model}
	var inputs []string
	c.Inventory, c.Source, inputs, err = o.load(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return usageError(err)
	}
	r := audit.Run(c, audit.Checks())
	r.Inputs, r.FailOn = inputs, o.failOn
	if err := o.write(r, c); err != nil {
		return err
	}
	if audit.ExitCode(r.Findings, o.failOn) != 0 {
		return &ExitError{Code: ExitFindings}
	}
	return nil
}

// load reads the inventory from the one input given, and says what it was.
func (o *auditOptions) load(ctx context.Context) (*manifest.Inventory, string, []string, error) {
	logger := newLogger(o.streams)
	opts := o.input.options(o.streams, logger)
	switch {
	case o.Chart != "":
		inv, err := manifest.LoadChart(ctx, manifest.ChartOptions{
			Path: o.Chart, ValueFiles: o.Values, Set: o.Set, ReleaseName: o.ReleaseName,
		}, opts)
		return inv, "chart", []string{o.Chart}, o.input.explain(err)
	case o.Cluster:
		copts := manifest.ClusterOptions{Kubeconfig: o.Kubeconfig, Context: o.Context, Namespace: o.input.Namespace}
		if o.isTerminal(o.streams.ErrOut) {
			copts.Progress = o.streams.ErrOut
		}
		// Objects from a cluster all name their namespace; no default applies.
		opts.DefaultNamespace = ""
		inv, err := manifest.LoadCluster(ctx, copts, opts)
		name := "cluster"
		if o.Context != "" {
			name += " (context " + o.Context + ")"
		}
		return inv, "cluster", []string{name}, err
	case o.input.Example:
		inv, err := o.input.load(ctx, o.streams, logger)
		return inv, "example", o.input.names(), err
	}
	inv, err := o.input.load(ctx, o.streams, logger)
	return inv, "files", o.input.names(), err
}

func (o *auditOptions) write(r *audit.Report, c *audit.Context) error {
	w := o.streams.Out
	switch o.Output {
	case "html":
		return report.WriteAuditHTML(w, r, auditConnectivity(c), report.HTMLOptions{Version: BuildVersion().Version})
	case "json":
		return report.WriteAuditJSON(w, r)
	case "sarif":
		wd, _ := os.Getwd() // URIs relative to it; absolute file URIs without it
		return report.WriteAuditSARIF(w, r, report.SARIFOptions{
			Version: BuildVersion().Version, Locate: report.NewLocator(c.Inventory, c.Platform), BaseDir: wd, Warn: o.streams.ErrOut,
		})
	case "markdown":
		return report.WriteAuditMarkdown(w, r)
	case "junit":
		return report.WriteAuditJUnit(w, r)
	}
	color := o.isTerminal(w) && os.Getenv("NO_COLOR") == ""
	return report.WriteAuditText(w, r, report.AuditTextOptions{Color: color, Verbose: o.Verbose})
}

// isTerminal reports whether w is a terminal: colour and progress are for
// people, not for files and pipes.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// auditConnectivity is the matrix the checks already computed (Context.Reach
// caches it), for the HTML report's heat map.
func auditConnectivity(c *audit.Context) *report.HTMLConnectivity {
	v := c.Reach()
	if v.Err != nil {
		return &report.HTMLConnectivity{Err: v.Err}
	}
	return &report.HTMLConnectivity{Connections: v.Matrix.Each, Workloads: v.Matrix.Names(), Diff: v.Diff}
}
