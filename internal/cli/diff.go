package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/budnet/budnet/internal/audit"
	"github.com/budnet/budnet/internal/diff"
	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
	"github.com/budnet/budnet/internal/report"
)

// diffFormats are the -o values diff accepts.
var diffFormats = []string{"text", "json", "markdown", "sarif"}

// diffOptions hold `budnet diff`'s flags.
type diffOptions struct {
	streams Streams

	Base, Head                   []string
	BaseChart, HeadChart         string
	BaseValues, HeadValues       []string
	BaseSet, HeadSet             []string
	BaseRef                      string
	ReleaseName                  string
	Namespace, Validate          string
	AllowEmpty                   bool
	PlatformFile, Output, FailOn string

	failOn audit.Severity
	now    func() time.Time
}

func newDiffCommand(streams Streams) *cobra.Command {
	o := &diffOptions{streams: streams, now: time.Now}
	cmd := &cobra.Command{
		Use:   "diff (--base FILE|DIR ... | --base-chart DIR | --base-ref REF) (--head FILE|DIR ... | --head-chart DIR) [-o FORMAT] [--fail-on SEVERITY]",
		Short: "Review a change: the connections and checklist findings it adds, removes and changes",
		Long: `diff compares two versions of a deployment, the base and the head of a change (a pull
request): the connections their NetworkPolicies allow (added, removed, changed, each with
the policies that decide it on both sides and what the platform model intends of it) and
the hardening checklist (new findings, fixed findings). Each side is files and directories
(--base, --head, as audit's -f) or a Helm chart with its own values (--base-chart,
--head-chart); --base-ref REF reads the base from git: the head's paths as they are at REF.
docs/diff.md documents the output.

Exit codes: 1 when the change opens a connection the model does not intend, breaks a flow
it intends, or adds a finding at or above --fail-on; 0 otherwise; 2 for usage and input
errors.`,
		Example: `  budnet diff --base-ref origin/main --head deploy/
  budnet diff --base old/ --head new/ -o markdown > comment.md
  budnet diff --base-chart charts/bud --base-values prod.yaml --head-chart charts/bud --head-values prod-next.yaml
  budnet diff --base-ref main --head-chart charts/bud --head-values prod.yaml -o sarif > new-findings.sarif`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return usageError(err)
			}
			return o.run(cmd.Context())
		},
	}
	fs := cmd.Flags()
	fs.StringArrayVar(&o.Base, "base", nil, "the base: manifest file or directory (recursive), repeatable")
	fs.StringArrayVar(&o.Head, "head", nil, "the head: manifest file or directory (recursive), repeatable")
	fs.StringVar(&o.BaseChart, "base-chart", "", "the base: a Helm chart (directory or .tgz) rendered in-process")
	fs.StringVar(&o.HeadChart, "head-chart", "", "the head: a Helm chart (directory or .tgz) rendered in-process")
	fs.StringArrayVar(&o.BaseValues, "base-values", nil, "with --base-chart or --base-ref: values file of the base, repeatable (default with --base-ref: the head's, as they are at REF)")
	fs.StringArrayVar(&o.HeadValues, "head-values", nil, "with --head-chart: values file of the head, repeatable")
	fs.StringArrayVar(&o.BaseSet, "base-set", nil, "with --base-chart or --base-ref: set a value of the base (key=value), repeatable")
	fs.StringArrayVar(&o.HeadSet, "head-set", nil, "with --head-chart: set a value of the head (key=value), repeatable")
	fs.StringVar(&o.BaseRef, "base-ref", "", "read the base from git: the head's files, directories or chart as they are at this commit, branch or tag")
	fs.StringVar(&o.ReleaseName, "release-name", "", `with charts: release name of both sides (default "release-name", as helm template)`)
	fs.StringVarP(&o.Namespace, "namespace", "n", "", `namespace for objects that name none (default "default", as kubectl)`)
	fs.StringVar(&o.Validate, "validate", "strict", "unknown and duplicate fields: strict, warn or ignore (as audit)")
	fs.Lookup("validate").NoOptDefVal = "strict"
	fs.BoolVar(&o.AllowEmpty, "allow-empty", false, "accept a side with no Kubernetes objects (a deployment added or removed whole)")
	fs.StringVar(&o.PlatformFile, "platform", "", "platform model file (default: the embedded Bud AI Foundry model)")
	fs.StringVarP(&o.Output, "output", "o", "text", "output format: "+strings.Join(diffFormats, ", "))
	fs.StringVar(&o.FailOn, "fail-on", defaultFailOn, "exit 1 when the change adds a finding of this severity or above: low, medium, high or critical")
	return cmd
}

