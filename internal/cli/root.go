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

// Main runs budnet with args and returns the process exit code.
func Main(args []string, streams Streams) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return Execute(ctx, args, streams)
}

// Execute runs the root command with ctx; it is Main without signal handling, for tests.
func Execute(ctx context.Context, args []string, streams Streams) int {
	root := NewRootCommand(streams)
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
func NewRootCommand(streams Streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "budnet",
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
		newPlatformCommand(streams),
		newEgressCommand(streams),
		newTLSCommand(streams),
		newControllerCommand(streams),
		newVersionCommand(streams),
	)
	return root
}
