package collector

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/earshot/earshot/pkg/event"
)

type metrics struct {
	accepted     prometheus.Counter
	rejected     *prometheus.CounterVec
	dropped      *prometheus.CounterVec
	requests     *prometheus.CounterVec
	kafkaLatency prometheus.Histogram
	ticks        *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry, p *Producer, pipe *Pipeline, ips *ipLimiter, inflight *byteBudget) *metrics {
	m := &metrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "earshot_collector_events_accepted_total", Help: "Events acknowledged by Kafka and answered with 200."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "earshot_collector_events_rejected_total", Help: "Events that failed validation, by reason."}, []string{"reason"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "earshot_collector_events_dropped_total",
			Help: "Valid events not forwarded, by reason (invalid traffic, stream, end or displayed not allowed, stream quota, rate limits, Kafka unavailable, buffer full)."},
			[]string{"reason"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "earshot_collector_requests_total", Help: "Requests to /v1/events by status code and failure reason."}, []string{"code", "reason"}),
		kafkaLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "earshot_collector_kafka_write_seconds", Help: "Time from handing a request's events to Kafka until acks=all.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		ticks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "earshot_collector_ticks_total", Help: "Ticks (the collector's clock written to every partition) by result: ok or error."},
			[]string{"result"}),
	}
	reg.MustRegister(m.accepted, m.rejected, m.dropped, m.requests, m.kafkaLatency, m.ticks,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "earshot_collector_buffer_events", Help: "Events waiting for Kafka acknowledgement."},
			func() float64 { return float64(p.Inflight()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "earshot_collector_buffer_capacity_events", Help: "limits.inflight_events."},
			func() float64 { return float64(p.capacity) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "earshot_collector_rate_untracked_events_total",
			Help: "Events not checked against the per-listener rate because the table was full (limits.max_tracked_listeners)."},
			func() float64 { return float64(pipe.rates.untracked.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "earshot_collector_tracked_ips", Help: "Client addresses in the per-IP rate limiter (limits.max_tracked_ips)."},
			func() float64 { return float64(ips.size()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "earshot_collector_active_streams",
			Help: "Streams admitted for tokens not scoped to streams and seen within limits.stream_idle (limits.max_active_streams)."},
			func() float64 { return float64(pipe.streams.size()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "earshot_collector_inflight_body_bytes",
			Help: "Bytes reserved by request bodies being read or answered (limits.max_inflight_bytes)."},
			func() float64 { return float64(inflight.used.Load()) }),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// eventOutcome counts n events that were not forwarded for reason r: validation failures as
// rejected, everything else as dropped.
func (m *metrics) eventOutcome(r event.Reason, n int) {
	switch r {
	case ReasonDeclaredBot, ReasonImpossibleRate, ReasonStreamNotAllowed, ReasonEndNotAllowed, ReasonDisplayedNotAllowed, ReasonStreamQuota:
		m.dropped.WithLabelValues(string(r)).Add(float64(n))
	default:
		m.rejected.WithLabelValues(string(r)).Add(float64(n))
	}
}
