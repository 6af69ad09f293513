package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/budnet/budnet/internal/diag"
	"github.com/budnet/budnet/internal/platform"
)

// newPlatformCommand builds `budnet platform`: show the embedded Bud model,
// validate users' platform files.
func newPlatformCommand(streams Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "platform",
		Short: "Show the embedded Bud AI Foundry platform model or validate platform files",
		Long: `A platform file (apiVersion budnet.io/v1alpha1, kind Platform) is budnet's model of
intent: zones, workloads, the intended flows of guide section 4, and the TLS, mesh, edge
and egress settings every other command reads. Without --platform FILE, commands use the
embedded Bud AI Foundry reference model. See docs/platform.md; editors can validate files
with docs/platform.schema.json.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newPlatformShowCommand(streams), newPlatformValidateCommand(streams), newPlatformInferCommand(streams))
	return cmd
}

// PlatformShowOptions are the flags of `budnet platform show`.
type PlatformShowOptions struct {
	Output  string
	streams Streams
}

func newPlatformShowCommand(streams Streams) *cobra.Command {
	o := &PlatformShowOptions{streams: streams}
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Print the embedded Bud AI Foundry reference platform",
		Long: `Print the embedded Bud AI Foundry reference platform. -o yaml prints the file as
shipped, comments and correction notes included: a starting point for your own
platform file. -o json prints the model after defaults are applied, as commands see it.`,
		Example: `  budnet platform show > my-platform.yaml
  budnet platform show -o json | jq '.spec.flows.internal[].name'`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := o.Validate(); err != nil {
				return usageError(err)
			}
			return o.Run()
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "yaml", "output format: yaml or json")
	return cmd
}

// Validate checks the flags.
func (o *PlatformShowOptions) Validate() error {
	switch o.Output {
	case "yaml", "json":
		return nil
	}
	return fmt.Errorf("unknown output format %q for platform show (want yaml or json)", o.Output)
}

// Run prints the model.
func (o *PlatformShowOptions) Run() error {
	if o.Output == "yaml" {
		_, err := o.streams.Out.Write(platform.BudYAML())
		return err
	}
	p, err := platform.Default()
	if err != nil {
		return err
	}
	enc := json.NewEncoder(o.streams.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

// PlatformValidateOptions are the arguments of `budnet platform validate`.
type PlatformValidateOptions struct {
	Files   []string
	streams Streams
}

func newPlatformValidateCommand(streams Streams) *cobra.Command {
	o := &PlatformValidateOptions{streams: streams}
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check platform files and print every problem as file:line: field: message",
		Long: `Check platform files: YAML syntax, unknown fields, types, references between zones,
workloads, ports and source groups, CIDRs, host patterns, and the settings' allowed
values. Every problem is printed as file:line: field: message. Exit code 0 when every file
is valid, 2 when any has a problem. "-" reads a file from standard input.`,
		Example: `  budnet platform validate my-platform.yaml
  budnet platform show | budnet platform validate -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			o.Files = args
			return o.Run()
		},
	}
	return cmd
}

// stdinName is how a platform read from standard input is named in problems.
const stdinName = "<stdin>"

// Run validates every file, printing each problem on its own line.
func (o *PlatformValidateOptions) Run() error {
	problems, bad := 0, 0
	for _, f := range o.Files {
		err := o.validate(f)
		if err == nil {
			continue
		}
		bad++
		for _, e := range platform.Problems(err) {
			problems++
			fmt.Fprintln(o.streams.Out, e)
		}
	}
	if bad > 0 {
		return usageError(fmt.Errorf("%d problem(s) in %d of %d platform file(s)", problems, bad, len(o.Files)))
	}
	noun := "file"
	if len(o.Files) > 1 {
		noun = "files"
	}
	fmt.Fprintf(o.streams.Out, "OK: %s: valid platform %s\n", strings.Join(o.displayNames(), ", "), noun)
	return nil
}

func (o *PlatformValidateOptions) validate(file string) error {
	if file != "-" {
		_, err := platform.Load(file)
		return err
	}
	data, err := io.ReadAll(io.LimitReader(o.streams.In, 8<<20+1))
	if err != nil {
		return &diag.InputError{File: stdinName, Msg: "cannot read standard input", Err: err}
	}
	if len(data) > 8<<20 {
		return diag.Errorf(stdinName, 0, "", "input is larger than the 8 MiB a platform file may have")
	}
	_, err = platform.Parse(stdinName, data)
	return err
}

func (o *PlatformValidateOptions) displayNames() []string {
	out := make([]string, len(o.Files))
	for i, f := range o.Files {
		if f == "-" {
			f = stdinName
		}
		out[i] = f
	}
	return out
}
