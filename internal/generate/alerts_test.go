package generate_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/rules"
	"sigs.k8s.io/yaml"

	"github.com/budnet/budnet/internal/generate"
	"github.com/budnet/budnet/internal/platform"
)

// ruleGroups extracts the PrometheusRule's spec (the rule groups, in the
// shape of a Prometheus rule file) as YAML.
func ruleGroups(t *testing.T, p *platform.Platform, o generate.Options) []byte {
	t.Helper()
	files, err := generate.Alerts(p, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || len(files[0].Objects) != 1 {
		t.Fatalf("files %v", files)
	}
	u := files[0].Objects[0]
	if u.GetNamespace() != p.Spec.Monitoring.Namespace {
		t.Errorf("namespace %s, want %s", u.GetNamespace(), p.Spec.Monitoring.Namespace)
	}
	for k, v := range p.Spec.Monitoring.Labels {
		if u.GetLabels()[k] != v {
			t.Errorf("label %s=%s missing", k, v)
		}
	}
	data, err := yaml.Marshal(u.Object["spec"])
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestAlertsParse runs Prometheus's own rule file parser (which also parses
// every expression and checks labels and templates) on the groups for each
// edge, and the PromQL parser on every expression.
func TestAlertsParse(t *testing.T) {
	for _, edge := range []platform.EdgeKind{platform.EdgeGatewayAPI, platform.EdgeTraefik, platform.EdgeNginx} {
		t.Run(string(edge), func(t *testing.T) {
			o := generate.Options{Edge: edge}
			data := ruleGroups(t, loadModel(t, ""), o)
			groups, errs := rulefmt.Parse(data, false, model.UTF8Validation, parser.NewParser(parser.Options{}), promslog.NewNopLogger())
			if len(errs) > 0 {
				t.Fatalf("rulefmt: %v\n%s", errs, data)
			}
			n := 0
			for _, g := range groups.Groups {
				for _, r := range g.Rules {
					if _, err := parser.NewParser(parser.Options{}).ParseExpr(r.Expr); err != nil {
						t.Errorf("%s: %v", r.Alert, err)
					}
					n++
				}
			}
			if n != len(generate.AlertRules(loadModel(t, ""), o)) {
				t.Errorf("%d rules parsed", n)
			}
		})
	}
}

// alertCase is a promtool-style rule unit test: series loaded with the
// promqltest notation, evaluated by the rules manager every 15s for 20
// minutes; the alert must be firing at the end on the bad series and never
// pending or firing on the good ones.
type alertCase struct {
	name  string
	alert string
	edge  platform.EdgeKind
	model string // empty: the embedded model
	bad   string
	good  string
}

func alertCases() []alertCase {
	return []alertCase{
		{name: "traefik 5xx", alert: "BudIngressErrorRateHigh", edge: platform.EdgeTraefik,
			bad:  `traefik_service_requests_total{code="500",service="budapp-x@kubernetescrd"} 0+6x400` + "\n" + `traefik_service_requests_total{code="200",service="budapp-x@kubernetescrd"} 0+94x400`,
			good: `traefik_service_requests_total{code="500",service="budapp-x@kubernetescrd"} 0+4x400` + "\n" + `traefik_service_requests_total{code="200",service="budapp-x@kubernetescrd"} 0+96x400`},
		{name: "gateway-api 5xx", alert: "BudIngressErrorRateHigh", edge: platform.EdgeGatewayAPI,
			bad:  `traefik_service_requests_total{code="503",service="x@kubernetesgateway"} 0+10x400` + "\n" + `traefik_service_requests_total{code="200",service="x@kubernetesgateway"} 0+90x400`,
			good: `traefik_service_requests_total{code="404",service="x@kubernetesgateway"} 0+10x400` + "\n" + `traefik_service_requests_total{code="200",service="x@kubernetesgateway"} 0+90x400`},
		{name: "nginx 5xx", alert: "BudIngressErrorRateHigh", edge: platform.EdgeNginx,
			bad:  `nginx_ingress_controller_requests{status="502",ingress="api"} 0+10x400` + "\n" + `nginx_ingress_controller_requests{status="200",ingress="api"} 0+90x400`,
			good: `nginx_ingress_controller_requests{status="502",ingress="api"} 0+1x400` + "\n" + `nginx_ingress_controller_requests{status="200",ingress="api"} 0+99x400`},
		{name: "mtls init", alert: "BudDaprMTLSInitFailure",
			bad: `dapr_runtime_mtls_init_fail_total{app_id="budapp"} 0x40 1x360`, good: `dapr_runtime_mtls_init_fail_total{app_id="budapp"} 0x400`},
		{name: "cert rotation", alert: "BudDaprCertRotationFailure",
			bad: `dapr_runtime_mtls_workload_cert_rotated_fail_total{app_id="budsim"} 0x40 2x60`, good: `dapr_runtime_mtls_workload_cert_rotated_fail_total{app_id="budsim"} 0x400`},
		{name: "sentry", alert: "BudDaprSentrySignFailure",
			bad: `dapr_sentry_cert_sign_failure_total 0x70 3x330`, good: `dapr_sentry_cert_sign_failure_total 5x400`},
		// Series in the shape Dapr v1.18.0 exports them (TestDaprAccessDeniedAlertReadsDaprSeries
		// checks the same against hack/dapr-check's scrape).
		{name: "access denied by an app policy", alert: "BudDaprAccessDenied",
			bad:  `dapr_runtime_acl_app_policy_action_blocked_total{app_id="budsim",namespace="bud-system",trustDomain="cluster.local",pod="budcluster-0"} 0x70 1x330`,
			good: `dapr_runtime_acl_app_policy_action_allowed_total{app_id="budsim",namespace="bud-system",trustDomain="cluster.local"} 0+5x400` + "\n" + `dapr_runtime_acl_app_policy_action_blocked_total{app_id="budsim",namespace="bud-system",trustDomain="cluster.local"} 3x400`},
		{name: "access denied by the global default", alert: "BudDaprAccessDenied",
			bad:  `dapr_runtime_acl_global_policy_action_blocked_total{app_id="intruder",namespace="bud-attacker",trustDomain="cluster.local"} 0x70 1x330`,
			good: `dapr_runtime_acl_global_policy_action_allowed_total{app_id="budapp",namespace="bud-system",trustDomain="cluster.local"} 0+1x400` + "\n" + `dapr_grpc_io_server_completed_rpcs{app_id="budsim",grpc_server_method="/dapr.proto.internals.v1.ServiceInvocation/CallLocal",grpc_server_status="PermissionDenied"} 0+1x400`},
		// Dapr exports an ACL counter series from its first refusal, at 1
		// (TestDaprdEnforcesGeneratedAccessControl, daprd v1.18.0): the first
		// refusal of a caller is a new series on a sidecar Prometheus was
		// already scraping; a sidecar first scraped with old refusals is not.
		{name: "access denied, first refusal of a caller", alert: "BudDaprAccessDenied",
			bad: `dapr_runtime_acl_global_policy_action_blocked_total{app_id="intruder",instance="10.0.3.7:9090",job="dapr-sidecars",namespace="bud-attacker",trustDomain="cluster.local"} _x40 1x360` + "\n" +
				`up{instance="10.0.3.7:9090",job="dapr-sidecars"} 1x400`,
			good: `dapr_runtime_acl_global_policy_action_blocked_total{app_id="intruder",instance="10.0.3.7:9090",job="dapr-sidecars",namespace="bud-attacker",trustDomain="cluster.local"} 3x400` + "\n" +
				`up{instance="10.0.3.7:9090",job="dapr-sidecars"} 1x400`},
		{name: "postgres", alert: "BudPostgresUnreachable",
			bad: `pg_up{instance="postgresql:9187"} 1x20 0x380`, good: `pg_up{instance="postgresql:9187"} 1x400`},
		{name: "redis", alert: "BudRedisUnreachable",
			bad: `redis_up{instance="valkey:9121"} 1x20 0x380`, good: `redis_up{instance="valkey:9121"} 1x400`},
		{name: "certificate not ready", alert: "BudCertificateNotReady",
			bad:  `certmanager_certificate_ready_status{condition="False",name="postgresql-tls",namespace="bud-data"} 1x400`,
			good: `certmanager_certificate_ready_status{condition="False",name="postgresql-tls",namespace="bud-data"} 0x400` + "\n" + `certmanager_certificate_ready_status{condition="True",name="postgresql-tls",namespace="bud-data"} 1x400`},
		{name: "certificate expiring", alert: "BudCertificateExpiringSoon",
			bad:  `certmanager_certificate_expiration_timestamp_seconds{name="valkey-tls",namespace="bud-data"} 86400x400`,
			good: `certmanager_certificate_expiration_timestamp_seconds{name="valkey-tls",namespace="bud-data"} 5184000x400`},
		{name: "egress volume", alert: "BudEgressVolumeHigh",
			// 15s steps: 300 MB a step is 20 MB/s, above the model's 10 MiB/s.
			bad:  `budnet_egress_bytes_total{source="budgateway",destination="api.openai.com",direction="sent"} 0+300000000x400`,
			good: `budnet_egress_bytes_total{source="budgateway",destination="api.openai.com",direction="sent"} 0+15000000x400`},
		{name: "pod egress volume without the gateway", alert: "BudPodEgressVolumeHigh", model: "../../examples/platforms/minimal.yaml",
			// 15s steps: 300 MB a step is 20 MB/s, above the default 10 MiB/s; a
			// namespace with no egress flow is not watched.
			bad: `container_network_transmit_bytes_total{namespace="shop",pod="api-7d9f",interface="eth0"} 0+300000000x400`,
			good: `container_network_transmit_bytes_total{namespace="shop",pod="api-7d9f",interface="eth0"} 0+15000000x400` + "\n" +
				`container_network_transmit_bytes_total{namespace="shop-data",pod="postgresql-0",interface="eth0"} 0+300000000x400`},
		{name: "egress connections near the limit", alert: "BudEgressConnectionsNearLimit",
			bad: `budnet_egress_active_connections{pod="budnet-egress-0"} 100x20 19000x380` + "\n" + `budnet_egress_connection_limit{pod="budnet-egress-0"} 20000x400`,
			// 85% on one pod; the other is over 90% of the first pod's limit but
			// not of its own: the ratio matches each pod with its own limit.
			good: `budnet_egress_active_connections{pod="budnet-egress-0"} 17000x400` + "\n" + `budnet_egress_connection_limit{pod="budnet-egress-0"} 20000x400` + "\n" +
				`budnet_egress_active_connections{pod="budnet-egress-1"} 19000x400` + "\n" + `budnet_egress_connection_limit{pod="budnet-egress-1"} 40000x400`},
		{name: "egress denied", alert: "BudEgressDenied",
			bad:  `budnet_egress_requests_total{source="budapp",destination="unlisted",decision="deny",reason="not_allowed"} 0x70 1x330`,
			good: `budnet_egress_requests_total{source="budapp",destination="api.openai.com",decision="allow",reason="allowed"} 0+1x400`},
	}
}

// TestAlertRules is the promtool test-rules equivalent for every alert.
func TestAlertRules(t *testing.T) {
	covered := map[string]bool{}
	for _, tc := range alertCases() {
		t.Run(tc.name, func(t *testing.T) {
			o := generate.Options{Edge: tc.edge}
			if tc.edge == "" {
				o.Edge = platform.EdgeGatewayAPI
			}
			data := ruleGroups(t, loadModel(t, tc.model), o)
			if !strings.Contains(string(data), "alert: "+tc.alert) {
				t.Fatalf("no alert %s", tc.alert)
			}
			if got := evalAlert(t, data, tc.alert, tc.bad); got != "firing" {
				t.Errorf("bad series: %s is %q, want firing", tc.alert, got)
			}
			if got := evalAlert(t, data, tc.alert, tc.good); got != "" {
				t.Errorf("good series: %s is %q, want quiet", tc.alert, got)
			}
		})
		covered[tc.alert] = true
	}
	for _, model := range []string{"", "../../examples/platforms/minimal.yaml", "../../examples/platforms/egress-gateway.yaml"} {
		for _, r := range generate.AlertRules(loadModel(t, model), generate.Options{}) {
			if !covered[r.Alert] {
				t.Errorf("alert %s (model %q) has no rule unit test", r.Alert, model)
			}
		}
	}
}

// evalAlert loads series, evaluates the rule group every 15s over 95
// minutes (longer than any alert's for) as Prometheus would, and returns
// the most serious state the alert reached: "firing", "pending", or "" when
// it never became active.
func evalAlert(t *testing.T, groups []byte, alert, series string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(file, groups, 0o644); err != nil {
		t.Fatal(err)
	}
	ll, err := promqltest.NewLazyLoader("load 15s\n"+indent(series), promqltest.LazyLoaderOpts{EnableAtModifier: true, EnableNegativeOffset: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ll.Close()
	m := rules.NewManager(&rules.ManagerOptions{
		QueryFunc:    rules.EngineQueryFunc(ll.QueryEngine(), ll.Storage()),
		AppendableV2: ll.Storage(),
		Context:      t.Context(),
		NotifyFunc:   func(context.Context, string, ...*rules.Alert) {},
		Logger:       promslog.NewNopLogger(),
	})
	loaded, errs := m.LoadGroups(15*time.Second, labels.EmptyLabels(), "", nil, false, file)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	worst := ""
	start := time.Unix(0, 0).UTC()
	for ts := start; !ts.After(start.Add(95 * time.Minute)); ts = ts.Add(15 * time.Second) {
		ll.WithSamplesTill(ts, func(err error) {
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range loaded {
				g.Eval(ll.Context(), ts)
				for _, r := range g.Rules() {
					if r.LastError() != nil {
						t.Fatalf("%s at %s: %v", r.Name(), ts, r.LastError())
					}
				}
			}
		})
		for _, g := range loaded {
			for _, ar := range g.AlertingRules() {
				if ar.Name() != alert {
					continue
				}
				for _, a := range ar.ActiveAlerts() {
					if s := a.State.String(); worst != "firing" {
						worst = s
					}
				}
			}
		}
	}
	return worst
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}
