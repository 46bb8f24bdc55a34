/*
 * Added for safetynet (not in upstream Badger v4.9.6): see README.md.
 */

package badger

import (
	"sync/atomic"
	"time"
)

// pacer holds compactions and memtable flushes to a share of one core (Options.CompactionPace):
// after every pacedKeys keys a paced loop sleeps in proportion to the time it has just worked,
// so that all of them together work that share of the wall time. Unpaced, a flush and the L0
// compaction that follows take every core for a second or more, and whatever else the process
// does (answering requests) waits behind them.
//
// A loop does not sleep while the tree is behind the writes (behind reports it: level 0 past
// NumLevelZeroTables, or a memtable waiting to be flushed): pacing then would only bring the
// write stall nearer, so the tree catches up at full speed.
type pacer struct {
	share  float64
	behind func() bool
	n      int
	since  time.Time
}

const (
	// pacedKeys is how many keys a paced loop handles between two looks at the clock.
	pacedKeys = 512
	// maxPause bounds one sleep, so a loop delayed by the scheduler does not sleep for long.
	maxPause = 100 * time.Millisecond
)

// paceSleep is time.Sleep (tests count the pauses instead).
var paceSleep = time.Sleep

// pacedLoops counts the paced loops running, which share the pace between them.
var pacedLoops atomic.Int32

// newPacer starts a paced loop; done must be called when it ends. A share of 0 (or 1 and more)
// paces nothing.
func newPacer(share float64, behind func() bool) *pacer {
	if share <= 0 || share >= 1 {
		return nil
	}
	pacedLoops.Add(1)
	return &pacer{share: share, behind: behind, since: time.Now()}
}

// step is called once per key.
func (p *pacer) step() {
	if p == nil {
		return
	}
	p.n++
	if p.n < pacedKeys {
		return
	}
	p.n = 0
	busy := time.Since(p.since)
	if !p.behind() {
		paceSleep(pacePause(busy, p.share, int(pacedLoops.Load())))
	}
	p.since = time.Now()
}

// done ends the paced loop.
func (p *pacer) done() {
	if p != nil {
		pacedLoops.Add(-1)
	}
}

// pacePause is how long a loop that worked for busy sleeps so that loops of them, working
// alike, take share of one core between them.
func pacePause(busy time.Duration, share float64, loops int) time.Duration {
	d := time.Duration(float64(busy) * (float64(max(loops, 1))/share - 1))
	return min(max(d, 0), maxPause)
}

// treeBehind reports whether the tree is behind the writes: more level-0 tables than start a
// compaction, or a memtable waiting to be flushed.
func (db *DB) treeBehind() bool {
	return db.lc.levels[0].numTables() > db.opt.NumLevelZeroTables || len(db.flushChan) > 0
}
