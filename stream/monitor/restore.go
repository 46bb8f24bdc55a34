package monitor

import (
	"context"
	"fmt"
	"safetynet/stream/household"
	"safetynet/stream/kafkaio"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"safetynet/state"
)

// restore rebuilds a partition the store does not hold from the changelog: the newest state of
// every household, the timers and the counts, and the household-events offset that state was
// built up to. It is the slow path (a new or replaced instance); it writes in large batches and
// logs progress. It returns the offset to resume the household-events partition from.
func (w *worker) restore(ctx context.Context) (int64, error) {
	mo := w.mo
	topic := mo.cfg.Topics.Changelog
	// One request per kind of offset: a real broker may refuse a partition named twice.
	client, part := mo.cfg.Kafka.Client(), map[string][]int{topic: {w.partition}}
	firsts, err := kafkaio.ListOffsets(ctx, client, part, kafka.FirstOffset)
	if err != nil {
		return 0, fmt.Errorf("list changelog offsets: %w", err)
	}
	ends, err := kafkaio.ListOffsets(ctx, client, part, kafka.LastOffset)
	if err != nil {
		return 0, fmt.Errorf("list changelog offsets: %w", err)
	}
	first, end := firsts[topic][w.partition], ends[topic][w.partition]
	remaining := mo.metrics.RestoreRemaining.WithLabelValues(strconv.Itoa(w.partition))
	remaining.Set(float64(max(end-first, 0)))
	defer remaining.Set(0)
	if end <= first {
		w.logger.Info("no local state and an empty changelog: starting the partition from the beginning")
		return kafka.FirstOffset, nil
	}
	w.logger.Info("no local state: restoring the partition from the changelog", "records", end-first)
	rc := mo.cfg.Kafka.PartitionReader(topic, w.partition, kafkaio.ToEndHold, kafkaio.ToEndBytes)
	rc.QueueCapacity = 10000
	r := kafka.NewReader(rc)
	defer r.Close()
	if err := r.SetOffset(first); err != nil {
		return 0, fmt.Errorf("seek changelog: %w", err)
	}

	// Households all scored under the model this instance runs need no re-scoring walk (a
	// restore of 1,000,000 households otherwise walked them all again, re-scoring none, for
	// over a minute of both cores beside the person table's load: docs/performance.md). A model
	// swapped in meanwhile differs from the mark, and its walk runs.
	model := mo.Model().Version
	type summary struct {
		next    time.Time
		level   string
		current bool // scored under model
	}
	households := map[string]summary{}
	wb := mo.store.NewBatch()
	defer wb.Cancel()
	var next int64 = kafka.FirstOffset
	start, lastLog := time.Now(), time.Now()
	var n int64
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return 0, fmt.Errorf("read changelog at %d of %d: %w", n, end-first, err)
		}
		n++
		if len(m.Value) > 0 {
			h, err := changelogHousehold(m.Value)
			if err != nil {
				w.logger.Warn("skipping undecodable changelog record", "offset", m.Offset, "err", err)
			} else {
				households[h.ID] = summary{next: h.NextCheck, level: h.Level, current: h.ModelVersion == model}
				if err := wb.PutHousehold(h.ID, m.Value); err != nil {
					return 0, fmt.Errorf("restore: %w", err)
				}
				if err := indexCases(wb, h); err != nil {
					return 0, fmt.Errorf("restore: %w", err)
				}
			}
		}
		for _, hd := range m.Headers {
			if hd.Key == "next_offset" {
				if o, err := strconv.ParseInt(string(hd.Value), 10, 64); err == nil && o > next {
					next = o
				}
			}
		}
		if n%1024 == 0 {
			remaining.Set(float64(end - 1 - m.Offset))
		}
		if time.Since(lastLog) > 2*time.Second {
			lastLog = time.Now()
			w.logger.Info("restoring partition from changelog", "done", n, "of", end-first,
				"percent", 100*n/(end-first), "elapsed", time.Since(start).Round(time.Millisecond))
		}
		if m.Offset+1 >= end {
			break
		}
	}
	stats := state.PartitionStats{Levels: map[string]int64{}}
	rescored := true
	for id, s := range households {
		rescored = rescored && s.current
		stats.Levels[household.LevelLabel(s.level)]++
		if !s.next.IsZero() {
			stats.Timers++
			if err := wb.SetTimer(w.partition, id, s.next); err != nil {
				return 0, fmt.Errorf("restore: %w", err)
			}
		}
	}
	if err := wb.Flush(); err != nil {
		return 0, fmt.Errorf("write restored partition: %w", err)
	}
	// The offset and counts last, in their own transaction: a crash before this leaves no
	// offset, and the restore simply runs again.
	if err := mo.store.Update(func(tx *state.Tx) error {
		if err := tx.SetStats(w.partition, stats); err != nil {
			return err
		}
		if err := tx.SetOffset(mo.cfg.Topics.Changelog, w.partition, end); err != nil {
			return err
		}
		if rescored {
			if err := tx.SetMark(w.partition, markRescored, model); err != nil {
				return err
			}
		}
		return tx.SetOffset(mo.cfg.Topics.HouseholdEvents, w.partition, max(next, 0))
	}); err != nil {
		return 0, fmt.Errorf("write restored offset: %w", err)
	}
	w.logger.Info("partition restored from changelog", "households", len(households), "records", n,
		"resume_offset", next, "took", time.Since(start).Round(time.Millisecond))
	return max(next, 0), nil
}
