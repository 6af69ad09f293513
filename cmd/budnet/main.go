// Command budnet turns the Bud AI Foundry Network Security Guide into working,
// verifiable controls. All logic lives in internal/; main only wires it up.
// Installed (or symlinked) as kubectl-budnet it is the kubectl plugin, and its
// usage lines say `kubectl budnet`.
package main

import (
	"os"

	"github.com/budnet/budnet/internal/cli"
)

func main() {
	os.Exit(cli.Main(cli.ProgramName(os.Args[0]), os.Args[1:], cli.Streams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}))
}
