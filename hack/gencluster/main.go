// Command gencluster writes a generated cluster (Namespaces, Pods and
// NetworkPolicies) as YAML, the input of the reach benchmarks in
// docs/performance.md:
//
//	go run ./hack/gencluster -pods 1000 > /tmp/c1000.yaml
//	go run ./hack/gencluster -bare -pods 5000 > /tmp/bare5000.yaml
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/budnet/budnet/internal/netpol/netpoltest"
)

func main() {
	pods := flag.Int("pods", 1000, "number of pods")
	bare := flag.Bool("bare", false, "bare pods, each its own workload (the output-size worst case)")
	seed := flag.Int64("seed", 1, "generator seed")
	flag.Parse()
	c := netpoltest.GenerateCluster(*seed, *pods)
	if *bare {
		c = netpoltest.GenerateBarePods(*seed, *pods)
	}
	if err := netpoltest.WriteManifests(os.Stdout, c); err != nil {
		fmt.Fprintln(os.Stderr, "gencluster:", err)
		os.Exit(1)
	}
}
