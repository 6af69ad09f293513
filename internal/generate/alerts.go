package generate

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/budnet/budnet/internal/alertmetrics"
	"github.com/budnet/budnet/internal/egress/metricnames"
	"github.com/budnet/budnet/internal/platform"
)

// FileAlerts holds the PrometheusRule.
const FileAlerts = "60-alerts.yaml"

// PrometheusRule names.
const (
	apiMonitoring      = "monitoring.coreos.com/v1"
	kindPrometheusRule = "PrometheusRule"
	// AlertRuleName is the PrometheusRule's name; its one group is
	// AlertGroupName.
	AlertRuleName  = "budnet-security"
	AlertGroupName = "budnet-security.rules"
)

// The alerts read the metrics of the exporters by the names in
// internal/alertmetrics (sources there), which audit's alert check reads
// too, and the egress gateway's by those in internal/egress/metricnames.

// Rule is one alerting rule of the PrometheusRule, in rulefmt's shape.
type Rule struct {
	Alert       string
	Expr        string
	For         string
	Severity    string
	Summary     string
	Description string
}

// Alerts implements guide section 10.1: a PrometheusRule in the model's
// monitoring namespace (else the Prometheus workload's zone) carrying the
// model's monitoring labels, so the Prometheus instance's ruleSelector
// picks it up. A model with no place for it gets no file.
func Alerts(p *platform.Platform, o Options) ([]File, error) {
	ns := monitoringNamespace(p)
	if ns == "" {
		return nil, nil
	}
	rules := AlertRules(p, o)
	list := make([]any, 0, len(rules))
	for _, r := range rules {
		list = append(list, map[string]any{
			"alert": r.Alert,
			"expr":  r.Expr,
			"for":   r.For,
			"labels": map[string]any{
				"severity": r.Severity,
				"guide":    "10.1",
			},
			"annotations": map[string]any{"summary": r.Summary, "description": r.Description},
		})
	}
	u := Object(apiMonitoring, kindPrometheusRule, ns, AlertRuleName, "spec.monitoring",
		"10.1 security alerts", map[string]any{"spec": map[string]any{"groups": []any{
			map[string]any{"name": AlertGroupName, "rules": list},
		}}})
	labels := u.GetLabels()
	for k, v := range p.Spec.Monitoring.Labels {
		labels[k] = v
	}
	labels[LabelManagedBy] = ManagedBy
	u.SetLabels(labels)
	return []File{{Name: FileAlerts, Concern: "security alerts (guide 10.1)", Objects: []*unstructured.Unstructured{u}}}, nil
}

// monitoringNamespace is spec.monitoring.namespace, else the zone of a
// workload named prometheus, else "".
func monitoringNamespace(p *platform.Platform) string {
	if ns := p.Spec.Monitoring.Namespace; ns != "" {
		return ns
	}
	if w, ok := p.Workload("prometheus"); ok {
		return w.Zone
	}
	return ""
}

// AlertRules are the alerts for the model and the chosen edge, in a stable
// order. Only alerts whose exporter the model has are included: Dapr alerts
// with Dapr apps, database alerts per datastore kind, egress alerts with the
// egress gateway.
func AlertRules(p *platform.Platform, o Options) []Rule {
	rules := []Rule{ingressErrorRule(p, o)}
	if len(daprZones(p)) > 0 {
		rules = append(rules, daprRules()...)
	}
	rules = append(rules, databaseRules(p)...)
	if p.Spec.EgressGateway.Enabled {
		rules = append(rules, egressAlertRules(p)...)
	} else if r, ok := podEgressVolumeRule(p); ok {
		rules = append(rules, r)
	}
	return rules
}

// defaultEgressBytesPerSecond is the volume per pod that counts as unusual
// when the model sets none: 10 MiB/s.
const defaultEgressBytesPerSecond = 10 << 20

// podEgressVolumeRule watches egress volume where no egress gateway counts
// it: the kubelet's cAdvisor exports container_network_transmit_bytes_total
// per pod. It counts everything the pod sends, in-cluster traffic too, so it
// is scoped to the namespaces of workloads the model lets leave the cluster.
func podEgressVolumeRule(p *platform.Platform) (Rule, bool) {
	var zones []string
	for _, f := range p.Spec.Flows.Egress {
		for _, w := range p.Select(f.From) {
			if !slices.Contains(zones, w.Zone) {
				zones = append(zones, w.Zone)
			}
		}
	}
	if len(zones) == 0 {
		return Rule{}, false
	}
	slices.Sort(zones)
	limit := p.Spec.Monitoring.EgressBytesPerSecond
	if limit <= 0 {
		limit = defaultEgressBytesPerSecond
	}
	return Rule{Alert: "BudPodEgressVolumeHigh", Severity: "warning", For: "10m",
		Expr: fmt.Sprintf(`sum by (namespace, pod) (rate(%s{namespace=~"%s"}[5m])) > %d`,
			alertmetrics.PodTransmitBytes, strings.Join(zones, "|"), limit),
		Summary: "Unusual egress volume",
		Description: fmt.Sprintf("{{ $labels.namespace }}/{{ $labels.pod }} sends {{ $value | humanize }}B/s, above the expected %d B/s: a possible exfiltration. "+
			"Without the egress gateway this counts all traffic the pod sends.", limit)}, true
}

