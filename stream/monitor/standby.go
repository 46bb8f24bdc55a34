package monitor

import (
	"strconv"
	"sync"

	"github.com/segmentio/kafka-go"

	"safetynet/state"
	"safetynet/stream/kafkaio"
)

// The monitor's side of the standby copies (cluster.Standby follows the changelog of partitions
// other instances own): the gate that keeps standby writes off a partition its worker claims,
// and the writing of changelog records into the store.

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
	//lint:ignore SA2001 the empty section waits for the standby write that held it
	l.Unlock()
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

// ChangelogFrom is where partition p's changelog is read from (cluster.Replica): the brokers,
// the changelog topic and the local store's position in it.
func (mo *Monitor) ChangelogFrom(p int) (kafkaio.Kafka, string, int64, bool, error) {
	pos, found, err := mo.store.Offset(mo.cfg.Topics.Changelog, p)
	return mo.cfg.Kafka, mo.cfg.Topics.Changelog, pos, found, err
}

// ApplyStandby writes a run of partition p's changelog records unless this instance's worker
// claims p (cluster.Replica); it reports whether they were written.
func (mo *Monitor) ApplyStandby(p int, msgs []kafka.Message) (bool, error) {
	return mo.gate.apply(p, func() error { return mo.applyChangelog(p, msgs) })
}

// SetStandbyStats sets the standby gauges (cluster.Replica).
func (mo *Monitor) SetStandbyStats(partitions int, lag int64) {
	mo.metrics.StandbyPartitions.Set(float64(partitions))
	mo.metrics.StandbyLag.Set(float64(lag))
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
		versions := map[string]bool{}
		for _, id := range order {
			h, err := changelogHousehold(newest[id])
			if err != nil {
				mo.logger.Warn("standby: skipping undecodable changelog record", "partition", p, "err", err)
				continue
			}
			versions[h.ModelVersion] = true
			if err := putChangelogState(tx, p, h, newest[id], &stats); err != nil {
				return err
			}
		}
		if err := mo.forgetRescored(tx, p, versions); err != nil {
			return err
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
