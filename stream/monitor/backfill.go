package monitor

import (
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"safetynet/stream/feed"
	"safetynet/stream/household"
	"safetynet/stream/monitor/episode"
)

// Backfill: loading years of history into a new deployment without alerting on the past.
//
// With Config.BackfillUntil set, a partition whose backfill has not finished processes its
// events quietly: they (and the timers and re-scorings of those batches) update household state
// exactly as in a normal run — levels, episodes, timers — but publish no alert and open no case.
// The backfill ends when the worker first reads an event that occurred at or after the cutoff,
// or when it has found nothing to read for BackfillSettle (the backlog is loaded). Before that
// event is applied, every household of the partition then at a level with no alert in its
// history is announced: one `raised` alert with cause `backfill`, in ordinary batches
// (write-ahead, then commit). The announcement is idempotent — a household announced (or alerted
// since) has the alert in its history, which travels with it on the changelog — and the last
// batch records the partition's mark "done", after which the cutoff no longer applies to it.

// markBackfill is the partition mark set to "done" when the partition's backfill has ended.
const markBackfill = "backfill"

// backfillState is a worker's backfill of its partition.
type backfillState struct {
	active     bool // events before the cutoff are applied quietly
	announcing bool // the backlog is loaded: announcing the households at a level
	cursor     string
	announced  int64
	idleSince  time.Time

	start       time.Time
	startOffset int64
	lastLog     time.Time
}

// announceStep is one batch of the announcement: the households to announce and where the walk
// stands once the batch is committed.
type announceStep struct {
	ids    []string
	cursor string
	end    bool
}

// startBackfill reads the partition's mark and starts its backfill unless it finished before.
func (w *worker) startBackfill(next int64) error {
	until := w.mo.cfg.BackfillUntil
	if until.IsZero() {
		return nil
	}
	done, _, err := w.mo.store.Mark(w.partition, markBackfill)
	if err != nil {
		return err
	}
	if done == "done" {
		w.logger.Info("the partition's backfill finished earlier; the backfill cutoff no longer applies to it (unset SAFETYNET_BACKFILL_UNTIL)")
		return nil
	}
	w.backfill = backfillState{active: true, start: time.Now(), lastLog: time.Now(), startOffset: max(next, 0)}
	w.logger.Info("backfilling: events that occurred before the cutoff update state without alerts",
		"until", until, "offset", next)
	return nil
}

// planBackfill decides what a backfilling partition does with the events it read: those before
// the cutoff are applied quietly; from the first at or after it, the events are held back until
// the announcement is done. An idle partition starts the announcement after BackfillSettle.
func (w *worker) planBackfill(msgs []kafka.Message) ([]kafka.Message, extras, error) {
	bf, until := &w.backfill, w.mo.cfg.BackfillUntil
	if bf.announcing {
		step, err := w.nextAnnounce()
		return msgs, extras{announce: step}, err
	}
	for i, m := range msgs {
		var e feed.HouseholdEvent
		if err := feed.DecodeHouseholdEvent(m.Value, &e); err != nil || e.OccurredAt.Before(until) {
			continue // an undecodable event is dead-lettered by its batch
		}
		w.held = append(msgs[i:len(msgs):len(msgs)], w.held...)
		bf.announcing = true
		w.logger.Info("backfill: first event at or after the cutoff; announcing the households at a level before applying it",
			"offset", m.Offset, "until", until)
		return msgs[:i], extras{quiet: true}, nil
	}
	if len(msgs) > 0 || len(w.held) > 0 {
		bf.idleSince = time.Time{}
	} else if bf.idleSince.IsZero() {
		bf.idleSince = time.Now()
	} else if idle := time.Since(bf.idleSince); idle >= w.mo.cfg.BackfillSettle {
		bf.announcing = true
		w.logger.Info("backfill: the backlog is loaded (nothing to read); announcing the households at a level", "idle", idle.Round(time.Millisecond))
	}
	return msgs, extras{quiet: true}, nil
}

// nextAnnounce returns the next households of the partition to announce: at a level, with an
// episode open, and without an alert in their history.
func (w *worker) nextAnnounce() (*announceStep, error) {
	step := &announceStep{}
	last, end, err := w.mo.store.ScanHouseholds(w.backfill.cursor, rescoreScanStep, func(id string, v []byte) bool {
		if p, ok := household.PartitionOf(v); ok && p != w.partition {
			return true
		}
		h, err := household.Decode(v)
		if err != nil || h.Partition != w.partition {
			return true
		}
		if episode.NeedsAnnouncing(h) {
			step.ids = append(step.ids, id)
		}
		return len(step.ids) < w.mo.cfg.BatchSize
	})
	if err != nil {
		return nil, err
	}
	step.cursor, step.end = last, end
	return step, nil
}

// announceDone moves the announcement on after its batch was committed; the last one ends the
// backfill.
func (w *worker) announceDone(step *announceStep) {
	bf := &w.backfill
	bf.cursor = step.cursor
	bf.announced += int64(len(step.ids))
	if !step.end {
		return
	}
	w.logger.Info("backfill finished: households at a level announced; events now alert as usual",
		"announced", bf.announced, "took", time.Since(bf.start).Round(time.Millisecond))
	*bf = backfillState{}
	w.mo.metrics.BackfillRemaining.WithLabelValues(strconv.Itoa(w.partition)).Set(0)
}

// backfillProgress sets the remaining records (the partition's lag) and logs progress with an
// estimate of the time left, from the rate since the backfill started.
func (w *worker) backfillProgress(next, highWaterMark int64) {
	bf := &w.backfill
	remaining := max(highWaterMark-next, 0)
	w.mo.metrics.BackfillRemaining.WithLabelValues(strconv.Itoa(w.partition)).Set(float64(remaining))
	if time.Since(bf.lastLog) < progressEvery {
		return
	}
	bf.lastLog = time.Now()
	elapsed, done := time.Since(bf.start), next-bf.startOffset
	args := []any{"done", done, "remaining", remaining, "elapsed", elapsed.Round(time.Second)}
	if done > 0 {
		rate := float64(done) / elapsed.Seconds()
		args = append(args, "per_second", int64(rate), "eta", time.Duration(float64(remaining)/rate*float64(time.Second)).Round(time.Second))
	}
	w.logger.Info("backfilling", args...)
}