// ingressErrorRule fires when the edge's share of 5xx responses stays above
// the model's threshold for 5 minutes.
func ingressErrorRule(p *platform.Platform, o Options) Rule {
	metric, codeLabel, who := alertmetrics.TraefikServiceRequests, "code", "Traefik"
	if edgeKind(p, o) == platform.EdgeNginx {
		metric, codeLabel, who = alertmetrics.NginxRequests, "status", "ingress-nginx"
	}
	threshold := p.Spec.Monitoring.IngressErrorRate
	if threshold == 0 {
		threshold = platform.DefaultIngressErrorRate
	}
	t := strconv.FormatFloat(threshold, 'g', -1, 64)
	return Rule{
		Alert: "BudIngressErrorRateHigh",
		Expr: fmt.Sprintf(`sum(rate(%[1]s{%[2]s=~"5.."}[5m])) / sum(rate(%[1]s[5m])) > %[3]s`,
			metric, codeLabel, t),
		For:         "5m",
		Severity:    "warning",
		Summary:     "Edge 5xx error rate above " + percent(threshold),
		Description: fmt.Sprintf("More than %s of the responses %s served in the last 5 minutes were server errors ({{ $value | humanizePercentage }}).", percent(threshold), who),
	}
}

func percent(f float64) string {
	return strconv.FormatFloat(f*100, 'g', -1, 64) + "%"
}

// daprRules fire on any mTLS failure or access-policy refusal: each is a
// security event worth a look, so there is no threshold and no wait.
func daprRules() []Rule {
	return []Rule{
		{Alert: "BudDaprMTLSInitFailure", Severity: "critical", For: "0s",
			Expr:        fmt.Sprintf(`sum by (app_id) (increase(%s[5m])) > 0`, alertmetrics.DaprMTLSInitFail),
			Summary:     "Dapr sidecar could not set up mTLS",
			Description: "The Dapr sidecar of {{ $labels.app_id }} failed to initialise its mTLS authenticator; service invocation to and from it fails."},
		{Alert: "BudDaprCertRotationFailure", Severity: "critical", For: "0s",
			Expr:        fmt.Sprintf(`sum by (app_id) (increase(%s[5m])) > 0`, alertmetrics.DaprMTLSCertRotatedFail),
			Summary:     "Dapr workload certificate rotation failed",
			Description: "The Dapr sidecar of {{ $labels.app_id }} could not rotate its workload certificate; it stops talking once the certificate expires."},
		{Alert: "BudDaprSentrySignFailure", Severity: "critical", For: "0s",
			Expr:        fmt.Sprintf(`sum(increase(%s[5m])) > 0`, alertmetrics.DaprSentryCertSignFailure),
			Summary:     "Dapr sentry refused or failed to sign certificates",
			Description: "dapr-sentry failed {{ $value }} certificate signing requests in 5 minutes: sidecars without certificates cannot use mTLS."},
		// Refused by an app policy (a known caller, an operation or verb it
		// is not granted) or by the global default (an unknown caller,
		// namespace or trust domain, or no certificate). app_id is the
		// caller's; pod, when the scrape config adds it, is the callee's.
		{Alert: "BudDaprAccessDenied", Severity: "warning", For: "0s",
			Expr:        aclBlockedExpr(alertmetrics.DaprACLAppPolicyBlocked) + " or " + aclBlockedExpr(alertmetrics.DaprACLGlobalPolicyBlocked),
			Summary:     "Dapr access control refused a service invocation",
			Description: "Dapr accessControl refused {{ $value }} service invocations from app id \"{{ $labels.app_id }}\" (empty: no workload certificate) in 5 minutes: a caller outside the intended flows, or a policy missing a flow."},
	}
}

