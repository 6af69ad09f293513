package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/budnet/budnet/internal/diag"
	"github.com/budnet/budnet/internal/infer"
	"github.com/budnet/budnet/internal/platform"
)

// PlatformInferOptions are the flags of `budnet platform infer`.
type PlatformInferOptions struct {
	streams Streams
	source  sourceOptions

	Name             string
	PlatformFile     string
	Zones            string
	EgressLogs       []string
	HubbleFiles      []string
	Output           string
	FailOnUnresolved bool
}

func newPlatformInferCommand(streams Streams) *cobra.Command {
	o := &PlatformInferOptions{streams: streams, source: sourceOptions{isTerminal: isTerminal}}
	cmd := &cobra.Command{
		Use:   "infer (-f FILE|DIR|- ... | --example | --chart DIR|TGZ | --cluster) [-o yaml|json]",
		Short: "Infer a platform model from manifests, a Helm chart or a live cluster",
		Long: `infer proposes the platform model of a deployment from its objects: a workload per
Deployment, StatefulSet, DaemonSet, Job or Pod (labels that select exactly it, ports, Dapr
app id, ServiceAccount, role), a zone per namespace, and the flows its configuration names:
env, envFrom and mounted ConfigMaps and Secrets (URLs, DSNs, host:port, *_HOST with *_PORT,
*_APP_ID), Dapr Components and HTTPEndpoints, Ingress, IngressRoute and HTTPRoute backends,
published Services and the Dapr control plane. Every workload and flow carries its evidence
(file:line: field) in its note; what could not be resolved is listed in the output's header
and in the annotation budnet.io/unresolved. The model validates with 'budnet platform
validate' and feeds 'budnet generate --platform'. See docs/infer.md.

Exit codes: 0, 1 with --fail-on-unresolved when something is unresolved, 2 for usage and
input errors.`,
		Example: `  budnet platform infer --chart ./charts/bud --values prod.yaml -n bud > inferred.yaml
  budnet platform infer -f manifests/ -o json
  budnet platform infer --cluster --context prod --fail-on-unresolved`,
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
	fs := cmd.Flags()
	o.source.addFlags(fs, "infer from")
	fs.StringVar(&o.PlatformFile, "platform", "", "start from this platform model and add only what it lacks; the additions are printed to standard error")
	fs.StringArrayVar(&o.EgressLogs, "from-egress-log", nil, "add the connections in this egress gateway audit log (report mode shows what enforce would deny); repeatable")
	fs.StringArrayVar(&o.HubbleFiles, "from-hubble", nil, "add the connections in this Hubble flow export (hubble observe -o jsonpb); repeatable")
	fs.StringVar(&o.Zones, "zones", infer.ZonesNamespaces, "namespaces (a zone per namespace) or guide (the guide's six zones by role, for a re-layout)")
	fs.StringVar(&o.Name, "name", "", `metadata.name of the inferred platform (default "inferred")`)
	fs.StringVarP(&o.Output, "output", "o", "yaml", "output format: yaml or json")
	fs.BoolVar(&o.FailOnUnresolved, "fail-on-unresolved", false, "exit 1 when any reference could not be resolved (for CI)")
	return cmd
}

// Complete fills defaults.
func (o *PlatformInferOptions) Complete() error {
	if o.Name == "" {
		o.Name = "inferred"
	}
	return nil
}

// Validate checks the flags.
func (o *PlatformInferOptions) Validate() error {
	if err := o.source.validate("infer from"); err != nil {
		return err
	}
	if o.Zones != infer.ZonesNamespaces && o.Zones != infer.ZonesGuide {
		return fmt.Errorf("--zones %q: want namespaces or guide", o.Zones)
	}
	if o.Zones == infer.ZonesGuide && o.PlatformFile != "" {
		return errors.New("--zones guide and --platform are mutually exclusive: the base model has its own zones")
	}
	if o.Output != "yaml" && o.Output != "json" {
		return fmt.Errorf("unknown output format %q for platform infer (want yaml or json)", o.Output)
	}
	return nil
}

// Run loads the input, infers the model, checks that it validates and writes it.
func (o *PlatformInferOptions) Run(ctx context.Context) error {
	inv, _, _, err := o.source.load(ctx, o.streams)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return usageError(err)
	}
	opts := infer.Options{Name: o.Name, Zones: o.Zones}
	if o.PlatformFile != "" {
		if opts.Base, err = platform.Load(o.PlatformFile); err != nil {
			return usageError(err)
		}
	}
	if opts.Observed, err = o.observations(); err != nil {
		return usageError(err)
	}
	res, err := infer.Infer(inv, opts)
	if err != nil {
		return usageError(err)
	}
	for _, c := range res.Changes {
		fmt.Fprintln(o.streams.ErrOut, "Changed: "+c)
	}
	var out []byte
	if o.Output == "json" {
		out, err = res.JSON()
	} else {
		out, err = res.YAML()
	}
	if err != nil {
		return err
	}
	// The model must be one validate accepts; a failure here is a bug of
	// infer, reported rather than written out.
	if _, err := platform.Parse("inferred", out); err != nil {
		return fmt.Errorf("the inferred model does not validate (a budnet bug, please report): %w", err)
	}
	if _, err := o.streams.Out.Write(out); err != nil {
		return err
	}
	if len(res.Unresolved) > 0 {
		fmt.Fprintf(o.streams.ErrOut, "Warning: %d reference(s) unresolved; listed in the output's header and in metadata.annotations[%s]\n", len(res.Unresolved), infer.UnresolvedAnnotation)
		if o.FailOnUnresolved {
			return &ExitError{Code: ExitFindings}
		}
	}
	return nil
}

// observations reads the --from-egress-log and --from-hubble files.
func (o *PlatformInferOptions) observations() ([]infer.Observation, error) {
	var out []infer.Observation
	read := func(files []string, parse func(string, io.Reader) ([]infer.Observation, error)) error {
		for _, name := range files {
			f, err := os.Open(name)
			if err != nil {
				return &diag.InputError{File: name, Msg: "cannot read observations", Err: err}
			}
			obs, err := parse(name, f)
			f.Close()
			if err != nil {
				return err
			}
			out = append(out, obs...)
		}
		return nil
	}
	if err := read(o.EgressLogs, infer.ParseEgressLog); err != nil {
		return nil, err
	}
	if err := read(o.HubbleFiles, infer.ParseHubble); err != nil {
		return nil, err
	}
	return out, nil
}
