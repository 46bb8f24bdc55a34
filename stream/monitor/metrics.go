package monitor

import (
	"safetynet/stream/household"
	"safetynet/stream/kafkaio"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the monitor's: batches, alerts, households per level, timers, rebalances, restore
// progress. Labels are bounded sets (status, level, partition): never a household or person id.
// docs/metrics.md documents each one. The household-events consumer lag is the shared gauge of
// kafkaio.NewLagGauge, passed in Config.Lag.
type Metrics struct {
	BatchSize         prometheus.Histogram
	BatchDuration     prometheus.Histogram
	EventToAlert      prometheus.Histogram   // occurred_at → alert acknowledged
	ProduceToAlert    prometheus.Histogram   // feed record timestamp → alert acknowledged
	Alerts            *prometheus.CounterVec // status, level
	PublishErrors     prometheus.Counter     // failed publishes of alerts, changelog records or dead letters
	HouseholdsByLevel *prometheus.GaugeVec   // level (none, watch, warning, urgent)
	Scores            prometheus.Histogram
	TimersPending     prometheus.Gauge
	TimersFired       prometheus.Counter
	Rebalances        prometheus.Counter
	PartitionsOwned   prometheus.Gauge
	StateWriteErrors  prometheus.Counter
	RestoreRemaining  *prometheus.GaugeVec // partition; changelog records left to restore
	StandbyPartitions prometheus.Gauge     // partitions this instance keeps a standby copy of
	StandbyLag        prometheus.Gauge     // changelog records the standby copies are behind, summed
	RescoreRemaining  *prometheus.GaugeVec // partition; households left to check after a model change
	BackfillRemaining *prometheus.GaugeVec // partition; household events left while backfilling
	AlertsWithheld    *prometheus.CounterVec
	CaseActions       *prometheus.CounterVec // type (assign, visit, close); cases.go
	CacheBytes        prometheus.GaugeFunc   // bytes the household caches of the process hold
	// CacheHits and CacheMisses count the households a batch found in the partition's cache
	// and those it read from the store (safetynet_household_cache_lookups_total).
	CacheHits, CacheMisses prometheus.Counter
}

// NewMetrics creates the monitor's metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		BatchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "safetynet_batch_size", Help: "Events per monitor batch.",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000},
		}),
		BatchDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "safetynet_batch_duration_seconds", Help: "Time to apply, score, publish and persist one monitor batch.",
			Buckets: kafkaio.LatencyBuckets,
		}),
		EventToAlert: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "safetynet_event_time_to_alert_seconds", Help: "Event time (occurred_at) of the triggering event to alert acknowledged.",
			Buckets: []float64{1, 60, 600, 3600, 6 * 3600, 86400, 3 * 86400, 7 * 86400, 30 * 86400, 90 * 86400},
		}),
		ProduceToAlert: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "safetynet_produce_to_alert_seconds", Help: "Feed record timestamp of the triggering event to alert acknowledged.",
			Buckets: kafkaio.LatencyBuckets,
		}),
		Alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "safetynet_alerts_total", Help: "Alerts published, by status and level.",
		}, []string{"status", "level"}),
		PublishErrors: prometheus.NewCounter(prometheus.CounterOpts{
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
		StandbyPartitions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "safetynet_standby_partitions", Help: "Partitions owned by other instances that this instance keeps a warm standby copy of (SAFETYNET_STANDBY_REPLICAS).",
		}),
		StandbyLag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "safetynet_standby_lag_records", Help: "Changelog records this instance's standby copies are behind the changelog, summed over its standby partitions.",
		}),
		RescoreRemaining: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "safetynet_rescore_remaining", Help: "Households of the partition left to check for re-scoring after a model change (0 when none is under way).",
		}, []string{"partition"}),
		BackfillRemaining: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "safetynet_backfill_remaining_records", Help: "Household events left to read while the partition backfills history without alerts (0 otherwise).",
		}, []string{"partition"}),
		AlertsWithheld: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "safetynet_alerts_withheld_total", Help: "Level changes kept off the alert topic, by reason: backfill (history before the cutoff) or model_change (SAFETYNET_MODEL_CHANGE_ALERTS=suppress).",
		}, []string{"reason"}),
		CacheBytes: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "safetynet_household_cache_bytes", Help: "Bytes the monitor's caches of recently used households hold (at most a quarter of GOMEMLIMIT; less while the rest of the heap needs the room).",
		}, func() float64 { return float64(cachedBytes.Load()) }),
	}
	lookups := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "safetynet_household_cache_lookups_total", Help: "Households a monitor batch loaded, by where it found them: hit (the cache) or miss (read from the store; new households included).",
	}, []string{"result"})
	m.CacheHits, m.CacheMisses = lookups.WithLabelValues("hit"), lookups.WithLabelValues("miss")
	reg.MustRegister(lookups, m.CacheBytes, m.BatchSize, m.BatchDuration, m.EventToAlert, m.ProduceToAlert, m.Alerts,
		m.PublishErrors, m.HouseholdsByLevel, m.Scores, m.TimersPending, m.TimersFired,
		m.Rebalances, m.PartitionsOwned, m.StateWriteErrors, m.RestoreRemaining, m.StandbyPartitions, m.StandbyLag,
		m.RescoreRemaining, m.BackfillRemaining, m.AlertsWithheld)
	for _, r := range []string{household.CauseBackfill, household.CauseModelChange} {
		m.AlertsWithheld.WithLabelValues(r)
	}
	m.CaseActions = newCaseActions(reg)
	// Every series of a bounded label set exists from the start, at 0.
	for status, levels := range map[string][]string{ // the levels an alert of the status can carry
		household.StatusRaised:            {"watch", "warning", "urgent"},
		household.StatusEscalated:         {"watch", "warning", "urgent"},
		household.StatusDeescalated:       {household.LevelLabelNone, "watch", "warning"},
		household.StatusResolved:          {household.LevelLabelNone},
		household.StatusEligibilityReview: {household.LevelLabelNone, "watch", "warning", "urgent"},
	} {
		for _, l := range levels {
			m.Alerts.WithLabelValues(status, l)
		}
	}
	for _, l := range []string{household.LevelLabelNone, "watch", "warning", "urgent"} {
		m.HouseholdsByLevel.WithLabelValues(l)
	}
	return m
}
