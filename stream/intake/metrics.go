package intake

import (
	"github.com/prometheus/client_golang/prometheus"

	"safetynet/stream/feed"
	"safetynet/stream/kafkaio"
)

// Metrics are intake's: feed records in, forwarded, dropped as resends, dead-lettered, parked,
// and the person table. Labels are bounded (feed, reason code). docs/metrics.md documents each.
type Metrics struct {
	EventsIn       *prometheus.CounterVec   // feed
	DeadLetters    *prometheus.CounterVec   // feed, reason
	Forwarded      *prometheus.CounterVec   // feed
	Duplicates     *prometheus.CounterVec   // feed
	Parked         prometheus.Gauge         // events waiting for their person's registry entry
	Released       prometheus.Counter       // parked events released
	IntakeLatency  *prometheus.HistogramVec // feed; feed record timestamp → forwarded and acknowledged
	LastEventTime  *prometheus.GaugeVec     // feed; unix seconds of the last event consumed
	PersonsKnown   prometheus.Gauge         // rows of the person→household table
	RegistryLoaded prometheus.Gauge         // 1 once the person table has caught up with the registry
	RegistryLag    *prometheus.GaugeVec     // partition; registry records the person table has yet to read
}

// NewMetrics creates intake's metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		EventsIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "safetynet_events_total", Help: "Feed events consumed by intake, by feed.",
		}, []string{"feed"}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "safetynet_dead_letters_total", Help: "Feed events sent to the dead-letter topic, by feed and reason code.",
		}, []string{"feed", "reason"}),
		Forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "safetynet_forwarded_total", Help: "Canonical household events written by intake, by feed.",
		}, []string{"feed"}),
		Duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "safetynet_duplicate_events_total", Help: "Resent events (same feed and event_id) dropped by intake, by feed.",
		}, []string{"feed"}),
		Parked: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "safetynet_parked_events", Help: "Events waiting for their person's registry entry.",
		}),
		Released: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "safetynet_released_events_total", Help: "Parked events released when the registry named their person.",
		}),
		IntakeLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "safetynet_intake_latency_seconds", Help: "Feed record timestamp to canonical event acknowledged, by feed.",
			Buckets: kafkaio.LatencyBuckets,
		}, []string{"feed"}),
		LastEventTime: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "safetynet_last_event_timestamp_seconds", Help: "Unix time intake last consumed an event of the feed.",
		}, []string{"feed"}),
		PersonsKnown: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "safetynet_registry_persons", Help: "Rows of the person-to-household table.",
		}),
		RegistryLoaded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "safetynet_registry_caught_up", Help: "1 once the person table has read the registry topic to its end.",
		}),
		RegistryLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "safetynet_registry_lag", Help: "Registry records between the registry topic's end and the person table, by partition.",
		}, []string{"partition"}),
	}
	reg.MustRegister(m.EventsIn, m.DeadLetters, m.Forwarded, m.Duplicates, m.Parked, m.Released,
		m.IntakeLatency, m.LastEventTime, m.PersonsKnown, m.RegistryLoaded, m.RegistryLag)
	// Every series of a bounded label set exists from the start, at 0: dashboards and rules see
	// "none so far" rather than no data, and rate() sees the first increase.
	for _, f := range feed.Feeds {
		m.EventsIn.WithLabelValues(f)
		m.Forwarded.WithLabelValues(f)
		m.Duplicates.WithLabelValues(f)
		m.IntakeLatency.WithLabelValues(f)
		for _, r := range feed.Reasons {
			m.DeadLetters.WithLabelValues(f, r)
		}
	}
	return m
}
