package monitor

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"safetynet/state"
	"safetynet/stream/household"
	"safetynet/stream/kafkaio"
)

// Standby replicas keep warm copies of partitions other instances own, so that losing an
// instance costs its partitions' new owners a catch-up of a few seconds, not a restore of the
// whole partition. For every household-events partition the standbys are the next N members
// after the owner in the ring of the group's members sorted by advertised URL
// (StandbyPartitions): every instance computes the same choice from the membership, and a
// partition's standbys are the members that would most likely get it next in a balanced ring.
// A standby follows the partition's changelog into its own store exactly as a catch-up would
// (households, case index, timers, counts, the household-events offset from the next_offset
// headers, and the changelog position), so that when the partition is assigned to it the
// worker's catch-up (catchup.go) starts from where the standby stopped. A standby copy is never
// served: only a running, caught-up worker's partition is (ownership.go).

// standbyGate keeps a partition's standby writes and its worker apart: a worker claims the
// partition before it reads the partition's state (and waits for a standby write under way to
// end), and a standby writes only while no worker claims it.
type standbyGate struct {
	mu      sync.Mutex
	workers map[int]int
	locks   map[int]*sync.Mutex
}

func (g *standbyGate) lock(p int) *sync.Mutex {
	if g.locks == nil {
		g.locks, g.workers = map[int]*sync.Mutex{}, map[int]int{}
	}
	l := g.locks[p]
	if l == nil {
		l = &sync.Mutex{}
		g.locks[p] = l
	}
	return l
}

// claim marks partition p as its worker's; it returns once no standby write of p is under way.
func (g *standbyGate) claim(p int) {
	g.mu.Lock()
	l := g.lock(p)
	g.workers[p]++
	g.mu.Unlock()
	l.Lock()
	l.Unlock() //nolint:staticcheck // waits for the standby write that held it
}

// release ends the worker's claim of p.
func (g *standbyGate) release(p int) {
	g.mu.Lock()
	g.workers[p]--
	g.mu.Unlock()
}

// apply runs fn unless a worker claims p; it reports whether fn ran.
func (g *standbyGate) apply(p int, fn func() error) (bool, error) {
	g.mu.Lock()
	l := g.lock(p)
	if g.workers[p] > 0 {
		g.mu.Unlock()
		return false, nil
	}
	l.Lock()
	g.mu.Unlock()
	defer l.Unlock()
	return true, fn()
}

