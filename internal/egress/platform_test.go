package egress

import (
	"net/netip"
	"testing"

	"budnet/internal/egress/allowlist"
	"budnet/internal/egress/verdict"
	"budnet/internal/platform"
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