// aclBlockedExpr selects the callers refused in the last 5 minutes in one
// of Dapr's ACL counters. Dapr's OpenCensus counters export a series only
// from its first increment, at 1 (seen on daprd v1.18.0 in
// TestDaprdEnforcesGeneratedAccessControl), and increase() needs two
// samples of a series: the first refusal of each caller, namespace and
// trust domain (a single probe from an intruder) never shows as an
// increase. A series that a sidecar Prometheus already scraped five minutes
// ago (up offset 5m, by the target's job and instance) shows now and did
// not then is that first refusal; a sidecar first scraped with old
// refusals (a Prometheus restart) is not.
func aclBlockedExpr(metric string) string {
	return fmt.Sprintf(`sum by (app_id, pod) (increase(%[1]s[5m])) > 0 or `+
		`sum by (app_id, pod) ((%[1]s unless %[1]s offset 5m) and on (job, instance) (up offset 5m == 1)) > 0`, metric)
}

// databaseRules: a datastore the exporters cannot reach (refused or TLS
// failure), and TLS certificates cert-manager cannot issue or renew.
func databaseRules(p *platform.Platform) []Rule {
	var protos []string
	tls := false
	for i := range p.Spec.Workloads {
		w := &p.Spec.Workloads[i]
		if w.Role != platform.RoleDatastore {
			continue
		}
		for _, np := range w.Ports {
			protos = append(protos, np.AppProtocol)
			tls = tls || np.TLS
		}
	}
	var rules []Rule
	if slices.Contains(protos, "postgresql") {
		rules = append(rules, Rule{Alert: "BudPostgresUnreachable", Severity: "critical", For: "2m",
			Expr:        alertmetrics.PostgresUp + " == 0",
			Summary:     "PostgreSQL refuses connections or the TLS handshake",
			Description: "postgres_exporter ({{ $labels.instance }}) cannot connect: the server refuses connections or TLS (certificate or sslmode mismatch)."})
	}
	if slices.Contains(protos, "redis") {
		rules = append(rules, Rule{Alert: "BudRedisUnreachable", Severity: "critical", For: "2m",
			Expr:        alertmetrics.RedisUp + " == 0",
			Summary:     "Redis/Valkey refuses connections or the TLS handshake",
			Description: "redis_exporter ({{ $labels.instance }}) cannot connect: the server refuses connections or TLS (rediss:// certificate mismatch)."})
	}
	if tls {
		rules = append(rules,
			Rule{Alert: "BudCertificateNotReady", Severity: "critical", For: "10m",
				Expr:        alertmetrics.CertManagerCertificateReady + `{condition="False"} == 1`,
				Summary:     "A TLS certificate is not ready",
				Description: "cert-manager cannot issue {{ $labels.namespace }}/{{ $labels.name }}: TLS to the service fails once the old certificate expires."},
			Rule{Alert: "BudCertificateExpiringSoon", Severity: "warning", For: "1h",
				Expr:        alertmetrics.CertManagerCertificateExpiry + " - time() < 7 * 86400",
				Summary:     "A TLS certificate expires within 7 days",
				Description: "{{ $labels.namespace }}/{{ $labels.name }} expires in less than a week and has not been renewed."})
	}
	return rules
}

// egressAlertRules watch the egress gateway: volume per source above the
// model's egressBytesPerSecond (when set) and any refused request.
func egressAlertRules(p *platform.Platform) []Rule {
	var rules []Rule
	if limit := p.Spec.Monitoring.EgressBytesPerSecond; limit > 0 {
		rules = append(rules, Rule{Alert: "BudEgressVolumeHigh", Severity: "warning", For: "10m",
			Expr:        fmt.Sprintf(`sum by (source) (rate(%s[5m])) > %d`, metricnames.Bytes, limit),
			Summary:     "Unusual egress volume",
			Description: fmt.Sprintf("{{ $labels.source }} sends and receives {{ $value | humanize }}B/s through the egress gateway, above the expected %d B/s: a possible exfiltration.", limit)})
	}
	rules = append(rules, Rule{Alert: "BudEgressConnectionsNearLimit", Severity: "warning", For: "5m",
		Expr:        fmt.Sprintf(`%s / %s > 0.9`, metricnames.ActiveConns, metricnames.ConnLimit),
		Summary:     "The egress gateway is near its connection limit",
		Description: "{{ $labels.pod }} holds {{ $value | humanizePercentage }} of its --max-connections; at the limit new connections wait in the listen backlog. Scale out (the HorizontalPodAutoscaler) or raise the limit."})
	rules = append(rules, Rule{Alert: "BudEgressDenied", Severity: "warning", For: "0s",
		Expr:        fmt.Sprintf(`sum by (source, reason) (increase(%s{decision!="allow"}[5m])) > 0`, metricnames.Requests),
		Summary:     "The egress gateway refused requests",
		Description: "{{ $labels.source }} tried {{ $value }} connections the allowlist refuses ({{ $labels.reason }})."})
	return rules
}