// StandbyPartitions lists the partitions self stands by for: those whose owner is followed by
// self within the next replicas members of the ring of members (sorted), self never standing by
// for a partition it owns.
func StandbyPartitions(owners map[int]string, members []string, self string, replicas int) []int {
	if replicas <= 0 || len(members) < 2 {
		return nil
	}
	ring := slices.Clone(members)
	slices.Sort(ring)
	me := slices.Index(ring, self)
	if me < 0 {
		return nil
	}
	var out []int
	for p, o := range owners {
		at := slices.Index(ring, o)
		if at < 0 || o == self {
			continue
		}
		for k := 1; k <= replicas && k < len(ring); k++ {
			if (at+k)%len(ring) == me {
				out = append(out, p)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// Standby follows the changelog of the partitions this instance stands by for.
type Standby struct {
	Monitor   *Monitor
	Directory *Directory
	Replicas  int
	Logger    *slog.Logger
}

// Run keeps the standby copies until ctx ends. The set of partitions changes only when the
// group is stable: during a rebalance the copies keep following, since one of them is about to
// be needed.
func (s Standby) Run(ctx context.Context) {
	mo := s.Monitor
	logger := s.Logger.With("stage", "standby")
	following := map[int]context.CancelFunc{}
	var wg sync.WaitGroup
	defer func() {
		for _, cancel := range following {
			cancel()
		}
		wg.Wait()
		mo.metrics.StandbyPartitions.Set(0)
	}()
	lags := &sync.Map{}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		owners, members := s.Directory.view()
		if len(members) > 0 && s.Replicas > 0 {
			want := map[int]bool{}
			for _, p := range StandbyPartitions(owners, members, s.Directory.Self(), s.Replicas) {
				want[p] = true
			}
			for p, cancel := range following {
				if !want[p] {
					cancel()
					delete(following, p)
					lags.Delete(p)
					logger.Info("no longer a standby for the partition", "partition", p)
				}
			}
			for p := range want {
				if following[p] != nil {
					continue
				}
				pctx, cancel := context.WithCancel(ctx)
				following[p] = cancel
				logger.Info("standby for the partition: following its changelog", "partition", p)
				wg.Go(func() {
					for pctx.Err() == nil {
						if err := s.follow(pctx, p, lags); err != nil && pctx.Err() == nil {
							logger.Warn("standby: following the changelog failed; retrying", "partition", p, "err", err)
							kafkaio.Sleep(pctx, time.Second)
						}
					}
				})
			}
		}
		var lag int64
		lags.Range(func(_, v any) bool { lag += v.(int64); return true })
		mo.metrics.StandbyPartitions.Set(float64(len(following)))
		mo.metrics.StandbyLag.Set(float64(lag))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// follow reads partition p's changelog from the local position into the store until ctx ends.
func (s Standby) follow(ctx context.Context, p int, lags *sync.Map) error {
	mo := s.Monitor
	pos, found, err := mo.store.Offset(mo.cfg.Topics.Changelog, p)
	if err != nil {
		return err
	}
	if !found {
		pos = kafka.FirstOffset
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: mo.cfg.Kafka.Brokers, Dialer: mo.cfg.Kafka.Dialer(), Topic: mo.cfg.Topics.Changelog, Partition: p,
		MinBytes: 1, MaxBytes: 64 << 20, MaxWait: 200 * time.Millisecond, QueueCapacity: 10000,
	})
	defer r.Close()
	if err := r.SetOffset(pos); err != nil {
		return fmt.Errorf("seek changelog: %w", err)
	}
	for {
		msgs, err := kafkaio.FetchBatch(ctx, r, time.Second, 20*time.Millisecond, 1000)
		if len(msgs) > 0 {
			ran, aerr := mo.gate.apply(p, func() error { return mo.applyChangelog(p, msgs) })
			if aerr != nil {
				return aerr
			}
			if !ran {
				// This instance's worker has the partition now; the standby resumes after it
				// goes, from the position the worker's marks left.
				lags.Store(p, int64(0))
				kafkaio.Sleep(ctx, time.Second)
				return nil
			}
		}
		lags.Store(p, max(r.Lag(), 0))
		if err != nil && err != context.DeadlineExceeded {
			return err
		}
	}
}

// applyChangelog writes a run of changelog records of partition p into the store: the newest
// state of every household in it, timers and counts moved to match, the household-events offset
// from the next_offset headers, and the changelog position after the last record.
func (mo *Monitor) applyChangelog(p int, msgs []kafka.Message) error {
	newest := map[string][]byte{}
	var order []string
	next := int64(-1)
	for _, m := range msgs {
		if len(m.Value) > 0 {
			if _, ok := newest[string(m.Key)]; !ok {
				order = append(order, string(m.Key))
			}
			newest[string(m.Key)] = m.Value
		}
		for _, hd := range m.Headers {
			if hd.Key == "next_offset" {
				if o, err := strconv.ParseInt(string(hd.Value), 10, 64); err == nil && o > next {
					next = o
				}
			}
		}
	}
	stats, err := mo.store.Stats(p)
	if err != nil {
		return err
	}
	stats = stats.Clone()
	return mo.store.Update(func(tx *state.Tx) error {
		for _, id := range order {
			h, err := household.Decode(newest[id])
			if err != nil {
				mo.logger.Warn("standby: skipping undecodable changelog record", "partition", p, "err", err)
				continue
			}
			var wasNext time.Time
			wasLevel, had := "", false
			if old, err := tx.Household(h.ID); err == nil && old != nil {
				if oh, err := household.Decode(old); err == nil {
					wasNext, wasLevel, had = oh.NextCheck, oh.Level, true
				}
			}
			if err := tx.PutHousehold(h.ID, newest[id]); err != nil {
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
		}
		if err := tx.SetStats(p, stats); err != nil {
			return err
		}
		if next >= 0 {
			if err := tx.SetOffset(mo.cfg.Topics.HouseholdEvents, p, next); err != nil {
				return err
			}
		}
		return tx.SetOffset(mo.cfg.Topics.Changelog, p, msgs[len(msgs)-1].Offset+1)
	})
}
