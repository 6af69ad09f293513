package egress

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/budnet/budnet/internal/egress/metricnames"
	"github.com/budnet/budnet/internal/egress/verdict"
)

// Counter is what a tunnel adds its bytes to while it relays, so a long-lived
// tunnel shows up in byte rates as it runs rather than when it closes.
// prometheus.Counter implements it.
type Counter interface{ Add(float64) }

// Metrics receives the gateway's measurements.
type Metrics interface {
	Request(source, destination string, d verdict.Decision, r verdict.Reason)
	// RequestCounter is the counter Request adds 1 to, for a caller that
	// counts many requests with the same labels.
	RequestCounter(source, destination string, d verdict.Decision, r verdict.Reason) Counter
	Bytes(source, destination string, sent, received int64)
	ByteCounters(source, destination string) (sent, received Counter)
	TunnelOpened()
	TunnelClosed()
	ConnectionOpened()
	ConnectionClosed()
	ConnectionLimit(n int)
	Dial(d time.Duration)
	Reload(ok bool)
	// RelayCounters count the bursts the Linux TCP relay moves through a
	// copy buffer and with splice; asked for once per server.
	RelayCounters() (copied, spliced Counter)
}

// NopMetrics discards everything.
type NopMetrics struct{}

var _ Metrics = NopMetrics{}

// Request implements Metrics.
func (NopMetrics) Request(string, string, verdict.Decision, verdict.Reason) {}

// RequestCounter implements Metrics.
func (NopMetrics) RequestCounter(string, string, verdict.Decision, verdict.Reason) Counter {
	return nopCounter{}
}

// Bytes implements Metrics.
func (NopMetrics) Bytes(string, string, int64, int64) {}

// ByteCounters implements Metrics.
func (NopMetrics) ByteCounters(string, string) (Counter, Counter) { return nopCounter{}, nopCounter{} }

type nopCounter struct{}

func (nopCounter) Add(float64) {}

// TunnelOpened implements Metrics.
func (NopMetrics) TunnelOpened() {}

// TunnelClosed implements Metrics.
func (NopMetrics) TunnelClosed() {}

// ConnectionOpened implements Metrics.
func (NopMetrics) ConnectionOpened() {}

// ConnectionClosed implements Metrics.
func (NopMetrics) ConnectionClosed() {}

// ConnectionLimit implements Metrics.
func (NopMetrics) ConnectionLimit(int) {}

// Dial implements Metrics.
func (NopMetrics) Dial(time.Duration) {}

// Reload implements Metrics.
func (NopMetrics) Reload(bool) {}

// RelayCounters implements Metrics.
func (NopMetrics) RelayCounters() (Counter, Counter) { return nopCounter{}, nopCounter{} }

// PromMetrics records into Prometheus collectors registered on a registry the
// caller owns (never the global one).
type PromMetrics struct {
	requests *prometheus.CounterVec
	bytes    *prometheus.CounterVec
	active   prometheus.Gauge
	conns    prometheus.Gauge
	connMax  prometheus.Gauge
	dial     prometheus.Histogram
	reloads  *prometheus.CounterVec
	relay    *prometheus.CounterVec
}

var _ Metrics = (*PromMetrics)(nil)

// NewPromMetrics creates the collectors and registers them on reg.
func NewPromMetrics(reg prometheus.Registerer) (*PromMetrics, error) {
	m := &PromMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricnames.Requests,
			Help: "Egress connections (CONNECT) and plain HTTP requests by source workload, destination pattern, decision and reason.",
		}, []string{metricnames.LabelSource, metricnames.LabelDestination, metricnames.LabelDecision, metricnames.LabelReason}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricnames.Bytes,
			Help: "Bytes relayed, by source workload, destination pattern and direction (sent to the destination, received from it).",
		}, []string{metricnames.LabelSource, metricnames.LabelDestination, metricnames.LabelDirection}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: metricnames.ActiveTunnels,
			Help: "CONNECT tunnels currently open.",
		}),
		conns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: metricnames.ActiveConns,
			Help: "Client connections currently open (tunnels, keep-alive and waiting for a request); at the connection limit new ones wait.",
		}),
		connMax: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: metricnames.ConnLimit,
			Help: "The connection limit (--max-connections), exported so alerts can compare the active connections with it.",
		}),
		dial: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    metricnames.DialDuration,
			Help:    "Time to connect to the checked destination address.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricnames.Reloads,
			Help: "Allowlist reloads by result; on failure the previous allowlist stays in force.",
		}, []string{metricnames.LabelResult}),
		relay: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricnames.RelayBursts,
			Help: "Bursts tunnels moved, by relay: copy (through one of the --relay-copy-buffers) or splice (--relay=splice, or every copy buffer held). Splice bursts under --relay=copy mean more busy tunnels than buffers.",
		}, []string{metricnames.LabelRelay}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.bytes, m.active, m.conns, m.connMax, m.dial, m.reloads, m.relay} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Pre-create the reload series so "no failures yet" reads as 0, not absent.
	m.reloads.WithLabelValues("success")
	m.reloads.WithLabelValues("failure")
	m.relay.WithLabelValues(string(RelayCopy))
	m.relay.WithLabelValues(string(RelaySplice))
	return m, nil
}

// RelayCounters implements Metrics.
func (m *PromMetrics) RelayCounters() (copied, spliced Counter) {
	return m.relay.WithLabelValues(string(RelayCopy)), m.relay.WithLabelValues(string(RelaySplice))
}

// Request implements Metrics.
func (m *PromMetrics) Request(source, destination string, d verdict.Decision, r verdict.Reason) {
	m.requests.WithLabelValues(source, destination, d.String(), r.String()).Inc()
}

// RequestCounter implements Metrics.
func (m *PromMetrics) RequestCounter(source, destination string, d verdict.Decision, r verdict.Reason) Counter {
	return m.requests.WithLabelValues(source, destination, d.String(), r.String())
}

// Bytes implements Metrics.
func (m *PromMetrics) Bytes(source, destination string, sent, received int64) {
	if sent > 0 {
		m.bytes.WithLabelValues(source, destination, metricnames.DirectionSent).Add(float64(sent))
	}
	if received > 0 {
		m.bytes.WithLabelValues(source, destination, metricnames.DirectionReceived).Add(float64(received))
	}
}

// ByteCounters implements Metrics.
func (m *PromMetrics) ByteCounters(source, destination string) (Counter, Counter) {
	return m.bytes.WithLabelValues(source, destination, metricnames.DirectionSent),
		m.bytes.WithLabelValues(source, destination, metricnames.DirectionReceived)
}

// TunnelOpened implements Metrics.
func (m *PromMetrics) TunnelOpened() { m.active.Inc() }

// TunnelClosed implements Metrics.
func (m *PromMetrics) TunnelClosed() { m.active.Dec() }

// ConnectionOpened implements Metrics.
func (m *PromMetrics) ConnectionOpened() { m.conns.Inc() }

// ConnectionClosed implements Metrics.
func (m *PromMetrics) ConnectionClosed() { m.conns.Dec() }

// ConnectionLimit implements Metrics.
func (m *PromMetrics) ConnectionLimit(n int) { m.connMax.Set(float64(n)) }

// Dial implements Metrics.
func (m *PromMetrics) Dial(d time.Duration) { m.dial.Observe(d.Seconds()) }

// Reload implements Metrics.
func (m *PromMetrics) Reload(ok bool) {
	if ok {
		m.reloads.WithLabelValues("success").Inc()
		return
	}
	m.reloads.WithLabelValues("failure").Inc()
}
