package audit

import (
	"strings"
	"testing"
)

func daprsystem(mtls string) string {
	return budappDeployment + `---
apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata: {name: daprsystem, namespace: bud-infra}
spec:
` + mtls + "\n"
}

func appConfig(spec string) string {
	return strings.Replace(budappDeployment, "dapr.io/app-id: budapp}", "dapr.io/app-id: budapp, dapr.io/config: bud-config}", 1) + `---
apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata: {name: bud-config, namespace: bud-system}
spec:
` + spec + "\n"
}

// sentryDeployment is dapr-sentry as Dapr's chart renders it
// (dapr/dapr charts/dapr/charts/dapr_sentry/templates/dapr_sentry_deployment.yaml):
// the label app: dapr-sentry and the annotation dapr.io/control-plane.
const sentryDeployment = `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: dapr-sentry, namespace: dapr-system, labels: {app: dapr-sentry}}
spec:
  selector: {matchLabels: {app: dapr-sentry}}
  template:
    metadata:
      labels: {app: dapr-sentry, app.kubernetes.io/part-of: dapr, app.kubernetes.io/component: sentry}
      annotations: {dapr.io/control-plane: sentry}
    spec:
      containers: [{name: dapr-sentry, image: ghcr.io/dapr/sentry:1.16.0, ports: [{containerPort: 50001}]}]
`

func component(meta string) string {
	return `apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: statestore, namespace: bud-system}
spec:
  type: state.redis
  version: v1
  metadata:
    - {name: redisHost, value: "valkey.bud-data:6379"}
` + meta + "\n"
}

// TestMeshAttacks covers the Dapr pitfalls: booleans written as strings, an
// mtls block with no enabled field, access control that allows by default,
// and Redis TLS flags that do not say true.
func TestMeshAttacks(t *testing.T) {
	tests := []struct {
		name  string
		check Check
		yaml  string
		want  Status
		msg   string
	}{
		{name: `mtls enabled "false" is a string`, check: checkDaprMTLS(), yaml: daprsystem(`  mtls: {enabled: "false"}`), want: StatusFail, msg: `the string "false"`},
		{name: `mtls enabled "true" is a string too`, check: checkDaprMTLS(), yaml: daprsystem(`  mtls: {enabled: "true"}`), want: StatusFail, msg: "not a boolean"},
		{name: "mtls without enabled is false", check: checkDaprMTLS(), yaml: daprsystem(`  mtls: {workloadCertTTL: 24h}`), want: StatusFail, msg: "zero value is false"},
		{name: "mtls enabled true", check: checkDaprMTLS(), yaml: daprsystem(`  mtls: {enabled: true}`), want: StatusPass},
		{name: "an app Configuration's mtls block does not count", check: checkDaprMTLS(),
			yaml: appConfig(`  mtls: {enabled: true}`) + sentryDeployment, want: StatusFail, msg: "no Configuration daprsystem"},
		{name: "a control plane by its annotation alone, without daprsystem, fails", check: checkDaprMTLS(),
			yaml: budappDeployment + strings.ReplaceAll(sentryDeployment, "app: dapr-sentry", "app: sentry"), want: StatusFail, msg: "no Configuration daprsystem"},
		{name: "no control plane in the input: not judged, with the way to include it", check: checkDaprMTLS(),
			yaml: appConfig(`  mtls: {enabled: true}`), want: StatusNotApplicable, msg: "not judged: no Dapr control plane in the input"},
		{name: "a Dapr app alone is not judged either", check: checkDaprMTLS(),
			yaml: budappDeployment, want: StatusNotApplicable, msg: "--cluster"},
		{name: "no Dapr workloads: not applicable", check: checkDaprMTLS(), yaml: strings.Replace(daprsystem(`  mtls: {enabled: false}`), `dapr.io/enabled: "true"`, `dapr.io/enabled: "yes"`, 1), want: ""},
		{name: "defaultAction allow", check: checkDaprAccessControl(), yaml: appConfig(`  accessControl: {defaultAction: allow, trustDomain: cluster.local}`), want: StatusFail, msg: "defaultAction is allow"},
		{name: "accessControl without defaultAction allows", check: checkDaprAccessControl(), yaml: appConfig(`  accessControl: {trustDomain: cluster.local}`), want: StatusFail, msg: "unset (allow)"},
		{name: "deny by default, but one app may call everything", check: checkDaprAccessControl(),
			yaml: appConfig(`  accessControl: {defaultAction: deny, policies: [{appId: budadmin, defaultAction: allow}]}`), want: StatusPartial, msg: "budadmin"},
		{name: "no dapr.io/config at all", check: checkDaprAccessControl(), yaml: budappDeployment, want: StatusFail, msg: "names no Dapr Configuration"},
		{name: "Configuration referenced but missing", check: checkDaprAccessControl(),
			yaml: strings.Replace(budappDeployment, "dapr.io/app-id: budapp}", "dapr.io/app-id: budapp, dapr.io/config: nowhere}", 1), want: StatusFail, msg: "not in the input"},
		{name: `enableTLS "false"`, check: checkDaprRedisTLS(), yaml: component(`    - {name: enableTLS, value: "false"}`), want: StatusFail, msg: `enableTLS "false"`},
		{name: "enableTLS from a secret is unknown", check: checkDaprRedisTLS(), yaml: component(`    - {name: enableTLS, secretKeyRef: {name: redis, key: tls}}`), want: StatusPartial},
		{name: "enableTLS TRUE", check: checkDaprRedisTLS(), yaml: component(`    - {name: enableTLS, value: "TRUE"}`), want: StatusPass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := runYAML(t, tt.check, tt.yaml)
			st, msg := statusOf(rs, "")
			if st != tt.want {
				t.Fatalf("status %q (%s), want %q", st, msg, tt.want)
			}
			if tt.msg != "" && !strings.Contains(msg, tt.msg) {
				t.Errorf("message %q does not say %q", msg, tt.msg)
			}
		})
	}
}
