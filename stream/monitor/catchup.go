package monitor

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"safetynet/state"
	"safetynet/stream/household"
	"safetynet/stream/kafkaio"
)

// A partition that comes back to an instance which held it before finds local state that may be
// stale: another instance may have owned it meanwhile and written newer states to the changelog.
// Before the worker serves or processes anything it catches up from the changelog, from the
// changelog position its local state is known to include (kept under the changelog's name in
// the store's offsets) to the end: the newest state of every household changed since, the
// household-events offset from the records' next_offset headers, timers and counts moved to
// match. That reads only what changed while the partition was away, not the whole partition.
//
// The position is written at the end of a restore or a catch-up, and while the partition is
// owned and idle (every changelogMarkEvery): then every changelog record this instance wrote has
// been acknowledged and committed, so the changelog's end is contained in the local state.
// Reading from an older position is harmless (the newest record of a household wins), so a
// crash that loses a later mark costs only a longer catch-up.

// changelogMarkEvery is how often an idle owned partition records its changelog position.
const changelogMarkEvery = 5 * time.Second

// changelogEnds returns the first and end offsets of the partition's changelog.
func (w *worker) changelogEnds(ctx context.Context) (first, end int64, err error) {
	topic := w.mo.cfg.Topics.Changelog
	client, part := w.mo.cfg.Kafka.Client(), map[string][]int{topic: {w.partition}}
	firsts, err := kafkaio.ListOffsets(ctx, client, part, kafka.FirstOffset)
	if err != nil {
		return 0, 0, fmt.Errorf("list changelog offsets: %w", err)
	}
	ends, err := kafkaio.ListOffsets(ctx, client, part, kafka.LastOffset)
	if err != nil {
		return 0, 0, fmt.Errorf("list changelog offsets: %w", err)
	}
	return firsts[topic][w.partition], ends[topic][w.partition], nil
}

// markChangelog records that the local state contains the partition's changelog up to end.
func (w *worker) markChangelog(end int64) error {
	return w.mo.store.Update(func(tx *state.Tx) error {
		return tx.SetOffset(w.mo.cfg.Topics.Changelog, w.partition, end)
	})
}

// markChangelogIdle records the changelog's end as the local position: called by the worker
// between batches, when everything it published is committed.
func (w *worker) markChangelogIdle(ctx context.Context) {
	if time.Since(w.lastMark) < changelogMarkEvery {
		return
	}
	w.lastMark = time.Now()
	_, end, err := w.changelogEnds(ctx)
	if err == nil {
		err = w.markChangelog(end)
	}
	if err != nil && ctx.Err() == nil {
		w.logger.Debug("record the changelog position", "err", err)
	}
}

