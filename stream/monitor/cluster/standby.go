package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

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
// worker's catch-up (the monitor's catchup.go) starts from where the standby stopped. A standby
// copy is never served: only a running, caught-up worker's partition is (Monitor.Serving).

// Replica is what a standby needs of the local monitor (monitor.Monitor implements it): where
// partition p's changelog is and how far the local store has read it, a way to write a run of
// its records into the store (not while the monitor's own worker claims p: then it reports
// false), and the standby gauges.
type Replica interface {
	ChangelogFrom(p int) (k kafkaio.Kafka, topic string, pos int64, found bool, err error)
	ApplyStandby(p int, msgs []kafka.Message) (applied bool, err error)
	SetStandbyStats(partitions int, lag int64)
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
	Monitor   Replica
	Directory *Directory
	Replicas  int
	Logger    *slog.Logger
}

// Run keeps the standby copies until ctx ends. The set of partitions changes only when the
// group is stable: during a rebalance the copies keep following, since one of them is about to
// be needed.
func (s Standby) Run(ctx context.Context) {
	logger := s.Logger.With("stage", "standby")
	following := map[int]context.CancelFunc{}
	var wg sync.WaitGroup
	defer func() {
		for _, cancel := range following {
			cancel()
		}
		wg.Wait()
		s.Monitor.SetStandbyStats(0, 0)
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
						if err := s.Follow(pctx, p, lags); err != nil && pctx.Err() == nil {
							logger.Warn("standby: following the changelog failed; retrying", "partition", p, "err", err)
							kafkaio.Sleep(pctx, time.Second)
						}
					}
				})
			}
		}
		var lag int64
		lags.Range(func(_, v any) bool { lag += v.(int64); return true })
		s.Monitor.SetStandbyStats(len(following), lag)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Follow reads partition p's changelog from the local position into the store until ctx ends;
// lags holds its lag in records, by partition.
func (s Standby) Follow(ctx context.Context, p int, lags *sync.Map) error {
	k, topic, pos, found, err := s.Monitor.ChangelogFrom(p)
	if err != nil {
		return err
	}
	if !found {
		pos = kafka.FirstOffset
	}
	rc := k.PartitionReader(topic, p, 200*time.Millisecond, 64<<20)
	rc.QueueCapacity = 10000
	r := kafka.NewReader(rc)
	defer r.Close()
	if err := r.SetOffset(pos); err != nil {
		return fmt.Errorf("seek changelog: %w", err)
	}
	for {
		msgs, err := kafkaio.FetchBatch(ctx, r, time.Second, 20*time.Millisecond, 1000)
		if len(msgs) > 0 {
			ran, aerr := s.Monitor.ApplyStandby(p, msgs)
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
