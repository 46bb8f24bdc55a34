package state

import "github.com/prometheus/client_golang/prometheus"

// Metrics describe the store and the filesystem under it. The service sets them (store sizes,
// disk space every few seconds; GC passes as they happen).
type Metrics struct {
	LSMBytes      prometheus.Gauge
	VlogBytes     prometheus.Gauge
	GCRuns        prometheus.Counter
	DiskFreeBytes prometheus.Gauge
	DiskSizeBytes prometheus.Gauge
}

// NewMetrics creates the store's metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		LSMBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "safetynet_state_lsm_bytes", Help: "Size of the Badger LSM tree.",
		}),
		VlogBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "safetynet_state_vlog_bytes", Help: "Bytes the Badger value-log files take on disk (allocated blocks, not their sparse apparent size).",
		}),
		GCRuns: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "safetynet_state_vlog_gc_runs_total", Help: "Value-log garbage collection passes that rewrote a file.",
		}),
		DiskFreeBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "safetynet_state_disk_free_bytes", Help: "Free bytes on the state directory's filesystem.",
		}),
		DiskSizeBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "safetynet_state_disk_size_bytes", Help: "Size of the state directory's filesystem.",
		}),
	}
	reg.MustRegister(m.LSMBytes, m.VlogBytes, m.GCRuns, m.DiskFreeBytes, m.DiskSizeBytes)
	return m
}
