package monitor

import (
	"bytes"
	"testing"
	"time"

	"safetynet/scorer"
	"safetynet/stream/feed"
	"safetynet/stream/household"
	"safetynet/stream/kafkatest"
	"safetynet/stream/monitor/cluster"
)

// TestResendAfterLostDedupeMemory: intake drops a resent feed record by remembering the event
// ids it forwarded, in its own store. That memory is not replicated: when the instance that
// held it is lost, a resend of an event already applied reaches the household-events topic
// again. The monitor still applies it at most once — a household's facts are a set keyed by
// feed and event id — so the resend changes nothing and raises no second alert.
func TestResendAfterLostDedupeMemory(t *testing.T) {
	addr := newBroker(t)
	t0 := date(2026, 1, 1)
	c := &clock{now: t0.Add(24 * time.Hour)}
	a, b := id(81, 1980), id(82, 1982)
	p := startPipeline(t, addr, t.TempDir(), c)
	produce(t, addr, p.topics.Registry,
		joined(a, "H-RESEND", date(1980, 3, 1), "M", "head", t0.AddDate(-5, 0, 0)),
		joined(b, "H-RESEND", date(1982, 3, 1), "F", "spouse", t0.AddDate(-5, 0, 0)))
	p.waitReady()
	waitHousehold(t, p.store, "H-RESEND", func(h *household.Household) bool { return len(h.Persons) == 2 })
	lost := ev("unemployed", a, t0, rec{"registered": true}) // raises the household to watch
	produce(t, addr, p.topics.Employment, lost)
	before := waitHousehold(t, p.store, "H-RESEND", func(h *household.Household) bool { return h.Level == scorer.LevelWatch })
	rawAlerts(t, addr, "H-RESEND", 1)

	// The same record again, to the same instance: dropped by intake's memory.
	produce(t, addr, p.topics.Employment, lost)
	waitDuplicates := func(n int) {
		deadline := time.Now().Add(30 * time.Second)
		for countEvent(t, addr, p.topics.HouseholdEvents, lost["event_id"].(string)) != n {
			if time.Now().After(deadline) {
				t.Fatalf("event %s on household-events %d times, want %d", lost["event_id"], countEvent(t, addr, p.topics.HouseholdEvents, lost["event_id"].(string)), n)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	time.Sleep(500 * time.Millisecond)
	waitDuplicates(1)
	p.stop()

	// The instance and its directory are lost; a fresh one restores the household from the
	// changelog, with no memory of the event ids forwarded. The resend now gets through intake…
	q := startPipeline(t, addr, t.TempDir(), c)
	q.waitReady()
	waitHousehold(t, q.store, "H-RESEND", func(h *household.Household) bool { return h.Level == scorer.LevelWatch })
	produce(t, addr, q.topics.Employment, lost)
	waitDuplicates(2)
	// …and the monitor applies it at most once: the household is unchanged, and no alert follows.
	part := cluster.PartitionOf("H-RESEND", testPartitions)
	end := kafkatest.EndOffsets(t, addr, q.topics.HouseholdEvents)[part]
	deadline := time.Now().Add(30 * time.Second)
	for {
		if at, found, _ := q.store.Offset(q.topics.HouseholdEvents, part); found && at >= end {
			break // the monitor applied everything up to and including the resend
		}
		if time.Now().After(deadline) {
			t.Fatal("the monitor did not reach the resend within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	after := waitHousehold(t, q.store, "H-RESEND", func(*household.Household) bool { return true })
	if got, want := mustJSON(t, after.Persons[keyOf(t, a)]), mustJSON(t, before.Persons[keyOf(t, a)]); !bytes.Equal(got, want) {
		t.Errorf("the resend changed the person's facts:\nbefore %s\nafter  %s", want, got)
	}
	if after.Level != before.Level || after.Episode != before.Episode {
		t.Errorf("level %q episode %d after the resend, want %q %d", after.Level, after.Episode, before.Level, before.Episode)
	}
	time.Sleep(time.Second)
	n := 0
	for _, al := range allAlerts(t, addr) {
		if al.HouseholdID == "H-RESEND" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d alerts for the household, want the one raised before the resend", n)
	}
}

// countEvent counts the records of topic that carry eventID.
func countEvent(t *testing.T, addr, topic, eventID string) int {
	n := 0
	for _, m := range kafkatest.ReadTopic(t, addr, topic) {
		var ev feed.HouseholdEvent
		if err := feed.DecodeHouseholdEvent(m.Value, &ev); err != nil {
			t.Fatalf("undecodable household event: %v", err)
		}
		if ev.EventID == eventID {
			n++
		}
	}
	return n
}
