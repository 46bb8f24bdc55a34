package intake_test

import (
	"fmt"
	"testing"
	"time"

	"safetynet/stream/feed"
	"safetynet/stream/intake"
)

// TestUnknownPersonWaitHonoured: with a 4 s wait and the real clock, an event of a person the
// registry never names is dead-lettered between 4 and 6 s after it was parked: the sweep runs a
// quarter of the wait apart (at least every second), whatever the wait.
func TestUnknownPersonWaitHonoured(t *testing.T) {
	h := newHarness(t)
	h.tweak = func(c *intake.Config) {
		c.UnknownPersonWait, c.SweepInterval, c.Now = 4*time.Second, 0, time.Now
	}
	h.start()
	start := time.Now()
	h.produce(feed.Hospital, ev("h-never", "admitted", validID(31), "admission_id", "a1", "icd10", "J18.9"))
	h.waitFor("the event to be parked", func() bool { return value(h.metrics.Parked) == 1 })
	parked := time.Since(start)
	for len(h.records(h.topics.DLQ)) == 0 {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("no dead letter %s after producing, the wait is 4s", time.Since(start))
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(start)
	t.Logf("parked within %s, dead-lettered %s after producing (wait 4s)", parked.Round(time.Millisecond), took.Round(time.Millisecond))
	if took < 4*time.Second || took > 6*time.Second+parked {
		t.Errorf("dead-lettered %s after producing, want 4–6 s", took)
	}
	if got := header(h.records(h.topics.DLQ)[0], feed.HeaderReason); got != feed.ReasonUnknownPerson {
		t.Errorf("reason %q, want unknown_person", got)
	}
}

// TestParkFull: beyond SAFETYNET_PARK_MAX_EVENTS or SAFETYNET_PARK_MAX_BYTES, an event of an
// unknown person is dead-lettered as park_full (the original record, counted), the parked ones
// stay, and they are still released when the registry names their person.
func TestParkFull(t *testing.T) {
	for _, tc := range []struct {
		name      string
		tweak     func(*intake.Config)
		wantParks int
	}{
		{"events", func(c *intake.Config) { c.ParkMaxEvents = 2 }, 2},
		{"bytes", func(c *intake.Config) { c.ParkMaxBytes = 1500 }, 1}, // one parked event takes ~1 KB
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.tweak = tc.tweak
			h.start()
			person := validID(40)
			var events []map[string]any
			for n := range 4 {
				events = append(events, ev(fmt.Sprintf("h-%d", n), "admitted", person, "admission_id", fmt.Sprintf("a%d", n), "icd10", "J18.9"))
			}
			h.produce(feed.Hospital, events...)
			dlq := h.waitRecords(h.topics.DLQ, 4-tc.wantParks)
			for _, d := range dlq {
				if got := header(d, feed.HeaderReason); got != feed.ReasonParkFull {
					t.Errorf("reason %q, want park_full", got)
				}
			}
			if got := value(h.metrics.Parked); got != float64(tc.wantParks) {
				t.Errorf("parked %v, want %d", got, tc.wantParks)
			}
			if got := value(h.metrics.DeadLetters.WithLabelValues(feed.Hospital, feed.ReasonParkFull)); got != float64(4-tc.wantParks) {
				t.Errorf("park_full counted %v, want %d", got, 4-tc.wantParks)
			}
			h.produce(feed.Registry, ev("r", "member_joined", person, "household_id", "H-FULL"))
			h.waitRecords(h.topics.HouseholdEvents, 1+tc.wantParks)
			h.waitFor("the parked events to be released", func() bool { return value(h.metrics.Parked) == 0 })
		})
	}
}

// TestReleaseInChunks: 1,200 events parked for one person are released in chunks when the
// registry names the person, every one of them, and the parked count returns to 0.
func TestReleaseInChunks(t *testing.T) {
	h := newHarness(t)
	h.start()
	person := validID(50)
	const n = 1200
	var events []map[string]any
	for i := range n {
		events = append(events, ev(fmt.Sprintf("e-%d", i), "unemployed", person))
	}
	h.produce(feed.Employment, events...)
	h.waitFor("1200 parked events", func() bool { return value(h.metrics.Parked) == n })
	h.produce(feed.Registry, ev("r", "member_joined", person, "household_id", "H-MANY"))
	h.waitFor("the release of all", func() bool { return value(h.metrics.Released) >= n })
	// The 1,200 released events and the registry event itself, which the intake group forwards
	// on its own schedule: wait for it, then let the parked reader read its own records and
	// tombstones (a reader that parked a released event again would release it again).
	h.waitRecords(h.topics.HouseholdEvents, n+1)
	h.waitFor("the parked reader to read the parked topic to its end", func() bool {
		return h.parkedReadToEnd() && intake.TombstonesInFlight(h.intake) == 0 && h.parkedReadToEnd()
	})
	if got := value(h.metrics.Released); got != n {
		t.Errorf("released %v events, want %d (each once)", got, n)
	}
	msgs := h.records(h.topics.HouseholdEvents)
	if len(msgs) != n+1 {
		t.Errorf("household events: %d, want %d", len(msgs), n+1)
	}
	if distinct := len(householdEvents(t, msgs)); distinct != n+1 {
		t.Errorf("household events: %d distinct, want %d", distinct, n+1)
	}
	if got := value(h.metrics.Parked); got != 0 {
		t.Errorf("parked after release: %v", got)
	}
	if n, size, err := h.store.ParkedUsage(); err != nil || n != 0 || size != 0 {
		t.Errorf("store holds %d parked events of %d bytes (%v), want none", n, size, err)
	}
}
