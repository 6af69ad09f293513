package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/budnet/budnet/internal/audit"
	"github.com/budnet/budnet/internal/report"
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
	source  sourceOptions

	PlatformFile string
	Output       string
	FailOn       string
	Verbose      bool
	Baseline     string

	failOn audit.Severity
	// now is the clock suppressions' until: dates are judged against;
	// tests fix it.
	now func() time.Time
	// isTerminal reports whether w is a terminal (colour, progress); tests replace it.
	isTerminal func(w io.Writer) bool
}

func newAuditCommand(streams Streams) *cobra.Command {
	return newAuditCommandWith(&auditOptions{streams: streams, isTerminal: isTerminal, now: time.Now})
}

// newAuditCommandWith builds the command around o, whose clock and terminal
// test tests may set.
func newAuditCommandWith(o *auditOptions) *cobra.Command {
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
  budnet audit --cluster --context prod --fail-on critical
  budnet audit -f manifests/ --baseline audit-main.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return usageError(err)
			}
			return o.run(cmd.Context())
		},
	}
	fs := cmd.Flags()
	o.source.addFlags(fs, "audit")
	fs.StringVar(&o.PlatformFile, "platform", "", "platform model file (default: the embedded Bud AI Foundry model)")
	fs.StringVarP(&o.Output, "output", "o", "text", "output format: "+strings.Join(auditFormats, ", "))
	fs.StringVar(&o.FailOn, "fail-on", defaultFailOn, "exit 1 when a finding of this severity or above fails: low, medium, high or critical")
	fs.BoolVarP(&o.Verbose, "verbose", "v", false, "with -o text: list passing findings too")
	fs.StringVar(&o.Baseline, "baseline", "", "an earlier audit -o json (FILE): fail only on findings it does not hold, and list the ones it holds that no longer fail")
	return cmd
}

func (o *auditOptions) validate() error {
	o.source.isTerminal = o.isTerminal
	if err := o.source.validate("audit"); err != nil {
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
	var baseline []audit.Finding
	if o.Baseline != "" {
		data, err := os.ReadFile(o.Baseline)
		if err != nil {
			return usageError(fmt.Errorf("--baseline: %w", err))
		}
		if baseline, err = report.ReadAuditJSON(o.Baseline, data); err != nil {
			return usageError(fmt.Errorf("--baseline: %w", err))
		}
	}
	c := &audit.Context{Platform: model, Now: o.now()}
	var inputs []string
	c.Inventory, c.Source, inputs, err = o.source.load(ctx, o.streams)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return usageError(err)
	}
	if err := audit.ValidateSuppressions(c); err != nil {
		return usageError(err)
	}
	r := audit.Run(c, audit.Checks())
	r.Inputs, r.FailOn = inputs, o.failOn
	if o.Baseline != "" {
		audit.ApplyBaseline(r, o.Baseline, baseline)
	}
	if err := o.write(r, c); err != nil {
		return err
	}
	if audit.ExitCode(r.Findings, o.failOn) != 0 {
		return &ExitError{Code: ExitFindings}
	}
	return nil
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
