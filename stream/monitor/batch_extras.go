package monitor

import (
	"safetynet/stream/household"
	"safetynet/stream/monitor/episode"
)

// extras is the work a batch does beside its events and timers: a step of the re-scoring after
// a model change, a step of a backfill's announcement, and whether the partition is backfilling.
type extras struct {
	rescore  *rescoreStep
	announce *announceStep
	quiet    bool
}

func (x extras) empty() bool { return x.rescore == nil && x.announce == nil }

// extras re-assesses the households of a re-scoring step under the batch's model and announces
// those of a backfill step, and records the partition marks of a finished walk.
func (b *batch) extras(x extras) error {
	if s := x.rescore; s != nil {
		for _, id := range s.ids {
			h, err := b.load(id)
			if err != nil {
				return err
			}
			if h.ModelVersion == b.model.Version || h.Partition != b.w.partition {
				continue // an event of this batch re-assessed it already
			}
			b.assess(h, household.Cause{Kind: household.CauseModelChange, FromModel: h.ModelVersion, ToModel: b.model.Version}, b.now)
		}
		// The walk's last step records that the partition is scored with this model (unless
		// the model changed under the walk: the next walk records it).
		if s.end && b.w.rescore.version == b.model.Version {
			if err := b.tx.SetMark(b.w.partition, markRescored, b.model.Version); err != nil {
				return err
			}
		}
	}
	if s := x.announce; s != nil {
		for _, id := range s.ids {
			h, err := b.load(id)
			if err != nil {
				return err
			}
			if episode.NeedsAnnouncing(h) {
				b.alerts = append(b.alerts, episode.Announcement(b.model, h, b.now))
			}
		}
		if s.end {
			if err := b.tx.SetMark(b.w.partition, markBackfill, "done"); err != nil {
				return err
			}
		}
	}
	return nil
}

// withhold reports whether an alert the batch made stays off the alert topic: every alert of a
// backfilling partition, and model_change alerts when they are suppressed. The state keeps the
// transition; the withheld alerts are counted.
func (b *batch) withhold(al *household.Alert) bool {
	reason := ""
	switch {
	case b.quiet:
		reason = household.CauseBackfill
	case al.Cause.Kind == household.CauseModelChange && b.w.mo.cfg.SuppressModelChangeAlerts:
		reason = household.CauseModelChange
	default:
		return false
	}
	b.w.mo.metrics.AlertsWithheld.WithLabelValues(reason).Inc()
	return true
}
