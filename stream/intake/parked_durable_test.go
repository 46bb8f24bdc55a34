package intake_test

import (
	"bytes"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"safetynet/stream/feed"
	"safetynet/stream/intake"
)

// sibling is a second intake on the same broker (same topics, pseudonymisation key, intake
// group and clock reading) with its own, empty state directory.
func (h *harness) sibling() *harness {
	s := &harness{t: h.t, addr: h.addr, topics: h.topics, dir: h.t.TempDir(), pseud: h.pseud, logs: &syncBuffer{}, w: h.w}
	s.clock.Store(h.clock.Load())
	return s
}

// members is a membership a test changes: every intake of the test sees the same list.
type members struct{ p atomic.Pointer[[]string] }

func (m *members) set(ms ...string) { m.p.Store(&ms) }

func (m *members) of(self string) func(*intake.Config) {
	return func(c *intake.Config) {
		c.Membership = func() (string, []string) { return self, *m.p.Load() }
	}
}

// parkedTopic counts the parked topic's records and tombstones.
func (h *harness) parkedTopic() (records, tombstones int) {
	for _, m := range h.records(h.topics.Parked) {
		if len(m.Value) == 0 {
			tombstones++
		} else {
			records++
		}
	}
	return records, tombstones
}

// TestParkedSurvivesTheLostInstance: instance A parks an event for a person the registry does not
// know and commits the feed offset; A and its state directory are lost. B starts on an empty
// directory, reads the event back from the parked topic (not from the feed: A committed it), and
// releases it when the registry names the person: once on household-events, a tombstone on the
// parked topic, a resend of the event dropped. No resident ID number is on the parked topic.
func TestParkedSurvivesTheLostInstance(t *testing.T) {
	a := newHarness(t)
	person := validID(40)
	a.start()
	a.produce(feed.Hospital, ev("h-lost", "admitted", person, "admission_id", "a1", "icd10", "I21.9"))
	a.waitFor("the parked event on A", func() bool { return value(a.metrics.Parked) == 1 })
	a.waitFor("the parked record on the parked topic", func() bool { n, _ := a.parkedTopic(); return n == 1 })
	for _, m := range a.records(a.topics.Parked) {
		if bytes.Contains(m.Key, []byte(person)) || bytes.Contains(m.Value, []byte(person)) {
			t.Fatalf("the parked topic holds the ID number in the clear: %q", m.Value)
		}
		if !bytes.HasPrefix(m.Key, []byte(a.pseud.Key(person))) {
			t.Errorf("parked record key %q: want the person key first", m.Key)
		}
	}
	// A commits the feed offset once the parked record is acknowledged; then A is lost, disk and all.
	a.waitFor("A's intake group to commit the hospital record", func() bool {
		return value(a.metrics.EventsIn.WithLabelValues("hospital")) == 1
	})
	time.Sleep(300 * time.Millisecond) // the commit follows the batch's outputs
	a.stop()
	if err := a.store.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(a.dir); err != nil {
		t.Fatal(err)
	}

	b := a.sibling()
	b.start()
	if got := value(b.metrics.Parked); got != 1 {
		t.Fatalf("B on an empty directory: %v parked events, want the 1 A parked", got)
	}
	b.produce(feed.Registry, ev("r-lost", "member_joined", person, "household_id", "H-LOST"))
	got := householdEvents(t, b.waitRecords(b.topics.HouseholdEvents, 2))
	if e := got["h-lost"]; len(e) != 1 || e[0].HouseholdID != "H-LOST" || e[0].PersonKey != b.pseud.Key(person) {
		t.Fatalf("released event on household-events: got %+v, want once, household H-LOST", e)
	}
	b.waitFor("the release on B", func() bool { return value(b.metrics.Released) == 1 && value(b.metrics.Parked) == 0 })
	if n := value(b.metrics.EventsIn.WithLabelValues("hospital")); n != 0 {
		t.Errorf("B read the hospital record %v times from the feed; want 0 (A committed it, the event came from the parked topic)", n)
	}
	b.waitFor("a tombstone on the parked topic", func() bool { _, n := b.parkedTopic(); return n == 1 })
	// A resend reaches B: dropped (B marked the event seen when it read it from the parked topic).
	b.produce(feed.Hospital, ev("h-lost", "admitted", person, "admission_id", "a1", "icd10", "I21.9"))
	b.waitFor("the resend counted as a duplicate", func() bool { return value(b.metrics.Duplicates.WithLabelValues("hospital")) == 1 })
	if n := len(b.records(b.topics.HouseholdEvents)); n != 2 {
		t.Errorf("household events: %d, want 2 (the registry event and the released one)", n)
	}
	b.stop()
	b.assertNoRawIDs(person)
}

