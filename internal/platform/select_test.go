package platform

import (
	"net/netip"
	"slices"
	"testing"
)

// model builds a small defaulted platform in code; tweaks adjust it per test.
func model(tweaks ...func(*Platform)) *Platform {
	p := &Platform{
		APIVersion: APIVersion,
		Kind:       Kind,
		Metadata:   Metadata{Name: "test"},
		Spec: Spec{
			Zones: []Zone{{Name: "apps"}, {Name: "data"}},
			Workloads: []Workload{
				{Name: "api", Zone: "apps", Role: RoleService, PodLabels: map[string]string{"app": "api"},
					Ports: []NamedPort{{Name: "http", Port: 8080}}, Dapr: &DaprApp{AppID: "api"}},
				{Name: "worker", Zone: "apps", Role: RoleService, PodLabels: map[string]string{"app": "worker"},
					Ports: []NamedPort{{Name: "http", Port: 9000}}},
				{Name: "ui", Zone: "apps", Role: RoleFrontend, PodLabels: map[string]string{"app": "ui"},
					Ports: []NamedPort{{Name: "http", Port: 3000}}},
				{Name: "db", Zone: "data", Role: RoleDatastore, PodLabels: map[string]string{"app": "db"},
					Ports: []NamedPort{{Name: "pg", Port: 5432}}},
			},
			SourceGroups: []CIDRGroup{{Name: "admin", CIDRs: []string{"203.0.113.0/24", "2001:db8::/32"}}},
		},
	}
	for _, tweak := range tweaks {
		tweak(p)
	}
	p.Default()
	return p
}

func names(ws []*Workload) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.Name
	}
	return out
}

func TestSelect(t *testing.T) {
	p := model()
	tests := []struct {
		name string
		sel  Selector
		want []string
	}{
		{name: "empty selects nothing", sel: Selector{}, want: nil},
		{name: "zone", sel: Selector{Zone: "apps"}, want: []string{"api", "worker", "ui"}},
		{name: "workload", sel: Selector{Workload: "db"}, want: []string{"db"}},
		{name: "role", sel: Selector{Role: RoleService}, want: []string{"api", "worker"}},
		{name: "dapr", sel: Selector{Dapr: true}, want: []string{"api"}},
		{name: "zone and role are AND-ed", sel: Selector{Zone: "apps", Role: RoleFrontend}, want: []string{"ui"}},
		{name: "contradiction selects nothing", sel: Selector{Zone: "data", Role: RoleFrontend}, want: nil},
		{name: "workload in another zone", sel: Selector{Zone: "data", Workload: "api"}, want: nil},
		{name: "dapr and role", sel: Selector{Dapr: true, Role: RoleService}, want: []string{"api"}},
		{name: "unknown workload", sel: Selector{Workload: "nope"}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := names(p.Select(tt.sel))
			if !slices.Equal(got, tt.want) {
				t.Errorf("Select(%s) = %v, want %v", tt.sel, got, tt.want)
			}
		})
	}
}

func TestLookups(t *testing.T) {
	p := model()
	if w, ok := p.Workload("db"); !ok || w.Zone != "data" {
		t.Errorf("Workload(db) = %v, %v", w, ok)
	}
	if _, ok := p.Workload("missing"); ok {
		t.Error("Workload(missing) found something")
	}
	if g, ok := p.Group("admin"); !ok || len(g.CIDRs) != 2 {
		t.Errorf("Group(admin) = %v, %v", g, ok)
	}
	if _, ok := p.Group("internet"); ok {
		t.Error("Group(internet) found something")
	}
	if z, ok := p.Zone("apps"); !ok || z.Name != "apps" {
		t.Errorf("Zone(apps) = %v, %v", z, ok)
	}
	// Lookups return pointers into the model, not copies.
	w, _ := p.Workload("api")
	if w != &p.Spec.Workloads[0] {
		t.Error("Workload returned a copy")
	}
}

