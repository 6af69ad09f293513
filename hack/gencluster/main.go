// Command gencluster writes a generated cluster (Namespaces, Pods and
// NetworkPolicies) as YAML, the input of the reach benchmarks in
// docs/performance.md:
//
//	go run ./hack/gencluster -pods 1000 > /tmp/c1000.yaml
//	go run ./hack/gencluster -bare -pods 5000 > /tmp/bare5000.yaml
//	go run ./hack/gencluster -profile large > /tmp/large.yaml
//
// The large profile (netpoltest.GenerateLarge) is the incremental engine's
// benchmark cluster: 100,000 pods, 10,000 NetworkPolicies, 2,000 namespaces
// by default, with label reuse drawn from Zipf-like pools.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/netpol/netpoltest"
)

func main() {
	pods := flag.Int("pods", 0, "number of pods (default 1000; 100000 with -profile large)")
	bare := flag.Bool("bare", false, "bare pods, each its own workload (the output-size worst case)")
	profile := flag.String("profile", "default", "cluster shape: default (GenerateCluster) or large (100,000 pods, 10,000 policies, 2,000 namespaces)")
	seed := flag.Int64("seed", 1, "generator seed")
	flag.Parse()
	if *pods < 0 {
		fmt.Fprintf(os.Stderr, "gencluster: -pods %d: want a positive number\n", *pods)
		os.Exit(2)
	}
	var c netpol.Cluster
	switch *profile {
	case "default":
		n := *pods
		if n == 0 {
			n = 1000
		}
		c = netpoltest.GenerateCluster(*seed, n)
		if *bare {
			c = netpoltest.GenerateBarePods(*seed, n)
		}
	case "large":
		if *bare {
			fmt.Fprintln(os.Stderr, "gencluster: -bare applies to -profile default only")
			os.Exit(2)
		}
		n := *pods
		if n == 0 {
			n = 100000
		}
		c = netpoltest.GenerateLarge(*seed, n).Cluster
	default:
		fmt.Fprintf(os.Stderr, "gencluster: -profile %q: want default or large\n", *profile)
		os.Exit(2)
	}
	if err := netpoltest.WriteManifests(os.Stdout, c); err != nil {
		fmt.Fprintln(os.Stderr, "gencluster:", err)
		os.Exit(1)
	}
}
