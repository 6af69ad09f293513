package cli

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/budnet/budnet/internal/egress/verdict"
	"github.com/budnet/budnet/internal/example"
	"github.com/budnet/budnet/internal/generate"
	"github.com/budnet/budnet/internal/manifest"
	"github.com/budnet/budnet/internal/platform"
	"github.com/budnet/budnet/internal/reach"
	"github.com/budnet/budnet/internal/severity"
)

// Value completion for the shells (cobra's `completion` command writes the
// scripts; they call the hidden `__complete` command, which runs the functions
// registered here). Every flag whose values are a closed set, or names that
// the inputs on the command line define, completes here, registered by flag
// name over the whole command tree so one table covers every command.

// outputFormats are the -o values of each command, by command path below the
// root. A command with an -o flag missing here completes nothing; the tests
// check each command's -o is listed and each value listed is accepted.
var outputFormats = map[string][]string{
	"audit":          auditFormats,
	"reach":          {"text", "json", "html"},
	"platform show":  {"yaml", "json"},
	"platform infer": {"yaml", "json"},
	"egress check":   {"text", "json"},
	"tls check":      {"text", "json"},
	"version":        {"text", "json"},
	"diff":           {"text", "json", "markdown", "sarif"},
	// generate's -o is the stream's format where --output-dir takes the
	// directory (issue 16); before that, -o names a directory.
	"generate": {"yaml", "json"},
}

// dirFlags complete directory names.
var dirFlags = []string{"output-dir"}

// outputIsDir reports whether c's -o names a directory: generate's, while it
// has no --output-dir.
func outputIsDir(c *cobra.Command) bool {
	return commandPath(c) == "generate" && c.Flags().Lookup("output-dir") == nil
}

// severityNames are the --fail-on values of audit and tls check: every
// level that can fail a run (info never does).
func severityNames() []string {
	var out []string
	for l := severity.Low; l <= severity.Critical; l++ {
		out = append(out, l.String())
	}
	return out
}

// enumFlags are the flags with a closed set of values, the same on every
// command that has them. --fail-on differs per command: see failOnValues.
var enumFlags = map[string][]string{
	"edge":              {string(platform.EdgeGatewayAPI), string(platform.EdgeTraefik), string(platform.EdgeNginx)},
	"cni":               {string(generate.CNIKubernetes), string(generate.CNICilium)},
	"cloud":             {string(generate.CloudAWS), string(generate.CloudAzure)},
	"validate":          {"strict", "warn", "ignore"},
	"host-network-pods": {hostNetworkNode, hostNetworkPod},
	"mode":              {verdict.Enforce.String(), verdict.Report.String()},
	"log-level":         {"debug", "info", "warn", "error"},
	"min-version":       {"1.2", "1.3"},
}

// failOnValues are --fail-on's values for the command at path.
func failOnValues(path string) []string {
	if path == "reach" {
		return []string{reachFailOverPermissive, reachFailBroken, reachFailAny}
	}
	return severityNames()
}

// registerCompletions walks the tree under root and registers the value
// completion of every flag it knows on every command that has it.
func registerCompletions(root *cobra.Command) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		path := commandPath(c)
		fs := c.Flags()
		register := func(name string, fn cobra.CompletionFunc) {
			if fs.Lookup(name) != nil {
				// Registering twice is the only error, and the walk visits each command once.
				_ = c.RegisterFlagCompletionFunc(name, fn)
			}
		}
		dirs := func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return nil, cobra.ShellCompDirectiveFilterDirs
		}
		switch {
		case outputIsDir(c):
			register("output", dirs)
		case outputFormats[path] != nil:
			register("output", fixed(outputFormats[path]))
		}
		for _, name := range dirFlags {
			register(name, dirs)
		}
		for name, values := range enumFlags {
			register(name, fixed(values))
		}
		register("fail-on", fixed(failOnValues(path)))
		register("context", completeContexts)
		register("from", completeWorkloads)
		register("to", completeWorkloads)
		register("source", completeModelWorkloads)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// commandPath is c's path below the root ("platform infer"); the root's
