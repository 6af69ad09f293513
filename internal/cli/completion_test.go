package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// complete runs cobra's hidden __complete command, as the shell scripts do,
// and returns the candidates (without descriptions) and the directive line.
func complete(t *testing.T, root *cobra.Command, args ...string) (values []string, descs map[string]string, directive string) {
	t.Helper()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{cobra.ShellCompRequestCmd}, args...))
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("__complete %v: %v (stderr %s)", args, err, errOut.String())
	}
	descs = map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if strings.HasPrefix(line, ":") {
			directive = line
			continue
		}
		value, desc, _ := strings.Cut(line, "\t")
		values = append(values, value)
		descs[value] = desc
	}
	return values, descs, directive
}

func budnetRoot() *cobra.Command {
	return NewRootCommand(Streams{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}})
}

// noFiles is the directive ShellCompDirectiveNoFileComp prints.
const noFiles = ":4"

func TestCompleteFixedValues(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{name: "audit -o", args: []string{"audit", "-o", ""}, want: auditFormats},
		{name: "audit --output", args: []string{"audit", "--output", ""}, want: []string{"text", "json", "sarif", "markdown", "junit", "html"}},
		{name: "reach -o", args: []string{"reach", "-o", ""}, want: []string{"text", "json", "html"}},
		{name: "platform show -o", args: []string{"platform", "show", "-o", ""}, want: []string{"yaml", "json"}},
		{name: "platform infer -o", args: []string{"platform", "infer", "-o", ""}, want: []string{"yaml", "json"}},
		{name: "egress check -o", args: []string{"egress", "check", "-o", ""}, want: []string{"text", "json"}},
		{name: "tls check -o", args: []string{"tls", "check", "-o", ""}, want: []string{"text", "json"}},
		{name: "version -o", args: []string{"version", "-o", ""}, want: []string{"text", "json"}},
		{name: "audit --fail-on", args: []string{"audit", "--fail-on", ""}, want: []string{"low", "medium", "high", "critical"}},
		{name: "tls --fail-on", args: []string{"tls", "check", "--fail-on", ""}, want: []string{"low", "medium", "high", "critical"}},
		{name: "reach --fail-on", args: []string{"reach", "--intended", "--fail-on", ""}, want: []string{"over-permissive", "broken", "any"}},
		{name: "generate --edge", args: []string{"generate", "--edge", ""}, want: []string{"gateway-api", "traefik", "nginx"}},
		{name: "generate --cni", args: []string{"generate", "--cni", ""}, want: []string{"kubernetes", "cilium"}},
		{name: "generate --cloud", args: []string{"generate", "--cloud", ""}, want: []string{"aws", "azure"}},
		// --validate alone means strict (as kubectl), so a value completes after "=".
		{name: "reach --validate=", args: []string{"reach", "--validate="}, want: []string{"strict", "warn", "ignore"}},
		{name: "egress serve --mode", args: []string{"egress", "serve", "--mode", ""}, want: []string{"enforce", "report"}},
		{name: "reach --host-network-pods", args: []string{"reach", "--host-network-pods", ""}, want: []string{"node", "pod"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, directive := complete(t, budnetRoot(), tt.args...)
			if !slices.Equal(got, tt.want) || directive != noFiles {
				t.Errorf("got %q %s, want %q %s", got, directive, tt.want, noFiles)
			}
		})
	}
}

// TestCompleteGenerateOutput: generate's -o completes directories while it
// names one, the stream's formats once --output-dir takes the directory.
func TestCompleteGenerateOutput(t *testing.T) {
	root := budnetRoot()
	gen, _, err := root.Find([]string{"generate"})
	if err != nil {
		t.Fatal(err)
	}
	got, _, directive := complete(t, root, "generate", "-o", "")
	if outputIsDir(gen) {
		if len(got) != 0 || directive != ":16" { // ShellCompDirectiveFilterDirs
			t.Errorf("got %q %s, want directories only (:16)", got, directive)
		}
		return
	}
	if !slices.Equal(got, []string{"yaml", "json"}) {
		t.Errorf("got %q, want yaml and json", got)
	}
	if _, _, directive := complete(t, budnetRoot(), "generate", "--output-dir", ""); directive != ":16" {
		t.Errorf("--output-dir directive %s, want directories (:16)", directive)
	}
}

