package platform

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func mustDefault(t *testing.T) *Platform {
	t.Helper()
	p, err := Default()
	if err != nil {
		for _, e := range Problems(err) {
			t.Error(e)
		}
		t.FailNow()
	}
	return p
}

func TestBudZonesFollowGuide31(t *testing.T) {
	p := mustDefault(t)
	var got []string
	for _, z := range p.Spec.Zones {
		got = append(got, z.Name)
		if z.PodSecurity == "" {
			t.Errorf("zone %s has no pod security level", z.Name)
		}
	}
	want := []string{"bud-system", "bud-frontend", "bud-data", "bud-infra", "bud-monitoring", "bud-auth"}
	if !slices.Equal(got, want) {
		t.Errorf("zones = %v, want %v", got, want)
	}
}

// TestBudCatalogPorts pins the ports of the Bud component catalog and the
// upstream charts.
func TestBudCatalogPorts(t *testing.T) {
	p := mustDefault(t)
	tests := []struct {
		workload, port string
		want           int32
	}{
		{"budapp", "http", 9081}, {"budcluster", "http", 9082}, {"budsim", "http", 9083},
		{"budmodel", "http", 9084}, {"budmetrics", "http", 9085}, {"budpipeline", "http", 9086},
		{"budeval", "http", 9087}, {"budnotify", "http", 9088}, {"ask-bud", "http", 9089},
		{"budgateway", "http", 3000}, {"budadmin", "http", 8007}, {"budplayground", "http", 8008},
		{"budcustomer", "http", 8009}, {"postgresql", "tcp-postgresql", 5432},
		{"clickhouse", "http", 8123}, {"clickhouse", "tcp", 9000}, {"clickhouse", "https", 8443},
		{"clickhouse", "tcp-secure", 9440}, {"valkey", "tcp-redis", 6379},
		{"keycloak", "http", 8080}, {"keycloak", "https", 8443},
		{"minio", "minio-api", 9000}, {"minio", "minio-console", 9001}, {"kafka", "client", 9092},
		{"mongodb", "mongodb", 27017},
		// Dapr chart container ports (dapr/dapr charts/dapr/charts/*/templates).
		{"dapr-sentry", "grpc", 50001}, {"dapr-operator", "grpc", 6500}, {"dapr-operator", "webhook", 19443},
		{"dapr-placement-server", "api", 50005}, {"dapr-placement-server", "raft-node", 8201},
		{"dapr-scheduler-server", "api", 50006}, {"dapr-sidecar-injector", "https", 4000},
		// The injected sidecar.
		{"budapp", "dapr-internal", 50002}, {"budapp", "dapr-metrics", 9090},
	}
	for _, tt := range tests {
		w, ok := p.Workload(tt.workload)
		if !ok {
			t.Errorf("no workload %s", tt.workload)
			continue
		}
		np, ok := w.Port(tt.port)
		if !ok || np.Port != tt.want {
			t.Errorf("%s port %s = %v, want %d", tt.workload, tt.port, np, tt.want)
		}
	}
}

func TestBudLabels(t *testing.T) {
	p := mustDefault(t)
	for _, w := range p.Spec.Workloads {
		switch {
		case w.Role == RoleDaprControlPlane:
			// The Dapr chart labels its pods app: dapr-<component>.
			if w.PodLabels["app"] != w.Name || !strings.HasPrefix(w.Name, "dapr-") {
				t.Errorf("%s: pod labels %v, want app: %s", w.Name, w.PodLabels, w.Name)
			}
		case w.Zone == "bud-system" || w.Zone == "bud-frontend":
			if w.PodLabels["app.kubernetes.io/name"] != w.Name || w.PodLabels["app.kubernetes.io/part-of"] != "bud" {
				t.Errorf("%s: pod labels %v, want app.kubernetes.io/name and part-of: bud", w.Name, w.PodLabels)
			}
		default:
			if w.PodLabels["app.kubernetes.io/name"] == "" {
				t.Errorf("%s: pod labels %v lack app.kubernetes.io/name", w.Name, w.PodLabels)
			}
		}
		if w.Zone == "bud-system" && w.Role == RoleService && w.Name != "budgateway" && w.Dapr == nil {
			t.Errorf("%s: Bud service without a Dapr app id", w.Name)
		}
	}
}

// TestBudDaprCorrection checks the guide's main error stays corrected:
// sidecar-to-sidecar traffic uses 50002, and no flow opens 3500 or 50001 to
// an app's pod (those are localhost-only).
func TestBudDaprCorrection(t *testing.T) {
	p := mustDefault(t)
	flows, err := p.Flows()
	if err != nil {
		t.Fatal(err)
	}
	var sidecar *ResolvedFlow
	for i, f := range flows {
		if f.Name == "dapr-sidecars" {
			sidecar = &flows[i]
		}
		for _, d := range f.To {
			if d.Workload.Dapr == nil {
				continue
			}
			for _, r := range d.Ports {
				if r.Port <= 3500 && r.EndPort >= 3500 || r.Port <= 50001 && r.EndPort >= 50001 {
					t.Errorf("flow %s opens %v to Dapr app %s: 3500 and 50001 are localhost-only", f.Name, r, d.Workload.Name)
				}
			}
		}
	}
	if sidecar == nil {
		t.Fatal("no dapr-sidecars flow")
	}
	if !strings.Contains(string(sidecar.Guide), "3500,50001") || !strings.Contains(p.flowNote("dapr-sidecars"), "50002") {
		t.Errorf("dapr-sidecars flow must cite the guide row and explain 50002 in its note")
	}
	for _, d := range sidecar.To {
		if !slices.Equal(d.Ports, []PortRange{{"TCP", 50002, 50002}}) {
			t.Errorf("dapr-sidecars to %s: ports %v, want TCP/50002", d.Workload.Name, d.Ports)
		}
	}
	if len(sidecar.From) < 9 || len(sidecar.To) != len(sidecar.From) {
		t.Errorf("dapr-sidecars connects %d to %d workloads, want all Dapr apps both ways", len(sidecar.From), len(sidecar.To))
	}
}

