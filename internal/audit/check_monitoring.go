package audit

import (
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/budnet/budnet/internal/alertmetrics"
	"github.com/budnet/budnet/internal/egress/metricnames"
	"github.com/budnet/budnet/internal/manifest"
)

// Guide section 10.1: alerts. An alert counts for a family only when its
// expression, parsed with Prometheus's own PromQL parser, selects a metric
// the component really exports; an alert whose name fits but whose
// expression queries a made-up metric never fires.

type alertFamily struct {
	name, what string
	metrics    []string
	// matcher, when set, must hold for some label matcher of the selector
	// (a 5xx code filter, a 403 status filter).
	matcher func(*labels.Matcher) bool
	// denials are metrics that count only refusals, so they need no
	// status filter.
	denials []string
	words   []string // words of alert names that suggest the family
	// dapr families apply only where Dapr runs.
	dapr bool
}

func codeFilter(prefix ...string) func(*labels.Matcher) bool {
	return func(m *labels.Matcher) bool {
		switch m.Name {
		case "code", "status", "status_code", "response_code", "envoy_response_code_class", "grpc_server_status":
		default:
			return false
		}
		if m.Type != labels.MatchEqual && m.Type != labels.MatchRegexp {
			return false
		}
		for _, p := range prefix {
			if strings.HasPrefix(m.Value, p) || strings.Contains(m.Value, "|"+p) {
				return true
			}
		}
		return false
	}
}

// alertFamilies lists section 10.1's alerts with the metrics that can carry
// them: Traefik (https://doc.traefik.io/traefik/observability/metrics/overview/),
// ingress-nginx (nginx_ingress_controller_requests), Envoy-based Gateway API
// implementations; Dapr's metrics (docs/development/dapr-metrics.md in
// dapr/dapr); the PostgreSQL, Redis and MongoDB exporters and the blackbox
// exporter (Dapr labels gRPC results with status.Code(err).String(), e.g.
// "PermissionDenied": pkg/diagnostics/grpc_monitoring.go); budnet's egress gateway (internal/egress/metrics.go) and
// cAdvisor's per-pod network counters.
var alertFamilies = []alertFamily{
	{name: "ingress-error-rate", what: "ingress error rate (5xx) above the threshold",
		metrics: []string{alertmetrics.TraefikServiceRequests, alertmetrics.TraefikEntrypointRequests, alertmetrics.TraefikRouterRequests,
			alertmetrics.NginxRequests, alertmetrics.EnvoyUpstreamRequests, alertmetrics.EnvoyDownstreamRequestsXX, alertmetrics.EnvoyUpstreamRequestsXX},
		matcher: codeFilter("5"), words: []string{"ingress", "5xx", "error"}},
	{name: "dapr-mtls-failure", what: "Dapr mTLS failures",
		metrics: []string{alertmetrics.DaprMTLSInitFail, alertmetrics.DaprMTLSCertRotatedFail,
			alertmetrics.DaprSentryCertSignFailure, alertmetrics.DaprSentryServerCertIssueFail},
		words: []string{"mtls", "sentry", "cert"}, dapr: true},
	{name: "dapr-policy-violation", what: "Dapr access-policy violations (HTTP 403, gRPC PermissionDenied)",
		metrics: []string{alertmetrics.DaprHTTPServerRequests, alertmetrics.DaprGRPCServerCompletedRPCs,
			alertmetrics.DaprInvocationResponsesSent, alertmetrics.DaprInvocationResponsesRecv},
		matcher: codeFilter("403", "PermissionDenied", "PERMISSION_DENIED"),
		// Dapr's access-control counters (dapr v1.18.0 pkg/acl/acl.go
		// emitACLMetrics) count every refusal, CallLocalStream included,
		// which the gRPC server metric does not see.
		denials: []string{alertmetrics.DaprACLAppPolicyBlocked, alertmetrics.DaprACLGlobalPolicyBlocked},
		words:   []string{"policy", "acl", "access", "denied"}, dapr: true},
	{name: "database-connection", what: "database connections refused or failing TLS",
		metrics: []string{alertmetrics.PostgresUp, alertmetrics.RedisUp, alertmetrics.MongoDBUp, alertmetrics.MySQLUp, alertmetrics.KafkaBrokers, alertmetrics.ProbeSuccess, alertmetrics.ProbeSSLEarliestCertExpiry,
			alertmetrics.RedisRejectedConnections, alertmetrics.PostgresBackends},
		words: []string{"database", "postgres", "redis", "valkey", "db", "connection"}},
	{name: "egress-volume", what: "unusual egress volume",
		metrics: []string{metricnames.Bytes, metricnames.Requests, alertmetrics.PodTransmitBytes, alertmetrics.HubbleFlowsProcessed},
		words:   []string{"egress", "outbound", "exfil"}},
}

