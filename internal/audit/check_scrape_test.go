package audit

import (
	"strings"
	"testing"
)

func promConfigMap(jobs string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: prom, namespace: bud-monitoring}\ndata:\n  prometheus.yml: |\n    scrape_configs:\n" + jobs
}

// TestScrapeAttacks tries to get past BUD-10.1-02: the token in each of
// Prometheus's spellings, the default scheme, additional scrape configs in
// a base64 Secret, and ServiceMonitor string booleans.
func TestScrapeAttacks(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want Status
		msg  string
	}{
		{name: "bearer_token_file with insecure_skip_verify", yaml: promConfigMap("      - job_name: k\n        scheme: https\n        bearer_token_file: /t\n        tls_config: {insecure_skip_verify: true}\n"), want: StatusFail, msg: "insecure_skip_verify"},
		{name: "inline bearer_token", yaml: promConfigMap("      - job_name: k\n        scheme: https\n        bearer_token: abc\n        tls_config: {insecure_skip_verify: true}\n"), want: StatusFail},
		{name: "authorization credentials_file", yaml: promConfigMap("      - job_name: k\n        scheme: HTTPS\n        authorization: {credentials_file: /t}\n        tls_config: {insecure_skip_verify: true}\n"), want: StatusFail},
		{name: "basic auth", yaml: promConfigMap("      - job_name: k\n        scheme: https\n        basic_auth: {username: u, password: p}\n        tls_config: {insecure_skip_verify: true}\n"), want: StatusFail},
		{name: "token over the default scheme http", yaml: promConfigMap("      - job_name: k\n        bearer_token_file: /t\n"), want: StatusFail, msg: "http (the default)"},
		{name: "insecure without credentials", yaml: promConfigMap("      - job_name: k\n        scheme: https\n        tls_config: {insecure_skip_verify: true}\n"), want: StatusPartial},
		{name: "both bearer_token and authorization are refused by Prometheus", yaml: promConfigMap("      - job_name: k\n        scheme: https\n        bearer_token: a\n        authorization: {credentials: b}\n"), want: StatusFail, msg: "refuses"},
		{name: "verified https with a token", yaml: promConfigMap("      - job_name: k\n        scheme: https\n        bearer_token_file: /t\n        tls_config: {ca_file: /ca.crt}\n"), want: StatusPass},
		{name: "Operator additional scrape configs in a base64 Secret", yaml: "apiVersion: v1\nkind: Secret\nmetadata: {name: additional-scrape-configs, namespace: bud-monitoring}\ndata:\n  prometheus-additional.yaml: " +
			b64("- job_name: kubelet\n  scheme: https\n  bearer_token_file: /t\n  tls_config:\n    insecure_skip_verify: true\n"), want: StatusFail},
		{name: "ServiceMonitor string true", yaml: "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: m, namespace: bud-monitoring}\nspec:\n  endpoints:\n    - {port: metrics, scheme: https, bearerTokenSecret: {name: s, key: t}, tlsConfig: {insecureSkipVerify: \"true\"}}\n", want: StatusFail},
		{name: "PodMonitor with basic auth over http", yaml: "apiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\nmetadata: {name: m, namespace: bud-monitoring}\nspec:\n  podMetricsEndpoints:\n    - {port: metrics, basicAuth: {username: {name: s, key: u}}}\n", want: StatusFail},
		{name: "ServiceMonitor without credentials", yaml: "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: m, namespace: bud-monitoring}\nspec:\n  endpoints:\n    - {port: metrics}\n", want: StatusPass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := runYAML(t, checkScrapeTLS(), tt.yaml)
			st, msg := statusOf(rs, "")
			if st != tt.want {
				t.Fatalf("status %q (%s), want %q; results %+v", st, msg, tt.want, rs)
			}
			if tt.msg != "" && !strings.Contains(msg, tt.msg) {
				t.Errorf("message %q does not say %q", msg, tt.msg)
			}
		})
	}
}

// TestScrapeEvidenceLine: the finding points at the job's line inside the
// ConfigMap's block scalar, not at the key.
func TestScrapeEvidenceLine(t *testing.T) {
	y := promConfigMap("      - job_name: other\n        scheme: https\n      - job_name: nodes\n        bearer_token_file: /t\n")
	for _, r := range runYAML(t, checkScrapeTLS(), y) {
		if strings.HasSuffix(r.Subject, "job nodes") {
			if got := r.Evidence[0].Line; got != 9 {
				t.Fatalf("line %d, want 9 (job_name: nodes)", got)
			}
			return
		}
	}
	t.Fatal("no result for job nodes")
}