func (p *Platform) flowNote(name string) string {
	for _, f := range p.Spec.Flows.Internal {
		if f.Name == name {
			return f.Note
		}
	}
	return ""
}

// TestBudEgressIsAnAllowlist: no egress flow reaches every address, and only
// budgateway reaches the LLM providers.
func TestBudEgressIsAnAllowlist(t *testing.T) {
	p := mustDefault(t)
	flows, err := p.Flows()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range flows {
		if f.Kind != FlowEgress {
			continue
		}
		for _, c := range f.CIDRs {
			if c.Bits() == 0 || c.Contains(netip.MustParseAddr("8.8.8.8")) {
				t.Errorf("egress flow %s allows the internet range %s", f.Name, c)
			}
		}
		if len(f.Hosts) == 0 && len(f.CIDRs) == 0 {
			t.Errorf("egress flow %s has no destination", f.Name)
		}
		if slices.Contains(f.Hosts, "api.openai.com") && !slices.Equal(names(f.From), []string{"budgateway"}) {
			t.Errorf("flow %s lets %v call LLM APIs, want budgateway only", f.Name, names(f.From))
		}
	}
	if gw := p.Spec.EgressGateway; !gw.Enabled || gw.Workload == "" || gw.Note == "" {
		t.Errorf("egress gateway = %+v, want enabled with a workload and a note", gw)
	}
}

// TestBudEveryFlowIsExplained: each flow cites a guide row or says in a
// note why it exists (the guide's omissions and corrections).
func TestBudEveryFlowIsExplained(t *testing.T) {
	p := mustDefault(t)
	check := func(kind, name string, guide Guide, note string) {
		if guide == "" && note == "" {
			t.Errorf("%s flow %s has neither guide nor note", kind, name)
		}
		if guide != "" && !strings.HasPrefix(string(guide), "4.") {
			t.Errorf("%s flow %s cites %q, want a row of guide section 4", kind, name, guide)
		}
	}
	for _, f := range p.Spec.Flows.Ingress {
		check("ingress", f.Name, f.Guide, f.Note)
	}
	for _, f := range p.Spec.Flows.Internal {
		check("internal", f.Name, f.Guide, f.Note)
	}
	for _, f := range p.Spec.Flows.Egress {
		check("egress", f.Name, f.Guide, f.Note)
	}
	// Every row of the guide's three tables is implemented, except the
	// API-server row, which the cluster's apiServer note explains.
	rows := []string{"4.1 0.0.0.0/0 -> Load Balancer 443", "4.1 0.0.0.0/0 -> Load Balancer 80", "4.1 Monitoring",
		"4.2 bud-system -> bud-data (PostgreSQL)", "4.2 bud-system -> bud-data (ClickHouse)", "4.2 bud-system -> bud-data (Redis)",
		"4.2 bud-system -> bud-auth (Keycloak)", "4.2 bud-infra -> bud-system 9081", "4.2 Dapr sidecars",
		"4.3 bud-system -> External LLM APIs", "4.3 bud-system -> Cloud APIs", "4.3 bud-system -> Container registries",
		"4.3 bud-monitoring -> External alerting"}
	var cited []string
	for _, f := range p.Spec.Flows.Ingress {
		cited = append(cited, string(f.Guide))
	}
	for _, f := range p.Spec.Flows.Internal {
		cited = append(cited, string(f.Guide))
	}
	for _, f := range p.Spec.Flows.Egress {
		cited = append(cited, string(f.Guide))
	}
	for _, row := range rows {
		if !slices.ContainsFunc(cited, func(c string) bool { return strings.HasPrefix(c, row) }) {
			t.Errorf("no flow implements guide row %q", row)
		}
	}
	if !strings.Contains(p.Spec.Cluster.APIServer.Note, "6443") {
		t.Error("the cluster's apiServer note must explain guide 4.1's Admin IPs -> 6443 row")
	}
}

func TestDefaultReturnsFreshModels(t *testing.T) {
	a := mustDefault(t)
	a.Spec.Workloads[0].Name = "changed"
	a.Spec.Zones = nil
	b := mustDefault(t)
	if b.Spec.Workloads[0].Name == "changed" || len(b.Spec.Zones) != 6 {
		t.Error("Default shares state between calls")
	}
	y := BudYAML()
	y[0] = 'X'
	if BudYAML()[0] == 'X' {
		t.Error("BudYAML returns the embedded slice itself")
	}
}
