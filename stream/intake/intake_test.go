package intake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/segmentio/kafka-go"

	"safetynet/state"
	"safetynet/stream/feed"
	"safetynet/stream/intake"
	"safetynet/stream/kafkaio"
	"safetynet/stream/kafkatest"
	"safetynet/stream/topics"
)

// validID returns a valid resident ID number (computed check character), distinct per n.
func validID(n int) string {
	bd := time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 37*n)
	first := fmt.Sprintf("330102%s%03d", bd.Format("20060102"), n%1000)
	return first + string(feed.ResidentIDCheck(first))
}

// value reads a gauge or counter.
func value(c prometheus.Collector) float64 {
	ch := make(chan prometheus.Metric, 1)
	c.Collect(ch)
	var m dto.Metric
	if err := (<-ch).Write(&m); err != nil {
		panic(err)
	}
	if m.Gauge != nil {
		return m.Gauge.GetValue()
	}
	return m.Counter.GetValue()
}

// syncBuffer captures logs from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// harness is a broker, a store, and an intake running against them with an injected clock.
type harness struct {
	t       *testing.T
	addr    string
	topics  topics.Topics
	dir     string
	store   *state.Store
	pseud   *feed.Pseudonymizer
	metrics *intake.Metrics
	logs    *syncBuffer
	clock   atomic.Int64 // unix nanoseconds
	intake  *intake.Intake
	stop    func()
	w       *kafka.Writer
	redact  bool // intake.Config.RedactDeadLetters
	tweak   func(*intake.Config)
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	topics := topics.Default()
	all := topics.All()
	_, addr := kafkatest.Broker(t, 3, all...)
	h := &harness{t: t, addr: addr, topics: topics, dir: t.TempDir(), logs: &syncBuffer{}}
	h.clock.Store(time.Now().UnixNano())
	var err error
	if h.pseud, err = feed.NewPseudonymizer([]byte("5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d")); err != nil {
		t.Fatal(err)
	}
	h.w = &kafka.Writer{Addr: kafka.TCP(addr), Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	t.Cleanup(func() { h.w.Close() })
	return h
}

func (h *harness) now() time.Time { return time.Unix(0, h.clock.Load()) }

func (h *harness) advance(d time.Duration) { h.clock.Add(int64(d)) }

// start opens the store and runs an intake until the test ends (or stopIntake).
func (h *harness) start() {
	t := h.t
	t.Helper()
	var err error
	h.store, err = state.Open(state.Options{Dir: h.dir})
	if err != nil {
		t.Fatal(err)
	}
	h.metrics = intake.NewMetrics(prometheus.NewRegistry())
	logger := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := intake.Config{
		Kafka: kafkaio.Kafka{Brokers: []string{h.addr}}, Topics: h.topics, GroupID: "intake-test",
		SweepInterval: 20 * time.Millisecond, Now: h.now, RedactDeadLetters: h.redact,
	}
	if h.tweak != nil {
		h.tweak(&cfg)
	}
	h.intake, err = intake.New(cfg, h.store, h.pseud, h.metrics, logger)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.intake.Run(ctx) }()
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	store := h.store
	t.Cleanup(func() {
		h.stop()
		if err := store.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	h.waitFor("the registry to be caught up", h.intake.CaughtUp)
}

// restart stops the intake, closes the store and starts both again.
func (h *harness) restart() {
	h.t.Helper()
	h.stop()
	if err := h.store.Close(); err != nil {
		h.t.Fatal(err)
	}
	h.start()
}

func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// produce writes feed records keyed by person ID, as an agency would.
func (h *harness) produce(feed string, events ...map[string]any) {
	h.t.Helper()
	msgs := make([]kafka.Message, len(events))
	for n, e := range events {
		b, err := json.Marshal(e)
		if err != nil {
			h.t.Fatal(err)
		}
		key, _ := e["person_id"].(string)
		msgs[n] = kafka.Message{Topic: h.topics.Feed(feed), Key: []byte(key), Value: b}
	}
	if err := h.w.WriteMessages(context.Background(), msgs...); err != nil {
		h.t.Fatalf("produce to %s: %v", feed, err)
	}
}

// records reads everything on topic now, over every partition.
func (h *harness) records(topic string) []kafka.Message {
	h.t.Helper()
	conn, err := kafka.Dial("tcp", h.addr)
	if err != nil {
		h.t.Fatal(err)
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		h.t.Fatal(err)
	}
	var out []kafka.Message
	for _, p := range parts {
		lc, err := kafka.DialLeader(context.Background(), "tcp", h.addr, topic, p.ID)
		if err != nil {
			h.t.Fatal(err)
		}
		first, last, err := lc.ReadOffsets()
		if err != nil {
			h.t.Fatal(err)
		}
		for off := first; off < last; {
			if _, err := lc.Seek(off, kafka.SeekAbsolute); err != nil {
				h.t.Fatal(err)
			}
			lc.SetReadDeadline(time.Now().Add(10 * time.Second))
			b := lc.ReadBatch(1, 10<<20)
			for {
				m, err := b.ReadMessage()
				if err != nil {
					break
				}
				out = append(out, m)
				off = m.Offset + 1
			}
			b.Close()
		}
		lc.Close()
	}
	return out
}

// waitRecords waits until topic holds at least n records, and returns them.
func (h *harness) waitRecords(topic string, n int) []kafka.Message {
	h.t.Helper()
	var got []kafka.Message
	h.waitFor(fmt.Sprintf("%d records on %s", n, topic), func() bool {
		got = h.records(topic)
		return len(got) >= n
	})
	return got
}

func householdEvents(t *testing.T, msgs []kafka.Message) map[string][]feed.HouseholdEvent {
	t.Helper()
	out := map[string][]feed.HouseholdEvent{}
	for _, m := range msgs {
		var ev feed.HouseholdEvent
		if err := json.Unmarshal(m.Value, &ev); err != nil {
			t.Fatalf("household event %s: %v", m.Value, err)
		}
		if string(m.Key) != ev.HouseholdID {
			t.Errorf("event %s: key %q, household_id %q", ev.EventID, m.Key, ev.HouseholdID)
		}
		out[ev.EventID] = append(out[ev.EventID], ev)
	}
	return out
}

func header(m kafka.Message, k string) string {
	for _, h := range m.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}

func ev(id, typ, person string, extra ...any) map[string]any {
	m := map[string]any{"event_id": id, "type": typ, "person_id": person, "occurred_at": "2025-03-01T09:00:00+08:00"}
	for n := 0; n+1 < len(extra); n += 2 {
		m[extra[n].(string)] = extra[n+1]
	}
	return m
}

// TestIntakeForwardsEveryFeedAndType: a good event of every feed and type arrives on the
// household-events topic, once, keyed by its household, pseudonymised.
func TestIntakeForwardsEveryFeedAndType(t *testing.T) {
	h := newHarness(t)
	a, b, c := validID(1), validID(2), validID(3)
	h.produce(feed.Registry,
		ev("r1", "member_joined", a, "household_id", "H-A", "relation", "head"),
		ev("r2", "member_joined", b, "household_id", "H-B", "relation", "spouse", "sex", "F", "birth_date", "1960-03-15"),
		ev("r3", "member_joined", c, "household_id", "H-A"),
	)
	h.start()
	if got := value(h.metrics.PersonsKnown); got != 3 {
		t.Errorf("persons known: got %v, want 3", got)
	}
	h.produce(feed.Registry,
		ev("r4", "member_left", c, "household_id", "H-A"),
		ev("r5", "died", b, "household_id", "H-B"))
	h.produce(feed.Hospital,
		ev("h1", "admitted", a, "admission_id", "ad1", "icd10", "C92.0", "critical_illness", true),
		ev("h2", "discharged", a, "admission_id", "ad1", "total_cost", 1000, "insured_cost", 600, "out_of_pocket", 400))
	h.produce(feed.Pension,
		ev("p1", "started", b, "monthly_amount", 1500),
		ev("p2", "changed", b, "monthly_amount", 1600, "household_id", "H-Other"),
		ev("p3", "suspended", b), ev("p4", "stopped", b))
	h.produce(feed.Employment,
		ev("w1", "employed", a, "monthly_wage", 3000), ev("w2", "unemployed", a, "registered", true))
	h.produce(feed.Disability,
		ev("d1", "registered", b, "grade", 2, "kind", "physical"), ev("d2", "changed", b, "grade", 1), ev("d3", "revoked", b))

	want := map[string]struct{ household, person, feed string }{
		"r1": {"H-A", a, "registry"}, "r2": {"H-B", b, "registry"}, "r3": {"H-A", c, "registry"},
		"r4": {"H-A", c, "registry"}, "r5": {"H-B", b, "registry"},
		"h1": {"H-A", a, "hospital"}, "h2": {"H-A", a, "hospital"},
		"p1": {"H-B", b, "pension"}, "p2": {"H-Other", b, "pension"}, "p3": {"H-B", b, "pension"}, "p4": {"H-B", b, "pension"},
		"w1": {"H-A", a, "employment"}, "w2": {"H-A", a, "employment"},
		"d1": {"H-B", b, "disability"}, "d2": {"H-B", b, "disability"}, "d3": {"H-B", b, "disability"},
	}
	got := householdEvents(t, h.waitRecords(h.topics.HouseholdEvents, len(want)))
	for id, w := range want {
		evs := got[id]
		if len(evs) != 1 {
			t.Errorf("event %s: arrived %d times, want once", id, len(evs))
			continue
		}
		e := evs[0]
		if e.HouseholdID != w.household || e.Feed != w.feed || e.PersonKey != h.pseud.Key(w.person) || e.PersonMasked != feed.Mask(w.person) {
			t.Errorf("event %s: got household %q feed %q key %q masked %q; want %q %q %q %q",
				id, e.HouseholdID, e.Feed, e.PersonKey, e.PersonMasked, w.household, w.feed, h.pseud.Key(w.person), feed.Mask(w.person))
		}
		if e.V != feed.EventVersion || e.Source.Topic != h.topics.Feed(w.feed) || e.IngestedAt.IsZero() {
			t.Errorf("event %s: version %d source %+v ingested %v", id, e.V, e.Source, e.IngestedAt)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d distinct events, want %d", len(got), len(want))
	}
	if e := got["h2"]; len(e) == 1 && (e[0].OutOfPocket == nil || *e[0].OutOfPocket != 400) {
		t.Errorf("discharge: out_of_pocket not carried: %+v", e[0])
	}
	h.waitFor("every event counted", func() bool { return value(h.metrics.Forwarded.WithLabelValues("pension")) == 4 })
	if got := value(h.metrics.EventsIn.WithLabelValues("registry")); got != 5 {
		t.Errorf("events in (registry): got %v, want 5", got)
	}
	// member_left removed c; died kept b.
	h.waitFor("the registry table to apply r4", func() bool { return value(h.metrics.PersonsKnown) == 2 })
	h.stop()
	h.assertNoRawIDs(a, b, c)
}

// TestIntakeResendForwardedOnce: the same event_id from the same feed is forwarded once, whether
// the resend comes in the same batch or later; the same id on another feed is another event.
func TestIntakeResendForwardedOnce(t *testing.T) {
	h := newHarness(t)
	a := validID(10)
	h.produce(feed.Registry, ev("r1", "member_joined", a, "household_id", "H-1"))
	h.start()
	e := ev("x1", "employed", a, "monthly_wage", 2000)
	h.produce(feed.Employment, e, e)
	h.waitRecords(h.topics.HouseholdEvents, 2)
	h.produce(feed.Employment, e)
	h.produce(feed.Pension, ev("x1", "started", a, "monthly_amount", 900))
	h.produce(feed.Hospital, ev("marker", "admitted", a, "admission_id", "m", "icd10", "A00"))
	h.waitRecords(h.topics.HouseholdEvents, 4)
	h.waitFor("the last resend to be read", func() bool {
		return value(h.metrics.EventsIn.WithLabelValues("employment")) == 3
	})
	recs := h.records(h.topics.HouseholdEvents)
	byFeed := map[string]int{}
	for _, evs := range householdEvents(t, recs) {
		for _, e := range evs {
			byFeed[e.Feed+"/"+e.EventID]++
		}
	}
	if byFeed["employment/x1"] != 1 || byFeed["pension/x1"] != 1 || byFeed["hospital/marker"] != 1 {
		t.Errorf("forwarded counts: %v; want each once", byFeed)
	}
	if got := value(h.metrics.Duplicates.WithLabelValues("employment")); got != 2 {
		t.Errorf("duplicates: got %v, want 2", got)
	}
}

// TestIntakeResendDroppedAfterRestart: the resend memory answers new events from memory (the
// resend filter) and still drops a resend after a restart, once the filter is rebuilt from the
// seen table; a resend of a parked event (marked by the parked table's reader) is dropped too.
func TestIntakeResendDroppedAfterRestart(t *testing.T) {
	h := newHarness(t)
	a, b := validID(12), validID(13)
	h.produce(feed.Registry, ev("r1", "member_joined", a, "household_id", "H-1"))
	h.start()
	e1, e2 := ev("y1", "employed", a, "monthly_wage", 2000), ev("y2", "unemployed", a, "registered", true)
	parked := ev("p1", "admitted", b, "admission_id", "a1", "icd10", "I21.9")
	h.produce(feed.Employment, e1, e2)
	h.produce(feed.Hospital, parked)
	h.waitRecords(h.topics.HouseholdEvents, 3)
	h.waitFor("the parked event", func() bool { return value(h.metrics.Parked) == 1 })
	if _, fromMemory, _ := intake.ResendFilterLoaded(h.intake); fromMemory < 3 {
		t.Errorf("resend checks answered from memory: %d, want the 3 new events", fromMemory)
	}

	h.restart()
	h.waitFor("the resend filter to load", func() bool { loaded, _, _ := intake.ResendFilterLoaded(h.intake); return loaded })
	h.produce(feed.Employment, e2, ev("y3", "employed", a, "monthly_wage", 2100), e1)
	h.produce(feed.Hospital, parked)
	h.waitRecords(h.topics.HouseholdEvents, 4)
	h.waitFor("the resends to be read", func() bool {
		return value(h.metrics.Duplicates.WithLabelValues("employment")) == 2 && value(h.metrics.Duplicates.WithLabelValues("hospital")) == 1
	})
	byID := map[string]int{}
	for _, evs := range householdEvents(t, h.records(h.topics.HouseholdEvents)) {
		for _, e := range evs {
			byID[e.Feed+"/"+e.EventID]++
		}
	}
	want := map[string]int{"registry/r1": 1, "employment/y1": 1, "employment/y2": 1, "employment/y3": 1}
	if !maps.Equal(byID, want) {
		t.Errorf("household events by id: got %v, want %v", byID, want)
	}
	if got := value(h.metrics.Parked); got != 1 {
		t.Errorf("parked: got %v, want 1 (the resend parks nothing)", got)
	}
	_, fromMemory, fromStore := intake.ResendFilterLoaded(h.intake)
	if fromMemory < 1 || fromStore < 3 {
		t.Errorf("after the restart, checks from memory %d (want y3 at least), from the store %d (want the 3 resends)", fromMemory, fromStore)
	}
}

// TestIntakeParksUntilRegistry: a hospital event before its person's registry entry is held,
// then released to the household when the entry arrives; one whose person never arrives is
// dead-lettered as unknown_person after the wait (injected clock), with the original bytes.
// The table and the parked events survive a restart.
func TestIntakeParksUntilRegistry(t *testing.T) {
	h := newHarness(t)
	late, never := validID(20), validID(21)
	h.start()
	h.produce(feed.Hospital,
		ev("h-late", "admitted", late, "admission_id", "a1", "icd10", "I21.9"),
		ev("h-never", "admitted", never, "admission_id", "a2", "icd10", "J18.9"))
	h.waitFor("two parked events", func() bool { return value(h.metrics.Parked) == 2 })
	if n := len(h.records(h.topics.HouseholdEvents)); n != 0 {
		t.Fatalf("%d household events before the registry named anyone", n)
	}

	// A restart keeps the parked events.
	h.restart()
	if got := value(h.metrics.Parked); got != 2 {
		t.Fatalf("parked after restart: got %v, want 2", got)
	}

	h.produce(feed.Registry, ev("r-late", "member_joined", late, "household_id", "H-LATE"))
	got := householdEvents(t, h.waitRecords(h.topics.HouseholdEvents, 2))
	if e := got["h-late"]; len(e) != 1 || e[0].HouseholdID != "H-LATE" || e[0].PersonKey != h.pseud.Key(late) {
		t.Fatalf("released event: got %+v", e)
	}
	h.waitFor("the release to be counted", func() bool { return value(h.metrics.Released) == 1 })
	if got := value(h.metrics.Parked); got != 1 {
		t.Errorf("parked after release: got %v, want 1", got)
	}
	if n := len(h.records(h.topics.DLQ)); n != 0 {
		t.Fatalf("%d dead letters before the wait ended", n)
	}

	h.advance(intake.DefaultUnknownPersonWait + time.Minute)
	dlq := h.waitRecords(h.topics.DLQ, 1)
	orig := h.records(h.topics.Hospital)
	var src kafka.Message
	for _, m := range orig {
		if bytes.Contains(m.Value, []byte("h-never")) {
			src = m
		}
	}
	d := dlq[0]
	if header(d, feed.HeaderReason) != feed.ReasonUnknownPerson {
		t.Errorf("reason: got %q, want unknown_person", header(d, feed.HeaderReason))
	}
	if !bytes.Equal(d.Value, src.Value) || !bytes.Equal(d.Key, src.Key) {
		t.Errorf("dead letter is not the original record:\n got %s\nwant %s", d.Value, src.Value)
	}
	if header(d, feed.HeaderSourceOffset) != strconv.FormatInt(src.Offset, 10) ||
		header(d, feed.HeaderSourcePartition) != strconv.Itoa(src.Partition) ||
		header(d, feed.HeaderSourceTopic) != h.topics.Hospital || header(d, feed.HeaderFeed) != "hospital" {
		t.Errorf("source headers %v; want %s/%d@%d", d.Headers, src.Topic, src.Partition, src.Offset)
	}
	h.waitFor("the parked gauge to reach 0", func() bool { return value(h.metrics.Parked) == 0 })
	if got := value(h.metrics.DeadLetters.WithLabelValues("hospital", "unknown_person")); got != 1 {
		t.Errorf("dead letters: got %v, want 1", got)
	}
	if n := len(h.records(h.topics.HouseholdEvents)); n != 2 {
		t.Errorf("household events: got %d, want 2 (the registry event and the released one)", n)
	}
	h.stop()
	h.assertNoRawIDs(late, never)
}

// badRecords are real malformed records, one or more per reason code the decoder gives.
// TestIntakeReleasesParkedAfterACrash: a process that died after writing a person's row and before
// releasing the events parked for that person releases them at the next start, not a day later.
func TestIntakeReleasesParkedAfterACrash(t *testing.T) {
	h := newHarness(t)
	person := validID(30)
	h.start()
	h.produce(feed.Hospital, ev("h-crash", "admitted", person, "admission_id", "a1", "icd10", "I21.9"))
	h.waitFor("the parked event", func() bool { return value(h.metrics.Parked) == 1 })
	h.stop()
	if err := h.store.Close(); err != nil {
		t.Fatal(err)
	}
	// The table learnt the person; the release never ran.
	s, err := state.Open(state.Options{Dir: h.dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(func(tx *state.Tx) error {
		if err := tx.PutPerson(h.pseud.Key(person), state.Person{HouseholdID: "H-CRASH", Fact: "member_joined", FactHousehold: "H-CRASH", OccurredAt: h.now(), EventID: "r1"}); err != nil {
			return err
		}
		return tx.AddPersonCount(1)
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	h.start()
	got := householdEvents(t, h.waitRecords(h.topics.HouseholdEvents, 1))
	if e := got["h-crash"]; len(e) != 1 || e[0].HouseholdID != "H-CRASH" {
		t.Fatalf("released at start: got %+v", got)
	}
	h.waitFor("the parked gauge to reach 0", func() bool { return value(h.metrics.Parked) == 0 })
}

func badRecords() []struct{ feed, value, reason string } {
	id := validID(30)
	badCheck := id[:17] + map[bool]string{true: "1", false: "0"}[id[17] == '0']
	return []struct{ feed, value, reason string }{
		{"pension", `{"event_id":"b1","type":"started",`, feed.ReasonMalformedJSON},
		{"pension", `{"event_id":"b2","type":"started","occurred_at":"2025-01-01T00:00:00Z","monthly_amount":1}`, feed.ReasonMissingField},
		{"employment", `{"event_id":"b3","type":"employed","person_id":"` + id + `","occurred_at":"2025-01-01T00:00:00Z","monthly_wage":"3000"}`, feed.ReasonBadType},
		{"disability", `{"event_id":"b4","type":"registered","person_id":"` + id + `","occurred_at":"2025-01-01T00:00:00Z","grade":7}`, feed.ReasonBadValue},
		{"hospital", `{"event_id":"b5","type":"admitted","person_id":"` + badCheck + `","occurred_at":"2025-01-01T00:00:00Z","admission_id":"a","icd10":"C92.0"}`, feed.ReasonBadPersonID},
		{"pension", `{"event_id":"b6","type":"stopped","person_id":"` + id + `","occurred_at":"2099-01-01T00:00:00Z"}`, feed.ReasonBadTime},
		{"pension", `{"event_id":"b7","type":"retired","person_id":"` + id + `","occurred_at":"2025-01-01T00:00:00Z"}`, feed.ReasonUnknownType},
		{"registry", `{"event_id":"b8","type":"member_joined","person_id":"` + id + `","occurred_at":"2025-01-01T00:00:00Z","household_id":"H","pad":"` + strings.Repeat("x", 70<<10) + `"}`, feed.ReasonTooLarge},
		{"registry", `{"event_id":"b9","type":"member_joined","person_id":"` + id + `","occurred_at":"2025-01-01T00:00:00Z"}`, feed.ReasonMissingField},
	}
}

// TestIntakeDeadLettersKcat: an agency producing with kcat; every malformed record comes back
// on the DLQ byte for byte, with its reason and source, and the good record after them still
// goes through.
func TestIntakeDeadLettersKcat(t *testing.T) {
	kcat := kafkatest.Tool(t, "kcat", "kcat")
	h := newHarness(t)
	h.start()
	bad := badRecords()
	id := validID(30)
	for _, r := range bad {
		cmd := exec.Command(kcat, "-b", h.addr, "-t", h.topics.Feed(r.feed), "-P", "-K", "|", "-X", "message.max.bytes=1000000")
		cmd.Stdin = strings.NewReader(id + "|" + r.value + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kcat: %v: %s", err, out)
		}
	}
	h.produce(feed.Registry, ev("ok", "member_joined", id, "household_id", "H-OK"))
	dlq := h.waitRecords(h.topics.DLQ, len(bad))
	if got := householdEvents(t, h.waitRecords(h.topics.HouseholdEvents, 1)); len(got["ok"]) != 1 {
		t.Errorf("the good record after the bad ones: got %v", got)
	}
	sources := map[string]kafka.Message{}
	for _, f := range feed.Feeds {
		for _, m := range h.records(h.topics.Feed(f)) {
			sources[string(m.Value)] = m
		}
	}
	byValue := map[string]kafka.Message{}
	for _, d := range dlq {
		byValue[string(d.Value)] = d
	}
	for _, r := range bad {
		d, ok := byValue[r.value]
		if !ok {
			t.Errorf("%s record %.40q: no dead letter with its exact bytes", r.reason, r.value)
			continue
		}
		src := sources[r.value]
		if got := header(d, feed.HeaderReason); got != r.reason {
			t.Errorf("%.40q: reason %q, want %q (detail %q)", r.value, got, r.reason, header(d, feed.HeaderDetail))
		}
		if header(d, feed.HeaderSourceOffset) != strconv.FormatInt(src.Offset, 10) ||
			header(d, feed.HeaderSourcePartition) != strconv.Itoa(src.Partition) ||
			header(d, feed.HeaderSourceTopic) != src.Topic || header(d, feed.HeaderFeed) != r.feed {
			t.Errorf("%.40q: headers %s; want source %s/%d@%d", r.value, d.Headers, src.Topic, src.Partition, src.Offset)
		}
		if string(d.Key) != id {
			t.Errorf("%.40q: key not kept", r.value)
		}
		if at, err := time.Parse(time.RFC3339Nano, header(d, feed.HeaderDeadLetteredAt)); err != nil || at.IsZero() {
			t.Errorf("dead_lettered_at %q: %v", header(d, feed.HeaderDeadLetteredAt), err)
		}
		if header(d, feed.HeaderDetail) == "" || strings.Contains(header(d, feed.HeaderDetail), id[:17]) {
			t.Errorf("detail %q is empty or names the person", header(d, feed.HeaderDetail))
		}
	}
	h.waitFor("the dead letters to be counted", func() bool {
		return value(h.metrics.DeadLetters.WithLabelValues("registry", "too_large")) == 1
	})
	h.stop()
	h.assertNoRawIDs(id)
}

// writtenPart reads a state file up to its first all-zero MiB: Badger preallocates its value log
// and memtable files (sparse, up to a GiB) and writes them from the start.
func writtenPart(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []byte
	chunk := make([]byte, 1<<20)
	for {
		n, err := io.ReadFull(f, chunk)
		if n == 0 || bytes.Count(chunk[:n], []byte{0}) == n {
			return out, nil
		}
		out = append(out, chunk[:n]...)
		if err != nil {
			return out, nil
		}
	}
}

// assertNoRawIDs scans everything safetynet wrote — household events, the DLQ's headers, the
// alert and changelog topics, the state store (logically and its files) and the logs — for the
// raw ID numbers. The DLQ's key and value are the agency's own record, kept byte for byte by
// design, and are not scanned. The scan is checked to see what it looks at (positive controls).
func (h *harness) assertNoRawIDs(ids ...string) {
	t := h.t
	t.Helper()
	find := func(where string, b []byte) {
		for _, id := range ids {
			if bytes.Contains(b, []byte(id)) {
				t.Errorf("raw ID %s found in %s", feed.Mask(id), where)
			}
		}
	}
	var written int
	for _, topic := range []string{h.topics.HouseholdEvents, h.topics.Alerts, h.topics.Changelog, h.topics.DLQ} {
		for _, m := range h.records(topic) {
			written++
			if topic != h.topics.DLQ {
				find(topic+" key", m.Key)
				find(topic+" value", m.Value)
			}
			for _, hd := range m.Headers {
				find(topic+" header "+hd.Key, hd.Value)
			}
		}
	}
	if written == 0 {
		t.Error("scan: nothing written to scan")
	}
	// Positive control: the scan sees IDs where they are (the agency's own feed topics).
	var inFeeds bool
	for _, f := range feed.Feeds {
		for _, m := range h.records(h.topics.Feed(f)) {
			inFeeds = inFeeds || bytes.Contains(m.Value, []byte(ids[0]))
		}
	}
	if !inFeeds {
		t.Error("scan control: the raw ID is not even in the feed topics")
	}
	logs := h.logs.String()
	find("logs", []byte(logs))
	if !strings.Contains(logs, `"component":"intake"`) {
		t.Error("scan control: no intake logs captured")
	}

	// The intake has stopped; the store is still open, so its write-ahead files hold what it
	// wrote uncompressed.
	st := h.store
	var rows int
	err := st.EachRecord(func(k, v []byte) error {
		rows++
		find("state key", k)
		find("state value", v)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if rows < 2 {
		t.Errorf("scan control: only %d state rows", rows)
	}
	var files int
	var sawEventID bool
	filepath.WalkDir(h.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := writtenPart(p)
		if err != nil {
			t.Errorf("read %s: %v", p, err)
			return nil
		}
		files++
		// a registry event's mark in a seen block: the feed's name after its length (a
		// block's first mark is stored literally)
		sawEventID = sawEventID || bytes.Contains(b, []byte("\x08registry"))
		find("state file "+d.Name(), b)
		return nil
	})
	if files == 0 || !sawEventID {
		t.Errorf("scan control: %d state files, plain event keys visible: %v", files, sawEventID)
	}
}