// TestParkedReleasedOnceAmongInstances: two live instances hold every parked event; each event is
// released by one of them (its person key's owner among the members), once, and each expired
// one is dead-lettered once. When an owner goes, the other releases what it owned.
func TestParkedReleasedOnceAmongInstances(t *testing.T) {
	var ms members
	ms.set("a", "b")
	a := newHarness(t)
	a.tweak = ms.of("a")
	b := a.sibling()
	b.tweak = ms.of("b")
	a.start()
	b.start()

	const persons = 8
	var ids []string
	for n := range persons {
		ids = append(ids, validID(50+n))
		a.produce(feed.Hospital, ev(fmt.Sprintf("h-%d", n), "admitted", ids[n], "admission_id", "a1", "icd10", "I21.9"))
	}
	never := validID(70)
	a.produce(feed.Hospital, ev("h-never", "admitted", never, "admission_id", "a1", "icd10", "J18.9"))
	for _, h := range []*harness{a, b} {
		h.waitFor("every parked event on both instances", func() bool { return value(h.metrics.Parked) == persons+1 })
	}
	for n, id := range ids[:persons/2] {
		a.produce(feed.Registry, ev(fmt.Sprintf("r-%d", n), "member_joined", id, "household_id", fmt.Sprintf("H-%d", n)))
	}
	// persons/2 registry events forwarded, persons/2 released.
	for _, h := range []*harness{a, b} {
		h.waitFor("the named persons' events released on both", func() bool { return value(h.metrics.Parked) == persons/2+1 })
	}
	relA, relB := value(a.metrics.Released), value(b.metrics.Released)
	if relA+relB != persons/2 || relA == 0 || relB == 0 {
		t.Errorf("released by a %v, by b %v; want %d in all, shared between both", relA, relB, persons/2)
	}

	// b goes; the membership is a alone: a releases every event whatever its owner was.
	b.stop()
	if err := b.store.Close(); err != nil {
		t.Fatal(err)
	}
	ms.set("a")
	for n, id := range ids[persons/2:] {
		a.produce(feed.Registry, ev(fmt.Sprintf("r-%d", persons/2+n), "member_joined", id, "household_id", fmt.Sprintf("H-%d", persons/2+n)))
	}
	a.waitFor("every named person's event released by a", func() bool { return value(a.metrics.Parked) == 1 })
	got := householdEvents(t, a.waitRecords(a.topics.HouseholdEvents, 2*persons))
	for n := range persons {
		if e := got[fmt.Sprintf("h-%d", n)]; len(e) != 1 || e[0].HouseholdID != fmt.Sprintf("H-%d", n) {
			t.Errorf("event h-%d on household-events: %+v, want once", n, e)
		}
	}

	// b comes back (its directory kept): it catches up on the tombstones; the event of the person
	// the registry never names is dead-lettered once, by its owner, after the wait.
	ms.set("a", "b")
	b.start()
	b.waitFor("b to read the tombstones", func() bool { return value(b.metrics.Parked) == 1 })
	a.advance(intake.DefaultUnknownPersonWait + time.Minute)
	b.advance(intake.DefaultUnknownPersonWait + time.Minute)
	for _, h := range []*harness{a, b} {
		h.waitFor("the expired event gone from both", func() bool { return value(h.metrics.Parked) == 0 })
	}
	time.Sleep(200 * time.Millisecond) // ten sweeps more
	dlq := a.records(a.topics.DLQ)
	if len(dlq) != 1 || header(dlq[0], feed.HeaderReason) != feed.ReasonUnknownPerson {
		t.Fatalf("dead letters: %d, want one unknown_person", len(dlq))
	}
	if n := value(a.metrics.DeadLetters.WithLabelValues("hospital", feed.ReasonUnknownPerson)) +
		value(b.metrics.DeadLetters.WithLabelValues("hospital", feed.ReasonUnknownPerson)); n != 1 {
		t.Errorf("unknown_person dead letters counted by a and b: %v, want 1", n)
	}
	if n := len(a.records(a.topics.HouseholdEvents)); n != 2*persons {
		for id, e := range householdEvents(t, a.records(a.topics.HouseholdEvents)) {
			if len(e) > 1 {
				t.Logf("event %s: %d times", id, len(e))
			}
		}
		t.Errorf("household events: %d, want %d (each registry event and each released event once)", n, 2*persons)
	}
}
