package example_test

import (
	"strings"
	"testing"

	"github.com/budnet/budnet/internal/example"
	"github.com/budnet/budnet/internal/manifest"
)

func TestUnhardenedLoads(t *testing.T) {
	name, data := example.Unhardened()
	inv, err := manifest.LoadBytes(name, data, manifest.Options{})
	if err != nil {
		t.Fatalf("example does not load: %v", err)
	}
	for _, w := range inv.Warnings {
		t.Errorf("unexpected warning: %s", w)
	}
	counts := []struct {
		name string
		got  int
		want int
	}{
		{name: "objects", got: len(inv.Objects), want: 80},
		{name: "workloads", got: len(inv.Workloads), want: 30},
		{name: "services", got: len(inv.Services), want: 34},
		{name: "network policies", got: len(inv.NetworkPolicies), want: 4},
		{name: "namespaces", got: len(inv.Namespaces), want: 2},
	}
	for _, c := range counts {
		if c.got != c.want {
			t.Errorf("%s: got %d, want %d", c.name, c.got, c.want)
		}
	}
	dapr := 0
	for _, w := range inv.Workloads {
		if w.Dapr != nil {
			dapr++
			if w.Namespace != "bud" || w.Labels["dapr.io/sidecar-injected"] != "true" {
				t.Errorf("%s: Dapr workload outside bud or without injected label", w.Ref())
			}
		}
	}
	if dapr != 10 {
		t.Errorf("Dapr-injected workloads: got %d, want 10 (budapp ... ask-bud, budgateway)", dapr)
	}
}

// TestUnhardenedShape checks the traits the audit and reach examples rely on:
// one application namespace, a Traefik LoadBalancer, no default deny, and
// plaintext database settings in env.
func TestUnhardenedShape(t *testing.T) {
	name, data := example.Unhardened()
	inv, err := manifest.LoadBytes(name, data, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		ok   func() bool
	}{
		{name: "traefik service is a LoadBalancer without source ranges", ok: func() bool {
			for _, s := range inv.Services {
				if s.Name == "traefik" {
					return s.Type == "LoadBalancer" && len(s.LoadBalancerSourceRanges) == 0
				}
			}
			return false
		}},
		{name: "no policy selects every pod", ok: func() bool {
			for _, np := range inv.NetworkPolicies {
				sel := np.Policy.Spec.PodSelector
				if len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0 {
					return false
				}
			}
			return true
		}},
		{name: "every Bitnami policy allows all egress", ok: func() bool {
			for _, np := range inv.NetworkPolicies {
				eg := np.Policy.Spec.Egress
				if len(eg) != 1 || len(eg[0].To) != 0 || len(eg[0].Ports) != 0 {
					return false
				}
			}
			return true
		}},
		{name: "budapp has DATABASE_URL without sslmode", ok: func() bool {
			w := inv.Workload("Deployment", "bud", "bud-budapp")
			if w == nil {
				return false
			}
			for _, e := range w.Containers[0].Env {
				if e.Name == "DATABASE_URL" {
					return strings.HasPrefix(e.Value, "postgresql://") && !strings.Contains(e.Value, "sslmode")
				}
			}
			return false
		}},
		{name: "application workloads all live in bud", ok: func() bool {
			for _, w := range inv.Workloads {
				if w.Namespace != "bud" && w.Namespace != "dapr-system" {
					return false
				}
			}
			return true
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !c.ok() {
				t.Error("trait missing from the example")
			}
		})
	}
}

func TestUnhardenedReturnsACopy(t *testing.T) {
	_, a := example.Unhardened()
	a[0] = 'X'
	_, b := example.Unhardened()
	if b[0] == 'X' {
		t.Fatal("Unhardened exposes the embedded bytes")
	}
}
