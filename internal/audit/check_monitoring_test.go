package audit

import (
	"strings"
	"testing"
)

func rule(alert, expr string) string {
	return `apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: alerts, namespace: bud-monitoring}
spec:
  groups:
    - name: g
      rules:
        - alert: ` + alert + `
          expr: '` + expr + `'
`
}

// daprApp is a workload the Dapr injector will patch, so Dapr alert families apply.
const daprApp = `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: budapp, namespace: bud-system}
spec:
  selector: {matchLabels: {app: budapp}}
  template:
    metadata:
      labels: {app: budapp}
      annotations: {dapr.io/enabled: "true", dapr.io/app-id: budapp}
    spec: {containers: [{name: app, image: budapp}]}
`

// TestAlertAttacks: an alert counts only when Prometheus's parser finds a
// real metric of the family in its expression, with the status filter where
// the family needs one.
func TestAlertAttacks(t *testing.T) {
	tests := []struct {
		name, yaml, family string
		want               Status
		msg                string
	}{
		{name: "right name, made-up metric", yaml: rule("DaprMTLSFailure", `increase(dapr_mtls_errors_total[5m]) > 0`) + daprApp, family: "dapr-mtls-failure", want: StatusFail, msg: "named like it"},
		{name: "Dapr families do not apply where nothing runs Dapr", yaml: rule("DBDown", `pg_up == 0`), family: "dapr-policy-violation", want: StatusNotApplicable, msg: "no workload runs a Dapr sidecar"},
		{name: "a Dapr workload without Dapr alerts fails", yaml: rule("DBDown", `pg_up == 0`) + daprApp, family: "dapr-mtls-failure", want: StatusFail},
		{name: "metric in a comment-like string does not count", yaml: rule("IngressErrors", `vector(1) > 0 and on() label_replace(vector(1), "x", "traefik_service_requests_total", "", "")`), family: "ingress-error-rate", want: StatusFail},
		{name: "ingress metric without a 5xx filter", yaml: rule("IngressErrors", `rate(traefik_service_requests_total[5m]) > 100`), family: "ingress-error-rate", want: StatusFail, msg: "status filter"},
		{name: "nginx 5xx ratio", yaml: rule("IngressErrors", `sum(rate(nginx_ingress_controller_requests{status=~"5.."}[5m])) / sum(rate(nginx_ingress_controller_requests[5m])) > 0.05`), family: "ingress-error-rate", want: StatusPass},
		{name: "gRPC permission denied", yaml: rule("DaprDenied", `increase(dapr_grpc_io_server_completed_rpcs{grpc_server_status="PermissionDenied"}[5m]) > 0`) + daprApp, family: "dapr-policy-violation", want: StatusPass},
		{name: "Dapr ACL refusals", yaml: rule("DaprDenied", `sum by (app_id) (increase(dapr_runtime_acl_app_policy_action_blocked_total[5m])) > 0 or sum by (app_id) (increase(dapr_runtime_acl_global_policy_action_blocked_total[5m])) > 0`) + daprApp, family: "dapr-policy-violation", want: StatusPass},
		{name: "Dapr ACL allowances are not refusals", yaml: rule("DaprDenied", `increase(dapr_runtime_acl_app_policy_action_allowed_total[5m]) > 0`) + daprApp, family: "dapr-policy-violation", want: StatusFail, msg: "named like it"},
		{name: "unparsable expression", yaml: rule("Broken", `rate(pg_up[5m]`), family: "Broken", want: StatusFail, msg: "does not parse"},
		{name: "a recording rule does not alert", yaml: strings.Replace(rule("x", `pg_up == 0`), "alert: x", "record: db:up", 1), family: "database-connection", want: StatusFail},
		{name: "egress gateway bytes", yaml: rule("EgressUnusual", `sum by (source) (rate(budnet_egress_bytes_total[10m])) > 1e7`), family: "egress-volume", want: StatusPass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := runYAML(t, checkAlerts(), tt.yaml)
			st, msg := statusOf(rs, tt.family)
			if st != tt.want {
				t.Fatalf("status %q (%s), want %q; results %+v", st, msg, tt.want, rs)
			}
			if tt.msg != "" && !strings.Contains(msg, tt.msg) {
				t.Errorf("message %q does not say %q", msg, tt.msg)
			}
		})
	}
}
