// Command budnet turns the Bud AI Foundry Network Security Guide into working,
// verifiable controls. All logic lives in internal/; main only wires it up.
package main

import (
	"os"

	"github.com/budnet/budnet/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.Streams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}))
}