type alertRule struct {
	obj   *manifest.Object
	field string
	name  string
	sels  [][]*labels.Matcher
}

func checkAlerts() Check {
	return Check{
		ID: "BUD-10.1-01", Title: "Every alert family of section 10.1 has a working alert rule", Section: "10.1", Severity: SeverityMedium,
		Remediation: "Apply the PrometheusRule `budnet generate` emits (ingress 5xx rate above the model's monitoring.ingressErrorRate, Dapr mTLS failures and 403s, database exporters' up == 0, budnet egress bytes above monitoring.egressBytesPerSecond), labelled for your Prometheus.",
		Doc:         docOf("BUD-10.1-01"),
		Run:         runAlerts,
	}
}

func runAlerts(c *Context) []Result {
	if len(c.Inventory.Objects) == 0 {
		return nil
	}
	var rules []alertRule
	var out []Result
	p := parser.NewParser(parser.Options{})
	for _, o := range objectsOf(c.Inventory, groupsPromOp, "PrometheusRule") {
		for i, g := range nestedSlice(o, "spec", "groups") {
			for j, r := range sliceIn(asMap(g), "rules") {
				rm := asMap(r)
				name := stringIn(rm, "alert")
				if name == "" {
					continue
				}
				field := fmt.Sprintf("spec.groups[%d].rules[%d]", i, j)
				expr, err := p.ParseExpr(stringIn(rm, "expr"))
				if err != nil {
					out = append(out, res(StatusFail, o.Ref()+" "+name, "the alert's expression does not parse, so Prometheus rejects the rule group: "+err.Error(),
						ObjectEvidence(o, field+".expr", "parse error")))
					continue
				}
				rules = append(rules, alertRule{obj: o, field: field, name: name, sels: parser.ExtractSelectors(expr)})
			}
		}
	}
	dapr := usesDapr(c.Inventory)
	for _, f := range alertFamilies {
		if f.dapr && !dapr {
			// A platform without Dapr exports no Dapr metrics: an alert on them
			// could never fire, and demanding one would only teach users to
			// add dead rules.
			out = append(out, res(StatusNotApplicable, f.name, "no workload runs a Dapr sidecar, so there are no "+f.what+" to alert on"))
			continue
		}
		out = append(out, familyResult(f, rules))
	}
	return out
}

// usesDapr reports whether any workload gets a Dapr sidecar or any Dapr
// object (Configuration, Component) is deployed.
func usesDapr(inv *manifest.Inventory) bool {
	for _, w := range inv.Workloads {
		if w.Dapr != nil {
			return true
		}
	}
	for _, o := range inv.Objects {
		if strings.HasPrefix(o.APIVersion, "dapr.io/") {
			return true
		}
	}
	return false
}

func familyResult(f alertFamily, rules []alertRule) Result {
	var lookalikes []string
	for _, r := range rules {
		if m := r.covers(f); m != "" {
			return res(StatusPass, f.name, fmt.Sprintf("alert %s watches %s (%s)", r.name, f.what, m), ObjectEvidence(r.obj, r.field, r.name+": "+m))
		}
		for _, w := range f.words {
			if strings.Contains(strings.ToLower(r.name), w) {
				lookalikes = appendUnique(lookalikes, r.name)
			}
		}
	}
	msg := fmt.Sprintf("no alert on %s: none selects %s", f.what, listing(f.metrics, 4))
	if f.matcher != nil {
		msg += " with the status filter"
	}
	if len(lookalikes) > 0 {
		msg += fmt.Sprintf("; %s named like it but query other metrics, so they never fire on it", listing(lookalikes, 3))
	}
	return res(StatusFail, f.name, msg)
}

// covers returns the metric through which the rule watches the family, or "".
func (r alertRule) covers(f alertFamily) string {
	for _, sel := range r.sels {
		name := ""
		for _, m := range sel {
			if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		if slices.Contains(f.denials, name) {
			return name
		}
		if !slices.Contains(f.metrics, name) {
			continue
		}
		if f.matcher == nil || slices.ContainsFunc(sel, f.matcher) {
			return name
		}
	}
	return ""
}
