// Package cli wires budnet's commands: one file per command, each with an
// Options struct whose fields the flags bind to, and Complete/Validate/Run steps.
// No other package reads flags or prints.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Streams are the IO endpoints a command reads from and writes to; tests pass buffers.
type Streams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// Exit codes shared by every command.
const (
	ExitOK       = 0
	ExitFindings = 1 // findings at or above the failing threshold
	ExitUsage    = 2 // usage or input error
)

// ExitError carries a specific exit code out of a command's RunE.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// usageError marks an error as a usage or input error (exit 2).
func usageError(err error) error { return &ExitError{Code: ExitUsage, Err: err} }

// The names budnet runs under: its own, and as a kubectl plugin, where
// kubectl finds an executable named kubectl-budnet on PATH and runs it for
// `kubectl budnet ...` (https://kubernetes.io/docs/tasks/extend-kubectl/kubectl-plugins/).
const (
	NameBudnet  = "budnet"
	NameKubectl = "kubectl budnet"
)

// ProgramName is the name to show in usage lines for a process started as
// argv0: "kubectl budnet" for an executable (or a symlink, as krew installs
// it) named kubectl-budnet, else "budnet".
func ProgramName(argv0 string) string {
	base := filepath.Base(argv0)
	base = strings.TrimSuffix(base, ".exe")
	if base == "kubectl-budnet" {
		return NameKubectl
	}
	return NameBudnet
}

// Main runs budnet under name (see ProgramName) with args and returns the
// process exit code.
func Main(name string, args []string, streams Streams) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return ExecuteAs(ctx, name, args, streams)
}

// Execute runs the root command with ctx; it is Main without signal handling, for tests.
func Execute(ctx context.Context, args []string, streams Streams) int {
	return ExecuteAs(ctx, NameBudnet, args, streams)
}

// ExecuteAs is Execute under another program name (kubectl budnet).
func ExecuteAs(ctx context.Context, name string, args []string, streams Streams) int {
	root := newRootCommand(name, streams)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var exitErr *ExitError
	if errors.As(err, &exitErr) {
		if exitErr.Err != nil {
			fmt.Fprintf(streams.ErrOut, "error: %v\n", exitErr.Err)
		}
		return exitErr.Code
	}
	// Errors cobra raises itself (unknown flag, wrong argument count) and input
	// errors (diag.InputError, naming file, line and field) are usage errors.
	fmt.Fprintf(streams.ErrOut, "error: %v\n", err)
	return ExitUsage
}

// NewRootCommand builds the budnet command tree.
func NewRootCommand(streams Streams) *cobra.Command { return newRootCommand(NameBudnet, streams) }

// newRootCommand builds the tree with usage lines and examples naming the
// program name (budnet, or kubectl budnet for the plugin).
func newRootCommand(name string, streams Streams) *cobra.Command {
	root := &cobra.Command{
		Use:   NameBudnet,
		Short: "Network security for Bud AI Foundry: generate, analyse, audit and enforce",
		Long: `budnet makes the Bud AI Foundry Network Security Guide executable.

From one model of intent (the embedded Bud reference platform or --platform FILE) it
generates the controls, computes who can talk to whom under the NetworkPolicies actually
deployed, audits the hardening checklist, and enforces the egress allowlist.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.AddCommand(
		newGenerateCommand(streams),
		newReachCommand(streams),
		newAuditCommand(streams),
		newDiffCommand(streams),
		newPlatformCommand(streams),
		newEgressCommand(streams),
		newTLSCommand(streams),
		newControllerCommand(streams),
		newVersionCommand(streams),
	)
	// --version prints what `budnet version` prints. Declared here, without
	// cobra's -v shorthand, because -v is --verbose on audit and tls check.
	root.Version = BuildVersion().Version
	root.Flags().Bool("version", false, "print budnet's version and exit")
	root.SetVersionTemplate(strings.ReplaceAll(versionLine(BuildVersion()), "{{", "{{`{{`}}"))
	registerCompletions(root)
	if name != NameBudnet {
		renameProgram(root, name)
	}
	return root
}

// renameProgram makes usage lines and examples say name instead of budnet:
// cobra prints the root's display name in every command path (cobra's
// CommandDisplayNameAnnotation, which kubectl plugins use for this), and the
// examples are rewritten where a line runs budnet.
func renameProgram(root *cobra.Command, name string) {
	root.Annotations = map[string]string{cobra.CommandDisplayNameAnnotation: name}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		lines := strings.Split(c.Example, "\n")
		for i, l := range lines {
			trimmed := strings.TrimLeft(l, " ")
			if strings.HasPrefix(trimmed, NameBudnet+" ") {
				lines[i] = l[:len(l)-len(trimmed)] + name + trimmed[len(NameBudnet):]
			}
		}
		c.Example = strings.Join(lines, "\n")
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