func (o *diffOptions) validate() error {
	base := 0
	for _, set := range []bool{len(o.Base) > 0, o.BaseChart != "", o.BaseRef != ""} {
		if set {
			base++
		}
	}
	switch {
	case base == 0:
		return errors.New("no base: give --base FILE|DIR (repeatable), --base-chart DIR or --base-ref REF")
	case base > 1:
		return errors.New("--base, --base-chart and --base-ref are mutually exclusive")
	case len(o.Head) == 0 && o.HeadChart == "":
		return errors.New("no head: give --head FILE|DIR (repeatable) or --head-chart DIR")
	case len(o.Head) > 0 && o.HeadChart != "":
		return errors.New("--head and --head-chart are mutually exclusive")
	case slices.Contains(o.Base, "-") || slices.Contains(o.Head, "-"):
		return errors.New("diff reads two inputs: stdin (-) cannot be one of them")
	case o.BaseChart == "" && o.BaseRef == "" && (len(o.BaseValues) > 0 || len(o.BaseSet) > 0):
		return errors.New("--base-values and --base-set need --base-chart (or --base-ref with --head-chart)")
	case o.BaseRef != "" && o.HeadChart == "" && (len(o.BaseValues) > 0 || len(o.BaseSet) > 0):
		return errors.New("--base-values and --base-set with --base-ref need --head-chart")
	case o.HeadChart == "" && (len(o.HeadValues) > 0 || len(o.HeadSet) > 0):
		return errors.New("--head-values and --head-set need --head-chart")
	case o.ReleaseName != "" && o.BaseChart == "" && o.HeadChart == "":
		return errors.New("--release-name needs a chart")
	case !slices.Contains(diffFormats, o.Output):
		return fmt.Errorf("unknown output format %q for diff (want %s)", o.Output, strings.Join(diffFormats, ", "))
	}
	sev, err := audit.ParseSeverity(o.FailOn)
	if err != nil || sev == audit.SeverityInfo {
		return fmt.Errorf("--fail-on %q: want low, medium, high or critical", o.FailOn)
	}
	o.failOn = sev
	return nil
}

// side returns the input options of one side, as audit reads them.
func (o *diffOptions) side(files []string, chart string, values, set []string) *sourceOptions {
	return &sourceOptions{
		input: inputOptions{Files: files, Namespace: o.Namespace, Validate: o.Validate, AllowEmpty: o.AllowEmpty},
		Chart: chart, Values: values, Set: set, ReleaseName: o.ReleaseName,
	}
}

