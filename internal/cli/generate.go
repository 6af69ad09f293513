package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/budnet/budnet/internal/diag"
	"github.com/budnet/budnet/internal/generate"
	"github.com/budnet/budnet/internal/platform"
)

// generateOptions hold `budnet generate`'s flags.
type generateOptions struct {
	streams Streams

	PlatformFile  string
	Output        string
	OutputDir     string
	Edge          string
	CNI           string
	Cloud         string
	CiliumVersion string
	DryRun        bool
	Force         bool
}

func newGenerateCommand(streams Streams) *cobra.Command {
	o := &generateOptions{streams: streams}
	cmd := &cobra.Command{
		Use:   "generate [--platform FILE] [--output-dir DIR | -o yaml|json] [--edge gateway-api|traefik|nginx] [--cni kubernetes|cilium] [--cilium-version VERSION] [--cloud aws|azure] [--dry-run] [--force]",
		Short: "Generate the manifests that implement the Network Security Guide from the platform model",
		Long: `generate turns the platform model (the embedded Bud AI Foundry reference or --platform
FILE) into the objects that implement guide sections 3 to 11: namespaces with Pod Security
Admission, default-deny NetworkPolicies with DNS and one policy per intended flow, egress
to external hosts (ipBlock, Cilium toFQDNs or the egress gateway), and the other concerns.
With --output-dir DIR it writes one file per concern plus kustomization.yaml (kubectl
apply -k DIR); without, the objects to stdout: one multi-document YAML stream (-o yaml,
the default) or one v1 List (-o json). The output is deterministic. docs/generate.md
documents every file.

-o DIR, the directory form of earlier releases, still writes DIR with a deprecation
warning for one release; any -o value other than yaml or json is read that way.`,
		Example: `  budnet generate --output-dir manifests/
  budnet generate --platform my-platform.yaml --cni cilium --output-dir manifests/ --force
  budnet generate --dry-run
  budnet generate | kubectl apply --dry-run=server -f -
  budnet generate -o json | jq '.items[].kind'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := o.validate()
			if err != nil {
				return usageError(err)
			}
			return o.run(opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.PlatformFile, "platform", "", "platform model file (default: the embedded Bud AI Foundry model)")
	fs.StringVarP(&o.Output, "output", "o", generateFormatYAML, "format of the stream to stdout: yaml or json (a directory here is deprecated: use --output-dir)")
	fs.StringVar(&o.OutputDir, "output-dir", "", "write one file per concern and kustomization.yaml to this directory instead of stdout")
	fs.StringVar(&o.Edge, "edge", "", "edge implementation: gateway-api, traefik or nginx (default: the model's edge.kind)")
	fs.StringVar(&o.CNI, "cni", string(generate.CNIKubernetes), "how egress to host names is expressed: kubernetes (ipBlock) or cilium (toFQDNs)")
	fs.StringVar(&o.CiliumVersion, "cilium-version", generate.DefaultCiliumVersion, "Cilium release the CiliumNetworkPolicies target (with --cni cilium): from v1.19 a wildcard host is one \"**.\" pattern, before it one pattern per depth (up to four labels); v1.18 is the oldest accepted")
	fs.StringVar(&o.Cloud, "cloud", "", "cloud perimeter rules: aws or azure (default: the model's cloud.provider)")
	fs.BoolVar(&o.DryRun, "dry-run", false, "print what would be written (files, object counts, kinds) and write nothing")
	fs.BoolVar(&o.Force, "force", false, "write into a non-empty directory, replacing the files budnet generated there")
	return cmd
}

func (o *generateOptions) validate() (generate.Options, error) {
	opts := generate.Options{CNI: generate.CNI(o.CNI), Edge: platform.EdgeKind(o.Edge), Cloud: generate.Cloud(o.Cloud), CiliumVersion: o.CiliumVersion}
	if o.CNI != string(generate.CNIKubernetes) && o.CNI != string(generate.CNICilium) {
		return opts, fmt.Errorf("--cni %q: expected kubernetes or cilium", o.CNI)
	}
	switch opts.Edge {
	case "", platform.EdgeGatewayAPI, platform.EdgeTraefik, platform.EdgeNginx:
	default:
		return opts, fmt.Errorf("--edge %q: expected gateway-api, traefik or nginx", o.Edge)
	}
	switch opts.Cloud {
	case generate.CloudNone, generate.CloudAWS, generate.CloudAzure:
	default:
		return opts, fmt.Errorf("--cloud %q: expected aws or azure", o.Cloud)
	}
	if err := generate.CheckCiliumVersion(o.CiliumVersion); err != nil {
		return opts, fmt.Errorf("--cilium-version: %w", err)
	}
	if err := o.resolveOutput(); err != nil {
		return opts, err
	}
	if o.Force && o.OutputDir == "" {
		return opts, errors.New("--force needs --output-dir DIR")
	}
	return opts, nil
}

// The -o formats of generate's stdout stream.
const (
	generateFormatYAML = "yaml"
	generateFormatJSON = "json"
)

// resolveOutput reads -o as every other command does, a format, and keeps
// the directory form of earlier releases for one release: an -o value that
// is no format is a directory, with a warning on stderr. "-o json" used to
// create ./json/; it is now the JSON stream.
func (o *generateOptions) resolveOutput() error {
	switch o.Output {
	case generateFormatYAML, generateFormatJSON:
		if o.OutputDir != "" && o.Output != generateFormatYAML {
			return fmt.Errorf("-o %s formats the stream to stdout; --output-dir writes YAML files: give one of the two", o.Output)
		}
		return nil
	case "":
		return errors.New("-o \"\": want yaml or json (and --output-dir DIR for a directory)")
	}
	if o.OutputDir != "" {
		return fmt.Errorf("-o %q and --output-dir %q: -o is the stream's format (yaml or json), --output-dir the directory", o.Output, o.OutputDir)
	}
	fmt.Fprintf(o.streams.ErrOut, "Warning: -o DIR is deprecated and will be removed in the next release: use --output-dir %s (-o is now the stream's format, yaml or json)\n", o.Output)
	o.OutputDir, o.Output = o.Output, generateFormatYAML
	return nil
}

func (o *generateOptions) run(opts generate.Options) error {
	model, err := loadPlatform(o.PlatformFile)
	if err != nil {
		return usageError(err)
	}
	files, err := generate.Generate(model, opts)
	if err != nil {
		if diag.IsInput(err) {
			return usageError(err)
		}
		return fmt.Errorf("generating: %w", err)
	}
	// Placeholders still in the model: the output is written (a first run
	// from the reference model is expected to carry them), and each is
	// named on stderr, with --dry-run too, so none is applied unnoticed.
	for _, w := range generate.Warnings(model, opts) {
		fmt.Fprintf(o.streams.ErrOut, "Warning: %s\n", w)
	}
	if o.DryRun {
		dest := o.OutputDir
		if dest == "" {
			dest = "stdout"
		}
		return generate.Summary(o.streams.Out, files, dest)
	}
	if o.OutputDir == "" {
		write := generate.WriteStream
		if o.Output == generateFormatJSON {
			write = generate.WriteJSONList
		}
		skipped, err := write(o.streams.Out, files)
		if err != nil {
			return err
		}
		if len(skipped) > 0 {
			fmt.Fprintf(o.streams.ErrOut, "Warning: not Kubernetes objects, left out of the stream (use --output-dir DIR to write them): %s\n", strings.Join(skipped, ", "))
		}
		return nil
	}
	if err := generate.WriteDir(o.OutputDir, files, o.Force); err != nil {
		if diag.IsInput(err) {
			return usageError(err)
		}
		return err
	}
	return nil
}