// catchUp brings the local state of the partition, stored up to household-events offset local,
// up to the changelog's end, and returns the offset to resume from.
func (w *worker) catchUp(ctx context.Context, local int64) (int64, error) {
	mo := w.mo
	pos, found, err := mo.store.Offset(mo.cfg.Topics.Changelog, w.partition)
	if err != nil {
		return 0, err
	}
	first, end, err := w.changelogEnds(ctx)
	if err != nil {
		return 0, err
	}
	if !found || pos < first {
		pos = first
	}
	if pos >= end {
		return local, nil
	}
	remaining := mo.metrics.RestoreRemaining.WithLabelValues(strconv.Itoa(w.partition))
	remaining.Set(float64(end - pos))
	defer remaining.Set(0)
	start := time.Now()
	w.logger.Info("local state of the partition may be stale: catching up from the changelog", "records", end-pos, "from", pos)
	rc := mo.cfg.Kafka.PartitionReader(mo.cfg.Topics.Changelog, w.partition, kafkaio.ToEndHold, kafkaio.ToEndBytes)
	rc.QueueCapacity = 10000
	r := kafka.NewReader(rc)
	defer r.Close()
	if err := r.SetOffset(pos); err != nil {
		return 0, fmt.Errorf("seek changelog: %w", err)
	}
	newest := map[string][]byte{}
	next := local
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return 0, fmt.Errorf("read changelog at %d (end %d): %w", m.Offset, end, err)
		}
		if len(m.Value) > 0 {
			newest[string(m.Key)] = m.Value
		}
		for _, hd := range m.Headers {
			if hd.Key == "next_offset" {
				if o, err := strconv.ParseInt(string(hd.Value), 10, 64); err == nil && o > next {
					next = o
				}
			}
		}
		if m.Offset%1024 == 0 {
			remaining.Set(float64(end - 1 - m.Offset))
		}
		if m.Offset+1 >= end {
			break
		}
	}
	stats, err := mo.store.Stats(w.partition)
	if err != nil {
		return 0, err
	}
	stats = stats.Clone()
	changed := 0
	versions := map[string]bool{}
	tx := mo.store.Begin()
	defer func() { tx.Discard() }()
	for _, v := range newest {
		h, err := changelogHousehold(v)
		if err != nil {
			w.logger.Warn("skipping undecodable changelog record", "err", err)
			continue
		}
		versions[h.ModelVersion] = true
		if err := putChangelogState(tx, w.partition, h, v, &stats); err != nil {
			return 0, err
		}
		changed++
		if changed%2000 == 0 { // keep transactions well under Badger's size limit
			if err := tx.Commit(); err != nil {
				return 0, fmt.Errorf("write caught-up households: %w", err)
			}
			tx = mo.store.Begin()
		}
	}
	// Counts, offset and position last: a crash before this commit leaves the old position, and
	// the catch-up runs again (re-writing the same newest states).
	if err := tx.SetStats(w.partition, stats); err != nil {
		return 0, err
	}
	if err := tx.SetOffset(mo.cfg.Topics.HouseholdEvents, w.partition, next); err != nil {
		return 0, err
	}
	if err := tx.SetOffset(mo.cfg.Topics.Changelog, w.partition, end); err != nil {
		return 0, err
	}
	if err := mo.forgetRescored(tx, w.partition, versions); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("write caught-up partition: %w", err)
	}
	w.logger.Info("partition caught up from the changelog", "households_changed", changed, "records", end-pos,
		"resume_offset", next, "was", local, "took", time.Since(start).Round(time.Millisecond))
	return next, nil
}

// changelogHousehold decodes a household read from the changelog to write it into the store
// (restore, catch-up, standby): its summary (household.DecodeSummary, no persons' facts) is all
// that needs unless it has cases, whose index needs the whole household (the head's area, the aid
// it receives). Decoding every record in full was a third of a restore's allocations.
func changelogHousehold(v []byte) (*household.Household, error) {
	h, err := household.DecodeSummary(v)
	if err == nil && h.Casework != nil && len(h.Casework.Cases) > 0 {
		return household.Decode(v)
	}
	return h, err
}

// putChangelogState writes a household's state read from the changelog (h decoded from v) over
// what the store holds, with its case index and its timer, and moves the partition's counts
// (stats) from the stored level to the new one. Catching up and following as a standby both
// write the newest states this way.
func putChangelogState(tx *state.Tx, p int, h *household.Household, v []byte, stats *state.PartitionStats) error {
	var wasNext time.Time
	wasLevel, had := "", false
	if old, err := tx.Household(h.ID); err == nil && old != nil {
		if oh, err := household.DecodeSummary(old); err == nil {
			wasNext, wasLevel, had = oh.NextCheck, oh.Level, true
		}
	}
	if err := tx.PutHousehold(h.ID, v); err != nil {
		return err
	}
	if err := indexCases(tx, h); err != nil {
		return err
	}
	d, err := tx.MoveTimer(p, h.ID, wasNext, h.NextCheck)
	if err != nil {
		return err
	}
	stats.Timers += d
	if had {
		stats.Levels[household.LevelLabel(wasLevel)]--
	}
	stats.Levels[household.LevelLabel(h.Level)]++
	return nil
}