func (o *diffOptions) run(ctx context.Context) error {
	model, err := loadPlatform(o.PlatformFile)
	if err != nil {
		return usageError(err)
	}
	head := diffInput{src: o.side(o.Head, o.HeadChart, o.HeadValues, o.HeadSet)}
	base := diffInput{src: o.side(o.Base, o.BaseChart, o.BaseValues, o.BaseSet)}
	if o.BaseRef != "" {
		tree, err := checkoutBase(ctx, gitRequest{ref: o.BaseRef, files: o.Head, chart: o.HeadChart, headValues: o.HeadValues, baseValues: o.BaseValues})
		if err != nil {
			return usageError(fmt.Errorf("--base-ref %s: %w", o.BaseRef, err))
		}
		defer os.RemoveAll(tree.dir)
		for _, m := range tree.missing {
			fmt.Fprintf(o.streams.ErrOut, "Warning: %s does not exist at %s: the base has nothing from it\n", m, o.BaseRef)
		}
		base = diffInput{src: o.side(tree.files, tree.chart, tree.values, o.BaseSet), names: tree.names}
		if tree.chart == "" && len(tree.files) == 0 {
			if !o.AllowEmpty {
				return usageError(fmt.Errorf("--base-ref %s: none of the head's paths exists there (--allow-empty to diff against nothing)", o.BaseRef))
			}
			base = diffInput{names: tree.names}
		}
	}
	now := o.now()
	baseSide, _, err := o.analyse(ctx, "base", base, model, now)
	if err != nil {
		return err
	}
	headSide, headCtx, err := o.analyse(ctx, "head", head, model, now)
	if err != nil {
		return err
	}
	if n := len(model.Spec.Workloads); n > 0 && len(headSide.Reach.Diff.Unmatched) == n {
		return usageError(fmt.Errorf("no workload of the model %q matches a workload of the head: the change cannot be judged against it (wrong --head, or another model: --platform)", model.Metadata.Name))
	}
	res, err := diff.Compute(baseSide, headSide, diff.Options{FailOn: o.failOn})
	if err != nil {
		return usageError(err)
	}
	if err := o.write(res, headCtx); err != nil {
		return err
	}
	if len(res.Failures) > 0 {
		return &ExitError{Code: ExitFindings}
	}
	return nil
}

// diffInput is one side to load: its sources (nil for an empty side),
// and the names to report it under when they are not the paths read (a
// git ref's checkout).
type diffInput struct {
	src   *sourceOptions
	names []string
}

// analyse loads one side and audits it: the checklist, and the
// connectivity with the model's comparison the checks computed.
func (o *diffOptions) analyse(ctx context.Context, name string, in diffInput, model *platform.Platform, now time.Time) (diff.Side, *audit.Context, error) {
	c := &audit.Context{Platform: model, Now: now, Source: "files", Inventory: &manifest.Inventory{}}
	var inputs []string
	if in.src != nil {
		if err := in.src.input.complete(); err != nil {
			return diff.Side{}, nil, usageError(fmt.Errorf("%s: %w", name, err))
		}
		inv, source, names, err := in.src.load(ctx, o.streams)
		if err != nil {
			if ctx.Err() != nil {
				return diff.Side{}, nil, err
			}
			return diff.Side{}, nil, usageError(fmt.Errorf("%s: %w", name, err))
		}
		c.Inventory, c.Source, inputs = inv, source, names
	}
	if in.names != nil {
		inputs = in.names
	}
	if err := audit.ValidateSuppressions(c); err != nil {
		return diff.Side{}, nil, usageError(fmt.Errorf("%s: %w", name, err))
	}
	r := audit.Run(c, audit.Checks())
	r.Inputs, r.FailOn = inputs, o.failOn
	v := c.Reach()
	if v.Err != nil {
		return diff.Side{}, nil, usageError(fmt.Errorf("%s: %w", name, v.Err))
	}
	return diff.Side{Inputs: inputs, Reach: v, Audit: r}, c, nil
}

func (o *diffOptions) write(res *diff.Result, head *audit.Context) error {
	w := o.streams.Out
	switch o.Output {
	case "json":
		return report.WriteDiffJSON(w, res)
	case "markdown":
		return report.WriteDiffMarkdown(w, res)
	case "sarif":
		wd, _ := os.Getwd()
		return report.WriteDiffSARIF(w, res, report.SARIFOptions{
			Version: BuildVersion().Version, Locate: report.NewLocator(head.Inventory, head.Platform), BaseDir: wd, Warn: o.streams.ErrOut,
		})
	}
	return report.WriteDiffText(w, res)
}