func TestFlowsResolveNamedPortsPerDestination(t *testing.T) {
	p := model(func(p *Platform) {
		p.Spec.Flows.Internal = []InternalFlow{{
			Name: "ui-to-backends", From: Selector{Workload: "ui"}, To: Selector{Zone: "apps", Role: RoleService},
			Ports: []Port{{Name: "http"}, {Port: 7000, EndPort: 7010}},
		}}
		p.Spec.Flows.Ingress = []IngressFlow{{
			Name: "admin-ui", Groups: []string{"admin"}, CIDRs: []string{"198.51.100.7/32"},
			To: Selector{Workload: "ui"}, Ports: []Port{{Name: "http"}},
		}}
		p.Spec.Flows.Egress = []EgressFlow{{
			Name: "out", From: Selector{Role: RoleService}, Hosts: []string{"API.Example.COM."},
			Ports: []Port{{Port: 443}, {Port: 53, Protocol: "UDP"}},
		}}
	})
	if err := p.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	flows, err := p.Flows()
	if err != nil {
		t.Fatal(err)
	}
	if len(flows) != 3 || flows[0].Kind != FlowIngress || flows[1].Kind != FlowInternal || flows[2].Kind != FlowEgress {
		t.Fatalf("flows = %+v, want ingress, internal, egress", flows)
	}
	in := flows[0]
	wantSrc := []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("198.51.100.7/32")}
	if !slices.Equal(in.Sources, wantSrc) {
		t.Errorf("ingress sources = %v, want %v", in.Sources, wantSrc)
	}
	if len(in.To) != 1 || in.To[0].Ports[0] != (PortRange{Protocol: "TCP", Port: 3000, EndPort: 3000}) {
		t.Errorf("ingress to = %+v", in.To)
	}
	internal := flows[1]
	if got := names(internal.From); !slices.Equal(got, []string{"ui"}) {
		t.Errorf("internal from = %v", got)
	}
	want := map[string][]PortRange{
		"api":    {{"TCP", 8080, 8080}, {"TCP", 7000, 7010}},
		"worker": {{"TCP", 9000, 9000}, {"TCP", 7000, 7010}},
	}
	if len(internal.To) != len(want) {
		t.Fatalf("internal to = %+v, want %d destinations", internal.To, len(want))
	}
	for _, d := range internal.To {
		if !slices.Equal(d.Ports, want[d.Workload.Name]) {
			t.Errorf("ports to %s = %v, want %v", d.Workload.Name, d.Ports, want[d.Workload.Name])
		}
	}
	eg := flows[2]
	if !slices.Equal(eg.Hosts, []string{"api.example.com"}) {
		t.Errorf("egress hosts = %v, want the normalised api.example.com", eg.Hosts)
	}
	if !slices.Equal(eg.Ports, []PortRange{{"TCP", 443, 443}, {"UDP", 53, 53}}) {
		t.Errorf("egress ports = %v", eg.Ports)
	}
	if got := names(eg.From); !slices.Equal(got, []string{"api", "worker"}) {
		t.Errorf("egress from = %v", got)
	}
}

func TestFlowsRejectUnresolvable(t *testing.T) {
	tests := []struct {
		name  string
		tweak func(*Platform)
	}{
		{name: "unknown group", tweak: func(p *Platform) {
			p.Spec.Flows.Ingress = []IngressFlow{{Name: "x", Groups: []string{"nope"}, To: Selector{Workload: "ui"}, Ports: []Port{{Port: 1}}}}
		}},
		{name: "missing named port", tweak: func(p *Platform) {
			p.Spec.Flows.Internal = []InternalFlow{{Name: "x", From: Selector{Workload: "ui"}, To: Selector{Workload: "db"}, Ports: []Port{{Name: "http"}}}}
		}},
		{name: "named egress port", tweak: func(p *Platform) {
			p.Spec.Flows.Egress = []EgressFlow{{Name: "x", From: Selector{Workload: "ui"}, Hosts: []string{"a.example.com"}, Ports: []Port{{Name: "https"}}}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := model(tt.tweak)
			if _, err := p.Flows(); err == nil {
				t.Error("Flows succeeded on an invalid model")
			}
			if err := p.Validate(); err == nil {
				t.Error("Validate accepted a model whose flows do not resolve")
			}
		})
	}
}
