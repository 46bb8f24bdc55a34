/*
 * Added for safetynet (not in upstream Badger v4.9.6): see README.md.
 */

package badger

import (
	"testing"
	"time"
)

// TestPacePause: a loop working alone at a share of 0.3 sleeps 7/3 of the time it worked;
// three loops share the pace; no pause exceeds maxPause or goes below zero.
func TestPacePause(t *testing.T) {
	for _, c := range []struct {
		busy  time.Duration
		share float64
		loops int
		want  time.Duration
	}{
		{30 * time.Millisecond, 0.3, 1, 70 * time.Millisecond},
		{3 * time.Millisecond, 0.3, 3, 27 * time.Millisecond},
		{10 * time.Millisecond, 0.5, 1, 10 * time.Millisecond},
		{10 * time.Millisecond, 0.3, 0, 23333333 * time.Nanosecond},
		{time.Second, 0.3, 1, maxPause},
		{0, 0.3, 1, 0},
	} {
		got := pacePause(c.busy, c.share, c.loops)
		if d := got - c.want; d > time.Microsecond || d < -time.Microsecond {
			t.Errorf("pacePause(%s, %.1f, %d) = %s, want %s", c.busy, c.share, c.loops, got, c.want)
		}
	}
}

// TestPacerSleepsOnlyWhileTheTreeKeepsUp: a paced loop pauses once every pacedKeys keys, not
// at all while the tree is behind, and a share of 0 or 1 paces nothing.
func TestPacerSleepsOnlyWhileTheTreeKeepsUp(t *testing.T) {
	var pauses []time.Duration
	paceSleep = func(d time.Duration) { pauses = append(pauses, d) }
	defer func() { paceSleep = time.Sleep }()

	behind := false
	p := newPacer(0.3, func() bool { return behind })
	for range 3 * pacedKeys {
		p.step()
	}
	if len(pauses) != 3 {
		t.Fatalf("%d pauses over %d keys, want 3", len(pauses), 3*pacedKeys)
	}
	behind = true
	for range 3 * pacedKeys {
		p.step()
	}
	if len(pauses) != 3 {
		t.Fatalf("%d pauses while the tree is behind, want none more", len(pauses)-3)
	}
	p.done()
	if n := pacedLoops.Load(); n != 0 {
		t.Fatalf("%d paced loops after done, want 0", n)
	}

	for _, share := range []float64{0, 1} {
		q := newPacer(share, func() bool { return false })
		for range 2 * pacedKeys {
			q.step()
		}
		q.done()
	}
	if len(pauses) != 3 || pacedLoops.Load() != 0 {
		t.Fatalf("shares 0 and 1 paced: %d pauses, %d loops", len(pauses)-3, pacedLoops.Load())
	}
}
