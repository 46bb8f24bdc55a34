package monitor

import (
	"safetynet/stream/household"
	"testing"
	"time"
)

// TestRestoreFromChangelog: an instance that loses its disk (or a new one taking over the
// partitions) rebuilds every household from the changelog and goes on from where the lost state
// stood: the same facts, levels and episodes, and new events apply on top.
func TestRestoreFromChangelog(t *testing.T) {
	w := newWorld(23, 40)
	now := date(2025, 12, 31)
	addr := newBroker(t)
	half := len(w.waves) / 2
	first := expected(t, testPseudonymizer(t), flatten(w.waves[:half]))

	a := startPipeline(t, addr, t.TempDir(), &clock{now: now})
	a.waitReady()
	for i := range half {
		w.send(t, a, w.waves[i])
		waitFacts(t, a, expected(t, testPseudonymizer(t), flatten(w.waves[:i+1])))
	}
	before := waitFacts(t, a, first)
	a.stop()
	published := len(allAlerts(t, addr))

	// A new instance with an empty state directory on the same cluster.
	b := startPipeline(t, addr, t.TempDir(), &clock{now: now})
	b.waitReady()
	restored := waitFacts(t, b, first)
	for id, h := range before {
		ca, _ := household.CanonicalJSON(mustJSON(t, h))
		cb, _ := household.CanonicalJSON(mustJSON(t, restored[id]))
		if string(ca) != string(cb) {
			t.Errorf("%s restored differently:\nbefore   %s\nrestored %s", id, ca, cb)
		}
	}
	// Restored, not replayed: replaying the household events would publish the alerts again.
	time.Sleep(time.Second) // a replay, if any, would have published by now
	if n := len(allAlerts(t, addr)); n != published {
		t.Errorf("%d alerts published again on taking over: the partition was replayed, not restored", n-published)
	}
	if published == 0 {
		t.Error("no alert before the take-over: the test proves less than it should")
	}
	// Timers were rebuilt: the restored store holds one for every household that had one.
	for p := range testPartitions {
		due, err := b.store.DueTimers(p, now.AddDate(100, 0, 0), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range due {
			if before[id] == nil || before[id].NextCheck.IsZero() {
				t.Errorf("partition %d: timer for %s, which had none", p, id)
			}
		}
	}
	// And it goes on: the rest of the events apply on top of the restored state.
	for i := half; i < len(w.waves); i++ {
		w.send(t, b, w.waves[i])
		waitFacts(t, b, expected(t, testPseudonymizer(t), flatten(w.waves[:i+1])))
	}
}
