package monitor

import (
	"strconv"
	"sync"
	"time"

	"safetynet/scorer"
	"safetynet/state"
	"safetynet/stream/household"
)

// Re-scoring after a model change. The model is an atomic pointer that each batch reads once,
// at its start; SetModel swaps it. Each partition's worker — the only writer of its households —
// then walks its households (state.ScanHouseholds with a cursor, keeping the partition's) and
// re-assesses those whose stored ModelVersion differs, a chunk at a time, inside its ordinary
// batches: cause model_change, write-ahead publish, then commit. So re-scoring keeps every
// guarantee of event processing, runs beside live events (the partition stays ready), and a
// crash loses nothing: the walk starts again and skips the households already re-scored.
// When a walk reaches the end, the partition's mark records the model version, so a restart with
// the same model does not walk again.

// markRescored is the partition mark holding the model version its last complete walk used.
const markRescored = "rescored_model"

const (
	// rescoreScanStep bounds the households one walk step reads (about 10 ms), so a walk over
	// other partitions' households never holds up the partition's events for long.
	rescoreScanStep = 2000
	// rescoreIdleWait is the longest an idle worker waits for events while a walk is under way.
	rescoreIdleWait = 50 * time.Millisecond
)

// SetModel makes m the model of every batch that starts from now on. When its version differs
// from the one a partition's households were scored with, the partition's worker re-scores them.
func (mo *Monitor) SetModel(m *scorer.Model) {
	old := mo.model.Swap(m)
	if old.Version != m.Version {
		mo.logger.Info("model changed: households are re-scored in the background",
			"from_model", old.Version, "to_model", m.Version, "rate_per_second", mo.cfg.RescoreRate)
	}
}

// Model is the model batches use now.
func (mo *Monitor) Model() *scorer.Model { return mo.model.Load() }

// forgetRescored clears the partition's mark inside tx when one of the households just written
// from the changelog (catching up, or following as a standby) was scored under another model
// version than the mark's: another instance scored them, perhaps under the other model of a
// rollout, and the mark may say a walk is done only while every household was scored under its
// version. The next start of the partition then walks again. versions are the written
// households' ModelVersions.
func (mo *Monitor) forgetRescored(tx *state.Tx, p int, versions map[string]bool) error {
	mark, found, err := mo.store.Mark(p, markRescored)
	if err != nil || !found || mark == "" {
		return err
	}
	for v := range versions {
		if v != mark {
			return tx.SetMark(p, markRescored, "")
		}
	}
	return nil
}

// rescoreWalk is one worker's walk over its partition's households under one model version.
type rescoreWalk struct {
	version string // the model version the walk (or the last finished one) re-scores to
	active  bool
	cursor  string // the last household id read
	visited int64  // households of this partition read so far
	total   int64  // households of this partition when the walk began
	changed int64  // households re-scored
	start   time.Time
	lastLog time.Time
}

// rescoreStep is the part of a walk one batch does: the households to re-score, and where the
// walk stands once the batch is committed.
type rescoreStep struct {
	ids     []string
	cursor  string
	visited int64
	end     bool
}

// nextRescore checks the model version and returns the walk's next step, nil when there is no
// walk or no budget left this instant.
func (w *worker) nextRescore() (*rescoreStep, error) {
	mo, rw := w.mo, &w.rescore
	m := mo.Model()
	if rw.version != m.Version {
		done, _, err := mo.store.Mark(w.partition, markRescored)
		if err != nil {
			return nil, err
		}
		*rw = rescoreWalk{version: m.Version, active: done != m.Version}
		if rw.active {
			for _, n := range w.stats.Levels {
				rw.total += n
			}
			rw.start, rw.lastLog = time.Now(), time.Now()
			w.logger.Info("re-scoring the partition's households under the model", "model", m.Version,
				"households", rw.total, "rate_per_second_all_partitions", mo.cfg.RescoreRate)
			w.setRescoreRemaining()
		}
	}
	if !rw.active {
		return nil, nil
	}
	n := mo.rescoreBudget.take(mo.cfg.BatchSize)
	if n == 0 {
		return nil, nil
	}
	step := &rescoreStep{visited: rw.visited}
	last, end, err := mo.store.ScanHouseholds(rw.cursor, rescoreScanStep, func(id string, v []byte) bool {
		if p, ok := household.PartitionOf(v); ok && p != w.partition {
			return true
		}
		h, err := household.Decode(v)
		if err != nil || h.Partition != w.partition {
			return true // an undecodable household is reported when an event loads it
		}
		step.visited++
		if h.ModelVersion != m.Version {
			step.ids = append(step.ids, id)
		}
		return len(step.ids) < n
	})
	mo.rescoreBudget.giveBack(n - len(step.ids))
	if err != nil {
		return nil, err
	}
	step.cursor, step.end = last, end
	return step, nil
}

// rescoreDone moves the walk on after the batch holding step was committed.
func (w *worker) rescoreDone(step *rescoreStep) {
	rw := &w.rescore
	rw.cursor, rw.visited = step.cursor, step.visited
	rw.changed += int64(len(step.ids))
	if step.end {
		rw.active = false
		w.logger.Info("re-scoring finished", "model", rw.version, "households_rescored", rw.changed,
			"took", time.Since(rw.start).Round(time.Millisecond))
	} else if time.Since(rw.lastLog) >= progressEvery {
		rw.lastLog = time.Now()
		remaining := max(rw.total-rw.visited, 0)
		elapsed := time.Since(rw.start)
		args := []any{"model", rw.version, "visited", rw.visited, "remaining", remaining, "rescored", rw.changed,
			"elapsed", elapsed.Round(time.Second)}
		if rw.visited > 0 {
			args = append(args, "eta", (time.Duration(float64(elapsed) * float64(remaining) / float64(rw.visited))).Round(time.Second))
		}
		w.logger.Info("re-scoring after a model change", args...)
	}
	w.setRescoreRemaining()
}

func (w *worker) setRescoreRemaining() {
	rw := &w.rescore
	v := 0.0
	if rw.active {
		v = float64(max(rw.total-rw.visited, 0))
	}
	w.mo.metrics.RescoreRemaining.WithLabelValues(strconv.Itoa(w.partition)).Set(v)
}

// progressEvery is how often a long step (re-scoring, backfill) logs its progress.
const progressEvery = 5 * time.Second

// budget is a token bucket shared by the partitions' workers: rate tokens a second, up to a
// fifth of a second's worth (at least one) saved up.
type budget struct {
	mu     sync.Mutex
	rate   float64
	max    float64
	tokens float64
	last   time.Time
}

func newBudget(rate float64) *budget {
	return &budget{rate: rate, max: max(rate/5, 1), last: time.Now()}
}

// take takes up to n whole tokens and returns how many it took.
func (b *budget) take(n int) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	b.tokens = min(b.max, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	got := min(n, int(b.tokens))
	b.tokens -= float64(got)
	return got
}

// giveBack returns tokens taken but not used.
func (b *budget) giveBack(n int) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	b.tokens = min(b.max, b.tokens+float64(n))
	b.mu.Unlock()
}
