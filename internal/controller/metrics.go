package controller

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// noGuide labels discrepancies no model flow names (an over-permissive
// connection nothing intends has no guide row).
const noGuide = "none"

// metrics are the controller's Prometheus series, on a registry of its own
// (no global state: two controllers in one test process do not collide).
type metrics struct {
	reg            *prometheus.Registry
	overPermissive *prometheus.GaugeVec
	broken         *prometheus.GaugeVec
	findings       *prometheus.GaugeVec
	checklist      *prometheus.GaugeVec
	watched        *prometheus.GaugeVec
	duration       prometheus.Histogram
	evaluations    *prometheus.CounterVec
	lastSuccess    prometheus.Gauge
	connections    prometheus.Gauge
	engineUpdates  *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		overPermissive: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "budnet_reach_over_permissive_connections",
			Help: "Connections the NetworkPolicies allow and the platform model does not intend, by guide row of the nearest model flow (none when no flow names the pair).",
		}, []string{"guide"}),
		broken: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "budnet_reach_broken_connections",
			Help: "Flows the platform model intends and the NetworkPolicies do not allow, by guide row.",
		}, []string{"guide"}),
		findings: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "budnet_audit_findings",
			Help: "Audit findings over the watched objects, by status (pass, fail, partial, not-applicable) and severity.",
		}, []string{"status", "severity"}),
		checklist: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "budnet_checklist_items",
			Help: "Hardening checklist items by state: ticked, failing, or unjudged (no deciding check produced a finding).",
		}, []string{"status"}),
		watched: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "budnet_watched_objects",
			Help: "Objects in the informer caches, by kind.",
		}, []string{"kind"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "budnet_evaluation_duration_seconds",
			Help:    "Time to bring the answer up to date after a (debounced) change: inventory, matrix, comparison and checks.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
		evaluations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "budnet_evaluations_total",
			Help: "Evaluations by result (ok, error).",
		}, []string{"result"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "budnet_last_successful_evaluation_timestamp_seconds",
			Help: "Unix time of the last evaluation that succeeded; alert when it falls behind.",
		}),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "budnet_reach_connections",
			Help: "Connections (workload or address entity pairs) the NetworkPolicies allow.",
		}),
		engineUpdates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "budnet_engine_updates_total",
			Help: "Evaluations by how the matrix was brought up to date: incremental (the engine fed the changed objects), rebuild (the incremental engine built anew: first evaluation, or a delta it rejected) or full (--evaluator=full).",
		}, []string{"path"}),
	}
	m.reg.MustRegister(m.overPermissive, m.broken, m.findings, m.checklist, m.watched, m.duration,
		m.evaluations, m.lastSuccess, m.connections, m.engineUpdates,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// publish replaces the state gauges with st's figures.
func (m *metrics) publish(st *State) {
	if st.EnginePath != "" {
		m.engineUpdates.WithLabelValues(st.EnginePath).Inc()
	}
	m.overPermissive.Reset()
	m.broken.Reset()
	if st.Diff != nil {
		for _, d := range st.Diff.OverPermissive {
			m.overPermissive.WithLabelValues(guideLabel(d.Guide)).Inc()
		}
		for _, d := range st.Diff.Broken {
			m.broken.WithLabelValues(guideLabel(d.Guide)).Inc()
		}
	}
	m.findings.Reset()
	for _, f := range st.Report.Findings {
		m.findings.WithLabelValues(string(f.Status), f.Severity.String()).Inc()
	}
	var ticked, failing, unjudged float64
	for _, c := range st.Checklist {
		switch {
		case !c.Judged:
			unjudged++
		case c.Ticked:
			ticked++
		default:
			failing++
		}
	}
	m.checklist.WithLabelValues("ticked").Set(ticked)
	m.checklist.WithLabelValues("failing").Set(failing)
	m.checklist.WithLabelValues("unjudged").Set(unjudged)
	m.connections.Set(float64(st.Connections))
	m.duration.Observe(st.Duration.Seconds())
}

func guideLabel(g string) string {
	if g == "" {
		return noGuide
	}
	return g
}
