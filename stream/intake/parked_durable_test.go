package intake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

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

// parkedReadToEnd reports whether the intake's parked reader has applied every record the parked
// topic holds now (its offsets in the store, committed with the rows).
func (h *harness) parkedReadToEnd() bool {
	h.t.Helper()
	ends := map[int]int64{}
	for _, m := range h.records(h.topics.Parked) {
		ends[m.Partition] = max(ends[m.Partition], m.Offset+1)
	}
	for p, end := range ends {
		next, ok, err := h.store.Offset(h.topics.Parked, p)
		if err != nil {
			h.t.Fatal(err)
		}
		if !ok || next < end {
			return false
		}
	}
	return true
}

// holdParkedReader holds the intake's parked topic reader back (each batch waits before it is
// applied) until the returned function is called, or the intake stops (the batch is then not
// applied, as if the process had died). held counts the parked records in the batches held.
func (h *harness) holdParkedReader() (held *atomic.Int64, release func()) {
	gate := make(chan struct{})
	held = new(atomic.Int64)
	tweak := h.tweak
	h.tweak = func(c *intake.Config) {
		if tweak != nil {
			tweak(c)
		}
		intake.SetParkedReadHook(c, func(ctx context.Context, _ int, batch []kafka.Message) error {
			for _, m := range batch {
				if len(m.Value) > 0 {
					held.Add(1)
				}
			}
			select {
			case <-gate:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}
	return held, sync.OnceFunc(func() { close(gate) })
}

// settleParked waits until the intake's parked reader has read the whole parked topic and
// nothing it did since wrote more to it (a release or dead letter under way finishes first).
func (h *harness) settleParked() {
	h.t.Helper()
	h.waitFor("the parked reader to read the parked topic to its end", func() bool {
		return h.parkedReadToEnd() && intake.TombstonesInFlight(h.intake) == 0 && h.parkedReadToEnd()
	})
}

// TestReleaseBeforeTheReaderReadsTheRecord: an instance parks events and releases them (the
// registry names their person) or dead-letters them (the wait runs out) before its own parked
// topic reader has read their records (the reader is held back). When the reader then reads the
// records, it does not park those events again: each is released or dead-lettered once, one
// tombstone each, and the parked count stays at 0.
func TestReleaseBeforeTheReaderReadsTheRecord(t *testing.T) {
	const n = 40
	for _, tc := range []struct {
		name   string
		person int
		// end releases or expires the parked events and returns when this instance has.
		end                   func(h *harness, person string)
		wantReleased, wantDLQ int
	}{
		{"released", 61, func(h *harness, person string) {
			h.produce(feed.Registry, ev("r", "member_joined", person, "household_id", "H-EARLY"))
			h.waitFor("the release", func() bool { return value(h.metrics.Released) >= n && value(h.metrics.Parked) == 0 })
		}, n, 0},
		{"expired", 62, func(h *harness, person string) {
			h.advance(intake.DefaultUnknownPersonWait + time.Minute)
			h.waitFor("the dead letters", func() bool {
				return value(h.metrics.DeadLetters.WithLabelValues(feed.Hospital, feed.ReasonUnknownPerson)) >= n && value(h.metrics.Parked) == 0
			})
		}, 0, n},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			held, open := h.holdParkedReader()
			h.start()
			t.Cleanup(open)
			person := validID(tc.person)
			var events []map[string]any
			for e := range n {
				events = append(events, ev(fmt.Sprintf("h-%d", e), "admitted", person, "admission_id", fmt.Sprintf("a%d", e), "icd10", "I21.9"))
			}
			h.produce(feed.Hospital, events...)
			h.waitFor("the events parked by the intake group", func() bool { return value(h.metrics.Parked) == n })
			h.waitFor("the parked reader to hold records back", func() bool { return held.Load() > 0 })
			tc.end(h, person)
			heldBack := held.Load()
			open()
			h.settleParked()
			t.Logf("%d of %d parked records held back from the reader until the events were %s", heldBack, n, tc.name)

			released := value(h.metrics.Released)
			deadLetters := value(h.metrics.DeadLetters.WithLabelValues(feed.Hospital, feed.ReasonUnknownPerson))
			if released != float64(tc.wantReleased) || deadLetters != float64(tc.wantDLQ) {
				t.Errorf("released %v, dead-lettered %v; want %d and %d (each event once)", released, deadLetters, tc.wantReleased, tc.wantDLQ)
			}
			got := householdEvents(t, h.records(h.topics.HouseholdEvents))
			dlq := map[string]int{}
			for _, m := range h.records(h.topics.DLQ) {
				var rec struct {
					EventID string `json:"event_id"`
				}
				if err := json.Unmarshal(m.Value, &rec); err != nil {
					t.Fatalf("dead letter %q: %v", m.Value, err)
				}
				dlq[rec.EventID]++
			}
			once := 0
			for e := range n {
				id := fmt.Sprintf("h-%d", e)
				if len(got[id])+dlq[id] == 1 {
					once++
				}
			}
			if once != n {
				t.Errorf("%d of %d events released or dead-lettered once, want all (the others twice or more, or never)", once, n)
			}
			if records, tombstones := h.parkedTopic(); records != n || tombstones != n {
				t.Errorf("parked topic: %d records, %d tombstones; want %d of each", records, tombstones, n)
			}
			if got := value(h.metrics.Parked); got != 0 {
				t.Errorf("parked gauge %v, want 0", got)
			}
			if c, size, err := h.store.ParkedUsage(); err != nil || c != 0 || size != 0 {
				t.Errorf("store holds %d parked events of %d bytes (%v), want none", c, size, err)
			}
		})
	}
}

// TestReleasedThenDiedBeforeReadingTheTombstones: the instance releases parked events and dies
// before its parked reader has read their records or tombstones (the set of tombstones in flight
// is lost with it). At the next start the reader catches up from its stored offset, records and
// tombstones alike, before anything is released: nothing is released again, nothing stays
// parked, and the parked count is 0.
func TestReleasedThenDiedBeforeReadingTheTombstones(t *testing.T) {
	h := newHarness(t)
	held, open := h.holdParkedReader()
	h.start()
	t.Cleanup(open)
	person := validID(63)
	const n = 40
	var events []map[string]any
	for e := range n {
		events = append(events, ev(fmt.Sprintf("h-%d", e), "admitted", person, "admission_id", fmt.Sprintf("a%d", e), "icd10", "I21.9"))
	}
	h.produce(feed.Hospital, events...)
	h.waitFor("the events parked by the intake group", func() bool { return value(h.metrics.Parked) == n })
	h.waitFor("the parked reader to hold records back", func() bool { return held.Load() > 0 })
	h.produce(feed.Registry, ev("r", "member_joined", person, "household_id", "H-DIED"))
	h.waitFor("the release", func() bool { return value(h.metrics.Released) == n && value(h.metrics.Parked) == 0 })
	h.waitRecords(h.topics.HouseholdEvents, n+1) // the registry event too: the group has committed it
	if h.parkedReadToEnd() {
		t.Fatal("the parked reader read the topic to its end while held back")
	}

	h.tweak = nil // the reader runs freely from now on
	h.restart()   // the held batch is never applied, as if the process had died
	h.settleParked()
	if got := value(h.metrics.Released); got != 0 {
		t.Errorf("released %v events after the restart, want 0 (all were released before)", got)
	}
	if got := value(h.metrics.Parked); got != 0 {
		t.Errorf("parked gauge %v after the restart, want 0", got)
	}
	if c, size, err := h.store.ParkedUsage(); err != nil || c != 0 || size != 0 {
		t.Errorf("store holds %d parked events of %d bytes (%v), want none", c, size, err)
	}
	time.Sleep(200 * time.Millisecond) // ten sweeps
	if got := len(h.records(h.topics.HouseholdEvents)); got != n+1 {
		t.Errorf("household events: %d, want %d (each released event and the registry event once)", got, n+1)
	}
}
