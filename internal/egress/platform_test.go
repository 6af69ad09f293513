package egress

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/budnet/budnet/internal/egress/allowlist"
	"github.com/budnet/budnet/internal/egress/identity"
	"github.com/budnet/budnet/internal/egress/verdict"
	"github.com/budnet/budnet/internal/platform"
)

func TestFromPlatformDefault(t *testing.T) {
	p, err := platform.Default()
	if err != nil {
		t.Fatal(err)
	}
	pol, err := FromPlatform(p)
	if err != nil {
		t.Fatal(err)
	}
	if pol.Mode != verdict.Enforce || pol.DefaultAllow {
		t.Fatalf("mode %s defaultAllow %v", pol.Mode, pol.DefaultAllow)
	}
	tests := []struct {
		name   string
		source string
		host   string
		port   uint16
		allow  bool
	}{
		{name: "budgateway to openai", source: "budgateway", host: "api.openai.com", port: 443, allow: true},
		{name: "budgateway to azure openai", source: "budgateway", host: "x.openai.azure.com", port: 443, allow: true},
		{name: "budgateway not on 80", source: "budgateway", host: "api.openai.com", port: 80},
		{name: "budapp has no egress", source: "budapp", host: "api.openai.com", port: 443},
		{name: "grafana to slack", source: "grafana", host: "hooks.slack.com", port: 443, allow: true},
		{name: "grafana not to openai", source: "grafana", host: "api.openai.com", port: 443},
		{name: "budcluster registries", source: "budcluster", host: "ghcr.io", port: 443, allow: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := allowlist.NormalizeHost(tc.host)
			if err != nil {
				t.Fatal(err)
			}
			if got := pol.Allowlist.Check(tc.source, h, tc.port).Allowed(); got != tc.allow {
				t.Fatalf("allowed=%v want %v", got, tc.allow)
			}
		})
	}
	for _, cidr := range append(p.Spec.Cluster.PodCIDRs, p.Spec.Cluster.ServiceCIDRs...) {
		a := netip.MustParsePrefix(cidr).Addr().Next()
		if _, denied := pol.Guard.DeniedRange(a, nil); !denied {
			t.Errorf("cluster address %s not denied", a)
		}
	}
}

func TestSpecFromPlatformErrors(t *testing.T) {
	p, err := platform.Default()
	if err != nil {
		t.Fatal(err)
	}
	p.Spec.EgressGateway.DefaultAction = "maybe"
	p.Spec.EgressGateway.AllowedCIDRs = []string{"not-a-cidr"}
	if _, err := SpecFromPlatform(p); err == nil {
		t.Fatal("bad defaultAction and CIDR accepted")
	}
}

// TestEveryModelEgressRowIsAllowed compiles each shipped model as the gateway
// does and decides, for every TCP egress row, every source workload, host
// (a wildcard by a name under it) and port: each must be allowed, by that
// row. Look-alike names, the wildcard's apex, a port next to the row's, and
// workloads the row does not name must not be.
func TestEveryModelEgressRowIsAllowed(t *testing.T) {
	models := map[string]func() (*platform.Platform, error){
		"embedded": platform.Default,
		"minimal":  func() (*platform.Platform, error) { return platform.Load("../../examples/platforms/minimal.yaml") },
		"egress-gateway": func() (*platform.Platform, error) {
			return platform.Load("../../examples/platforms/egress-gateway.yaml")
		},
	}
	for name, load := range models {
		t.Run(name, func(t *testing.T) {
			p, err := load()
			if err != nil {
				t.Fatal(err)
			}
			spec, err := SpecFromPlatform(p)
			if err != nil {
				t.Fatal(err)
			}
			spec.Mode = verdict.Enforce // a report-mode model would let everything through
			pol, err := NewPolicy(spec)
			if err != nil {
				t.Fatal(err)
			}
			flows, err := p.Flows()
			if err != nil {
				t.Fatal(err)
			}
			decide := func(source, host string, port uint16) Decision {
				return Decide(context.Background(), pol, nil, time.Second, identity.Identity{Workload: source},
					net.JoinHostPort(host, strconv.Itoa(int(port))))
			}
			checked := 0
			for _, f := range flows {
				if f.Kind != platform.FlowEgress || len(f.Hosts) == 0 {
					continue
				}
				ports := tcpPorts(f.Ports)
				if len(ports) == 0 {
					continue
				}
				sources := map[string]bool{}
				for _, w := range f.From {
					sources[w.Name] = true
				}
				for src := range sources {
					for _, h := range f.Hosts {
						host, apex := h, ""
						if suffix, ok := strings.CutPrefix(h, "*."); ok {
							host, apex = "x."+suffix, suffix
						}
						for _, pr := range ports {
							if d := decide(src, host, pr.From); d.Decision != verdict.Allow || d.Rule != f.Name {
								t.Errorf("row %s: %s to %s:%d is %s/%s by %q, want allowed by the row", f.Name, src, host, pr.From, d.Decision, d.Reason, d.Rule)
							}
							checked++
						}
						port := ports[0].From
						misses := []string{"evil-" + host, host + ".evil.example", "x" + strings.TrimPrefix(host, "x.")}
						if apex != "" {
							misses = append(misses, apex)
						}
						for _, miss := range misses {
							if d := decide(src, miss, port); d.Decision == verdict.Allow && !allowedElsewhere(flows, src, miss) {
								t.Errorf("row %s: %s to look-alike %s:%d is allowed by %q", f.Name, src, miss, port, d.Rule)
							}
						}
					}
				}
				for _, w := range p.Spec.Workloads {
					if sources[w.Name] {
						continue
					}
					h := strings.Replace(f.Hosts[0], "*.", "x.", 1)
					if d := decide(w.Name, h, ports[0].From); d.Decision == verdict.Allow && !allowedElsewhere(flows, w.Name, h) {
						t.Errorf("row %s: %s, which the row does not name, reaches %s", f.Name, w.Name, h)
					}
				}
			}
			if checked == 0 {
				t.Fatal("no egress row with hosts was checked")
			}
		})
	}
}

// allowedElsewhere reports whether another egress row of source names host,
// so a look-alike that some other row legitimately allows is not a failure.
func allowedElsewhere(flows []platform.ResolvedFlow, source, host string) bool {
	for _, f := range flows {
		if f.Kind != platform.FlowEgress {
			continue
		}
		named := false
		for _, w := range f.From {
			named = named || w.Name == source
		}
		if !named {
			continue
		}
		for _, h := range f.Hosts {
			if h == host || (strings.HasPrefix(h, "*.") && strings.HasSuffix(host, h[1:])) {
				return true
			}
		}
	}
	return false
}