// TestCompletionTableMatchesCommands keeps the completion table honest: every
// command with -o has an entry, every value it completes runs (exit 0 or 1,
// not the usage error an unknown format is), and the command refuses a value
// outside the table, so the test could fail.
func TestCompletionTableMatchesCommands(t *testing.T) {
	// Offline invocations of each command; -o VALUE is appended.
	invocations := map[string][]string{
		"audit":          {"audit", "--example"},
		"reach":          {"reach", "--example"},
		"platform show":  {"platform", "show"},
		"platform infer": {"platform", "infer", "--example"},
		"egress check":   {"egress", "check", "--source", "budgateway", "api.openai.com:443"},
		// A closed port on loopback: the probe fails (exit 1) after the flags are accepted.
		"tls check": {"tls", "check", "--timeout", "2s", "tls://127.0.0.1:1"},
		"version":   {"version"},
		"diff": {"diff", "--base", "examples/shop-change/base", "--head", "examples/shop-change/head",
			"--platform", "examples/platforms/minimal.yaml"},
		"generate": {"generate"},
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Flags().Lookup("output") != nil && !c.Hidden {
			path := commandPath(c)
			if outputFormats[path] == nil && !outputIsDir(c) {
				t.Errorf("%s has -o but no entry in outputFormats: its values do not complete", path)
			}
			if outputFormats[path] != nil && invocations[path] == nil {
				t.Errorf("%s: no invocation in this test to check its formats", path)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	root := budnetRoot()
	walk(root)
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for path, formats := range outputFormats {
		c, _, err := root.Find(strings.Fields(path))
		if err != nil || commandPath(c) != path || outputIsDir(c) {
			// A command of another branch of issue 16 (diff), or generate
			// while its -o is a directory: nothing to check yet.
			t.Logf("%s: no such command taking a format: not checked", path)
			continue
		}
		base := invocations[path]
		for _, f := range append(slices.Clone(formats), "no-such-format") {
			t.Run(path+" -o "+f, func(t *testing.T) {
				// Inputs from the repository; anything a command writes lands
				// in a temporary directory, not in the tree.
				t.Chdir(t.TempDir())
				base := slices.Clone(base)
				for i, a := range base {
					if strings.HasPrefix(a, "examples/") {
						base[i] = filepath.Join(repo, a)
					}
				}
				code, _, stderr := run(t, "", append(base, "-o", f)...)
				if f == "no-such-format" && path == "generate" {
					// generate -o DIR still works for a release, with a warning.
					return
				}
				if f == "no-such-format" {
					if code != ExitUsage || !strings.Contains(stderr, f) {
						t.Errorf("exit %d, stderr %q: want a usage error naming the format", code, stderr)
					}
					return
				}
				if code != ExitOK && code != ExitFindings {
					t.Errorf("exit %d: the completed format is refused: %s", code, stderr)
				}
			})
		}
	}
}

func TestCompleteWorkloads(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		want  []string
		descs map[string]string
	}{
		{
			name:  "--from from -f, unambiguous names short",
			args:  []string{"reach", "-f", "../../examples/minimal-reference", "--from", ""},
			want:  []string{"kube-system/coredns", "shop-data/postgresql", "shop/api", "shop/web"},
			descs: map[string]string{"shop-data/postgresql": "StatefulSet", "shop/web": "Deployment"},
		},
		{
			name: "--to after --from, same names",
			args: []string{"reach", "-f", "../../examples/minimal-reference", "--from", "shop/web", "--to", ""},
			want: []string{"kube-system/coredns", "shop-data/postgresql", "shop/api", "shop/web"},
		},
		{
			name:  "a name two kinds share keeps its kind",
			args:  []string{"reach", "-f", "testdata/completion/samename.yaml", "--to", ""},
			want:  []string{"shop/api", "shop/cache[Deployment]", "shop/cache[StatefulSet]"},
			descs: map[string]string{"shop/cache[StatefulSet]": "StatefulSet"},
		},
		{
			name: "--example",
			args: []string{"reach", "--example", "--from", ""},
		},
		{
			name: "-n applies to objects without a namespace",
			args: []string{"reach", "-n", "other", "-f", "testdata/completion/nonamespace.yaml", "--from", ""},
			want: []string{"other/worker"},
		},
		{name: "no input yet: nothing", args: []string{"reach", "--from", ""}, want: nil},
		{name: "stdin is not read", args: []string{"reach", "-f", "-", "--from", ""}, want: nil},
		{name: "unreadable input: nothing", args: []string{"reach", "-f", "testdata/no-such-file.yaml", "--from", ""}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, descs, directive := complete(t, budnetRoot(), tt.args...)
			if directive != noFiles {
				t.Errorf("directive %s, want %s", directive, noFiles)
			}
			switch tt.name {
			case "--example":
				// The embedded deployment: its budapp and database, by reach's names.
				for _, w := range []string{"bud/bud-budapp", "bud/bud-postgresql"} {
					if !slices.Contains(got, w) {
						t.Errorf("%s missing from %q", w, got)
					}
				}
				return
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			for v, d := range tt.descs {
				if descs[v] != d {
					t.Errorf("%s described %q, want %q", v, descs[v], d)
				}
			}
		})
	}
}

// TestCompleteWorkloadsFromChart renders a chart for --from as a command with
// both --chart and --from would (budnet diff's inputs take the source flags).
func TestCompleteWorkloadsFromChart(t *testing.T) {
	// A fresh tree each time: flag values stay set between executions.
	newRoot := func() *cobra.Command {
		root := &cobra.Command{Use: NameBudnet}
		cmd := &cobra.Command{Use: "probe", RunE: func(*cobra.Command, []string) error { return nil }}
		var src sourceOptions
		src.addFlags(cmd.Flags(), "probe")
		cmd.Flags().String("from", "", "")
		root.AddCommand(cmd)
		registerCompletions(root)
		return root
	}
	chart := "../manifest/testdata/charts/budmini"
	got, descs, _ := complete(t, newRoot(), "probe", "--chart", chart, "--set", "image.tag=1.0", "-n", "bud", "--from", "")
	if len(got) == 0 || !slices.Contains(got, "bud/release-name-budapp") {
		t.Fatalf("got %q, want the chart's workloads named as reach names them", got)
	}
	if descs["bud/release-name-budapp"] != "Deployment" {
		t.Errorf("descriptions %v", descs)
	}
	// --release-name changes the names, so the values given are used.
	got, _, _ = complete(t, newRoot(), "probe", "--chart", chart, "--set", "image.tag=1.0", "-n", "bud", "--release-name", "prod", "--from", "")
	if !slices.Contains(got, "bud/prod-budapp") {
		t.Errorf("with --release-name prod: got %q", got)
	}
	// A chart that cannot render (no image.tag) completes nothing, and does not fail.
	got, _, _ = complete(t, newRoot(), "probe", "--chart", chart, "--from", "")
	if len(got) != 0 {
		t.Errorf("unrenderable chart completed %q", got)
	}
}

func TestCompleteSourceFromModel(t *testing.T) {
	got, descs, _ := complete(t, budnetRoot(), "egress", "check", "--source", "")
	if !slices.Contains(got, "budgateway") || descs["budgateway"] == "" {
		t.Errorf("embedded model: got %q %v", got, descs)
	}
	got, _, _ = complete(t, budnetRoot(), "egress", "check", "--platform", "../../examples/platforms/minimal.yaml", "--source", "")
	if slices.Contains(got, "budgateway") || len(got) == 0 {
		t.Errorf("--platform minimal.yaml: got %q, want its own workloads", got)
	}
}

func TestCompleteContexts(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:6443"}
users:
- name: u
  user: {token: t}
contexts:
- name: staging
  context: {cluster: c, user: u}
- name: prod
  context: {cluster: c, user: u}
current-context: prod
`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		env  string
		want []string
	}{
		{name: "--kubeconfig", args: []string{"audit", "--cluster", "--kubeconfig", kubeconfig, "--context", ""}, want: []string{"prod", "staging"}},
		{name: "$KUBECONFIG", args: []string{"platform", "infer", "--cluster", "--context", ""}, env: kubeconfig, want: []string{"prod", "staging"}},
		{name: "no kubeconfig", args: []string{"audit", "--context", ""}, env: filepath.Join(t.TempDir(), "missing"), want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("KUBECONFIG", tt.env)
			t.Setenv("HOME", t.TempDir())
			got, _, _ := complete(t, budnetRoot(), tt.args...)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestCompletionFlagsExist guards the table against renamed flags: each flag
// named in it is a flag of some command.
func TestCompletionFlagsExist(t *testing.T) {
	seen := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) { seen[f.Name] = true })
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(budnetRoot())
	names := []string{"output", "fail-on", "context", "from", "to", "source"}
	// Flags of other branches of issue 16 (generate --output-dir) may be missing here.
	names = slices.DeleteFunc(names, func(n string) bool { return slices.Contains(dirFlags, n) })
	for name := range enumFlags {
		names = append(names, name)
	}
	for _, name := range names {
		if !seen[name] {
			t.Errorf("completion registered for --%s, which no command has", name)
		}
	}
}
