package stream

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are every metric of the pipeline, on a registry the service owns. Labels are bounded
// sets (feed, reason code, topic, partition, status, level): never a household or person id.
// docs/metrics.md documents each one.
type Metrics struct {
	// intake
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

	// monitor
	ConsumerLag       *prometheus.GaugeVec // topic, partition
	BatchSize         prometheus.Histogram
	BatchDuration     prometheus.Histogram
	EventToAlert      prometheus.Histogram   // occurred_at → alert acknowledged
	ProduceToAlert    prometheus.Histogram   // feed record timestamp → alert acknowledged
	Alerts            *prometheus.CounterVec // status, level
	AlertPublishFails prometheus.Counter
	HouseholdsByLevel *prometheus.GaugeVec // level (none, watch, warning, urgent)
	Scores            prometheus.Histogram
	TimersPending     prometheus.Gauge
	TimersFired       prometheus.Counter
	Rebalances        prometheus.Counter
	PartitionsOwned   prometheus.Gauge
	StateWriteErrors  prometheus.Counter
	Ready             prometheus.Gauge
	RestoreRemaining  *prometheus.GaugeVec // partition; changelog records left to restore

	// state
	StateLSMBytes  prometheus.Gauge
	StateVlogBytes prometheus.Gauge
	StateGCRuns    prometheus.Counter
	DiskFreeBytes  prometheus.Gauge
	DiskSizeBytes  prometheus.Gauge

	BuildInfo *prometheus.GaugeVec // version, goversion, model_version
}

// Level label value for a household with no level.
const levelLabelNone = "none"

// NewMetrics creates and registers every metric on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	latency := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
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
			Buckets: latency,
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

		ConsumerLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "safetynet_consumer_lag", Help: "Messages between the broker's end offset and the next offset to process, by topic and partition.",
		}, []string{"topic", "partition"}),
		BatchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "safetynet_batch_size", Help: "Events per monitor batch.",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000},
		}),
		BatchDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "safetynet_batch_duration_seconds", Help: "Time to apply, score, publish and persist one monitor batch.",
			Buckets: latency,
		}),
		EventToAlert: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "safetynet_event_time_to_alert_seconds", Help: "Event time (occurred_at) of the triggering event to alert acknowledged.",
			Buckets: []float64{1, 60, 600, 3600, 6 * 3600, 86400, 3 * 86400, 7 * 86400, 30 * 86400, 90 * 86400},
		}),
		ProduceToAlert: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "safetynet_produce_to_alert_seconds", Help: "Feed record timestamp of the triggering event to alert acknowledged.",
			Buckets: latency,
		}),
		Alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "safetynet_alerts_total", Help: "Alerts published, by status and level.",
		}, []string{"status", "level"}),
		AlertPublishFails: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "safetynet_alert_publish_errors_total", Help: "Failed attempts to publish alerts or changelog records (retried).",
		}),
		HouseholdsByLevel: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "safetynet_households", Help: "Households in state on this instance, by current level (none, watch, warning, urgent).",
		}, []string{"level"}),
		Scores: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "safetynet_score", Help: "Total risk scores of assessments made.",
			Buckets: prometheus.LinearBuckets(10, 10, 9),
		}),
		TimersPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "safetynet_timers_pending", Help: "Households with a scheduled time-driven re-assessment.",
		}),
		TimersFired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "safetynet_timers_fired_total", Help: "Time-driven re-assessments made.",
		}),
		Rebalances: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "safetynet_rebalances_total", Help: "Consumer group generations this instance joined.",
		}),
		PartitionsOwned: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "safetynet_partitions_assigned", Help: "Household-event partitions this instance owns.",
		}),
		StateWriteErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "safetynet_state_write_errors_total", Help: "Failed commits to the state store (the batch is retried, nothing is acknowledged).",
		}),
		RestoreRemaining: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "safetynet_restore_remaining_records", Help: "Changelog records left to read while a partition is restored (0 when not restoring).",
		}, []string{"partition"}),
		Ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "safetynet_ready", Help: "1 when restored, caught up and writing; what /readyz answers.",
		}),

		StateLSMBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "safetynet_state_lsm_bytes", Help: "Size of the Badger LSM tree.",
		}),
		StateVlogBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "safetynet_state_vlog_bytes", Help: "Size of the Badger value log.",
		}),
		StateGCRuns: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "safetynet_state_vlog_gc_runs_total", Help: "Value-log garbage collection passes that rewrote a file.",
		}),
		DiskFreeBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "safetynet_state_disk_free_bytes", Help: "Free bytes on the state directory's filesystem.",
		}),
		DiskSizeBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "safetynet_state_disk_size_bytes", Help: "Size of the state directory's filesystem.",
		}),
		BuildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "safetynet_build_info", Help: "Always 1; labels give the build and model versions.",
		}, []string{"version", "goversion", "model_version"}),
	}
	reg.MustRegister(m.EventsIn, m.DeadLetters, m.Forwarded, m.Duplicates, m.Parked, m.Released,
		m.IntakeLatency, m.LastEventTime, m.PersonsKnown, m.RegistryLoaded, m.RegistryLag,
		m.ConsumerLag, m.BatchSize, m.BatchDuration, m.EventToAlert, m.ProduceToAlert, m.Alerts,
		m.AlertPublishFails, m.HouseholdsByLevel, m.Scores, m.TimersPending, m.TimersFired,
		m.Rebalances, m.PartitionsOwned, m.StateWriteErrors, m.Ready, m.RestoreRemaining,
		m.StateLSMBytes, m.StateVlogBytes, m.StateGCRuns, m.DiskFreeBytes, m.DiskSizeBytes, m.BuildInfo)
	// Every series of a bounded label set exists from the start, at 0: dashboards and rules see
	// "none so far" rather than no data, and rate() sees the first increase.
	for _, f := range Feeds {
		m.EventsIn.WithLabelValues(f)
		m.Forwarded.WithLabelValues(f)
		m.Duplicates.WithLabelValues(f)
		m.IntakeLatency.WithLabelValues(f)
		for _, r := range Reasons {
			m.DeadLetters.WithLabelValues(f, r)
		}
	}
	for status, levels := range map[string][]string{ // the levels an alert of the status can carry
		StatusRaised:      {"watch", "warning", "urgent"},
		StatusEscalated:   {"watch", "warning", "urgent"},
		StatusDeescalated: {levelLabelNone, "watch", "warning"},
		StatusResolved:    {levelLabelNone},
	} {
		for _, l := range levels {
			m.Alerts.WithLabelValues(status, l)
		}
	}
	for _, l := range []string{levelLabelNone, "watch", "warning", "urgent"} {
		m.HouseholdsByLevel.WithLabelValues(l)
	}
	return m
}