// display name (budnet, kubectl budnet) is left out.
func commandPath(c *cobra.Command) string {
	var names []string
	for ; c.HasParent(); c = c.Parent() {
		names = append(names, c.Name())
	}
	slices.Reverse(names)
	return strings.Join(names, " ")
}

// fixed completes one of values, no files.
func fixed(values []string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeContexts lists the contexts of the kubeconfig --kubeconfig names
// (or kubectl's default files).
func completeContexts(cmd *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	path, _ := cmd.Flags().GetString("kubeconfig")
	names, err := manifest.KubeconfigContexts(path)
	if err != nil {
		cobra.CompDebugln("budnet: --context: "+err.Error(), false)
		return nil, cobra.ShellCompDirectiveError
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// completeWorkloads lists the workloads of the inputs given so far on the
// command line (-f, --example, --chart with its values, -n), named as reach
// names them: "ns/name" when that is unambiguous, else "ns/name[Kind]", each
// described by its kind.
func completeWorkloads(cmd *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	inv, err := completionInventory(cmd)
	if err != nil || inv == nil {
		if err != nil {
			cobra.CompDebugln("budnet: "+err.Error(), false)
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	in := reach.Build(inv, reach.BuildOptions{})
	short := map[string]int{}
	for _, w := range in.Workloads {
		short[trimWorkloadKind(w.Name)]++
	}
	out := make([]cobra.Completion, 0, len(in.Workloads))
	for _, w := range in.Workloads {
		name := trimWorkloadKind(w.Name)
		kind := strings.TrimSuffix(strings.TrimPrefix(w.Name[len(name):], "["), "]")
		if short[name] > 1 {
			name = w.Name
		}
		out = append(out, cobra.CompletionWithDesc(name, kind))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// trimWorkloadKind drops the "[Kind]" suffix of a reach workload name.
func trimWorkloadKind(name string) string {
	if i := strings.LastIndexByte(name, '['); i > 0 && strings.HasSuffix(name, "]") {
		return name[:i]
	}
	return name
}

// completionInventory reads the inputs the command line names so far, with
// the command's own flags; nil when it names none (or reads stdin, which a
// completion must not consume). Warnings are dropped: a completion prints
// nothing but candidates.
func completionInventory(cmd *cobra.Command) (*manifest.Inventory, error) {
	fs := cmd.Flags()
	files, _ := fs.GetStringArray("filename")
	useExample, _ := fs.GetBool("example")
	chart, _ := fs.GetString("chart")
	ns, _ := fs.GetString("namespace")
	opts := manifest.Options{DefaultNamespace: ns, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Validation: manifest.ValidateIgnore, AllowEmpty: true, Stdin: strings.NewReader("")}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	switch {
	case chart != "":
		values, _ := fs.GetStringArray("values")
		set, _ := fs.GetStringArray("set")
		release, _ := fs.GetString("release-name")
		return manifest.LoadChart(ctx, manifest.ChartOptions{Path: chart, ValueFiles: values, Set: set, ReleaseName: release}, opts)
	case useExample:
		name, data := example.Unhardened()
		return manifest.LoadBytes(name, data, opts)
	case len(files) > 0 && !slices.Contains(files, "-"):
		return manifest.Load(ctx, files, opts)
	}
	return nil, nil
}

// completeModelWorkloads lists the workloads of the platform model (--platform,
// else the embedded Bud model): the names `egress check --source` takes.
func completeModelWorkloads(cmd *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	file, _ := cmd.Flags().GetString("platform")
	p, err := loadPlatform(file)
	if err != nil {
		cobra.CompDebugln("budnet: "+err.Error(), false)
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	out := make([]cobra.Completion, 0, len(p.Spec.Workloads))
	for _, w := range p.Spec.Workloads {
		out = append(out, cobra.CompletionWithDesc(w.Name, w.Zone))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
