package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"safetynet/scorer"
	"safetynet/state"
	"safetynet/stream/feed"
	"safetynet/stream/household"
	"safetynet/stream/kafkaio"
	"safetynet/stream/kafkatest"
	"safetynet/stream/topics"
)

// brokerLimit is Kafka's default max.message.bytes, set on every topic of the test broker.
const brokerLimit = 1 << 20

// limitTopics sets max.message.bytes on every topic, and checks that the broker enforces it.
func limitTopics(t *testing.T, addr string, names ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := &kafka.Client{Addr: kafka.TCP(addr)}
	req := &kafka.AlterConfigsRequest{}
	for _, n := range names {
		req.Resources = append(req.Resources, kafka.AlterConfigRequestResource{ResourceType: kafka.ResourceTypeTopic, ResourceName: n,
			Configs: []kafka.AlterConfigRequestConfig{{Name: "max.message.bytes", Value: fmt.Sprint(brokerLimit)}}})
	}
	resp, err := client.AlterConfigs(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for r, err := range resp.Errors {
		if err != nil {
			t.Fatalf("set max.message.bytes on %s: %v", r.Name, err)
		}
	}
	// A writer that allows itself bigger batches is refused by the broker.
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: names[0], BatchBytes: 4 << 20, RequiredAcks: kafka.RequireAll, MaxAttempts: 1}
	defer w.Close()
	err = w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: make([]byte, brokerLimit)})
	var we kafka.WriteErrors
	if !errors.As(err, &we) || len(we) != 1 || !errors.Is(we[0], kafka.MessageSizeTooLarge) {
		t.Fatalf("a %d-byte record to %s: got %v, want the broker's MessageSizeTooLarge", brokerLimit, names[0], err)
	}
}

// worstCaseEvents are, through the feed decoder and the pseudonymiser, the events that fill a
// household of n persons to the worst case: every fact list full, every identifier at its longest.
func worstCaseEvents(t *testing.T, hid string, n, firstPerson int) []feed.HouseholdEvent {
	t.Helper()
	p := testPseudonymizer(t)
	now := time.Now()
	long := func(prefix string, i int) string {
		s := fmt.Sprintf("%s-%d-", prefix, i)
		return s + strings.Repeat("x", feed.MaxIDLen-len(s))
	}
	var out []feed.HouseholdEvent
	seq := 0
	add := func(feedName string, count int, fields map[string]any) {
		for range count {
			seq++
			f := map[string]any{"event_id": long("E"+hid, seq),
				"occurred_at": time.Date(2025, 1, 1, 0, 0, 0, 123456789, time.UTC).Add(time.Duration(seq) * time.Minute).Format(time.RFC3339Nano)}
			for k, v := range fields {
				f[k] = v
			}
			if feedName == feed.Hospital {
				f["admission_id"] = long("A", seq)
			}
			raw, _ := json.Marshal(f)
			r, derr := feed.Decode(feedName, raw, feed.DefaultMaxEventBytes, feed.DefaultMaxFutureSkew, now)
			if derr != nil {
				t.Fatalf("%s event: %v", feedName, derr)
			}
			e := p.Apply(r)
			e.HouseholdID, e.IngestedAt = hid, now
			e.Source = feed.Source{Topic: "safetynet.feed." + feedName, Offset: int64(seq)}
			out = append(out, e)
		}
	}
	for i := firstPerson; i < firstPerson+n; i++ {
		first17 := fmt.Sprintf("42010619491231%03d", i)
		id := first17 + string(feed.ResidentIDCheck(first17))
		add(feed.Registry, 4, map[string]any{"person_id": id, "type": "member_joined", "household_id": hid,
			"birth_date": "1949-12-31", "sex": "F", "relation": "spouse", "area_code": "420106001001"})
		add(feed.Employment, 8, map[string]any{"person_id": id, "type": "employed", "monthly_wage": 123456789.25, "registered": true})
		add(feed.Pension, 4, map[string]any{"person_id": id, "type": "suspended", "monthly_amount": 123456789.25})
		add(feed.Disability, 4, map[string]any{"person_id": id, "type": "registered", "grade": 4, "kind": long("K", i)})
		add(feed.Hospital, 24, map[string]any{"person_id": id, "type": "discharged", "icd10": "C92.0ABC", "critical_illness": true,
			"total_cost": 123456789.25, "insured_cost": 123456789.25, "out_of_pocket": 123456789.25})
	}
	return out
}

func produceHouseholdEvents(t *testing.T, addr string, evs []feed.HouseholdEvent) {
	t.Helper()
	w := kafkaio.Kafka{Brokers: []string{addr}}.Writer(topics.Default().HouseholdEvents, kafkaio.HouseholdBalancer())
	defer w.Close()
	msgs := make([]kafka.Message, 0, len(evs))
	for i := range evs {
		v, err := feed.AppendHouseholdEvent(nil, &evs[i])
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, kafka.Message{Key: []byte(evs[i].HouseholdID), Value: v})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
}

// TestHouseholdAtCapFitsBrokerLimit: against a broker whose topics refuse records above 1 MiB, a
// household filled to the member cap in the worst case (every person with every fact list full,
// every identifier at its longest) still produces its changelog record; the next person's event
// is dead-lettered as household_too_large, counted, and the partition goes on with the next
// household.
func TestHouseholdAtCapFitsBrokerLimit(t *testing.T) {
	addr := newBroker(t)
	tp := topics.Default()
	limitTopics(t, addr, tp.Changelog, tp.HouseholdEvents, tp.DLQ, tp.Alerts)

	store, err := state.Open(state.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	dead := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "safetynet_dead_letters_total"}, []string{"feed", "reason"})
	reg.MustRegister(dead)
	c := &clock{now: time.Now()}
	mon := New(Config{Kafka: kafkaio.Kafka{Brokers: []string{addr}}, Topics: tp, GroupID: "test-monitor",
		BatchWait: 2 * time.Millisecond, Now: c.Now, DeadLetters: dead},
		store, scorer.Default(), NewMetrics(reg), testLogger(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mon.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("monitor: %v", err)
		}
		store.Close()
	})

	const big = "H-COLLECTIVE-1"
	part := (&kafka.Hash{}).Balance(kafka.Message{Key: []byte(big)}, 0, 1, 2)
	next := ""
	for i := 0; next == ""; i++ { // another household in the same partition
		if id := fmt.Sprintf("H-NEXT-%d", i); (&kafka.Hash{}).Balance(kafka.Message{Key: []byte(id)}, 0, 1, 2) == part {
			next = id
		}
	}
	cap := household.DefaultMaxMembers
	produceHouseholdEvents(t, addr, worstCaseEvents(t, big, cap, 0))
	over := worstCaseEvents(t, big, 1, cap)[:1] // one more person
	produceHouseholdEvents(t, addr, over)
	produceHouseholdEvents(t, addr, worstCaseEvents(t, next, 1, 900)[:1])

	waitHousehold(t, store, next, func(h *household.Household) bool { return len(h.Persons) == 1 })
	h := waitHousehold(t, store, big, func(h *household.Household) bool { return len(h.Persons) == cap })
	for k, p := range h.Persons {
		if n := len(p.Registry) + len(p.Employment) + len(p.Pension) + len(p.Disability) + len(p.Hospital); n != household.FactsPerPerson {
			t.Fatalf("person %s holds %d facts, want the worst case %d", k, n, household.FactsPerPerson)
		}
	}
	if got := testutil.ToFloat64(dead.WithLabelValues(feed.Registry, feed.ReasonHouseholdTooLarge)); got != 1 {
		t.Errorf("household_too_large dead letters counted: %v, want 1", got)
	}

	// The household's newest changelog record: the broker took it, and it is under the limit.
	largest, found := 0, false
	kafkatest.EachRecord(t, addr, tp.Changelog, func(m kafka.Message) {
		if string(m.Key) != big {
			return
		}
		hh, err := household.Decode(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		largest = max(largest, len(m.Key)+len(m.Value))
		found = found || len(hh.Persons) == household.DefaultMaxMembers
	})
	if !found {
		t.Fatalf("no changelog record of %s with %d persons", big, household.DefaultMaxMembers)
	}
	t.Logf("changelog record of a worst-case household of %d persons: %d bytes (broker limit %d)", household.DefaultMaxMembers, largest, brokerLimit)
	if largest >= brokerLimit {
		t.Errorf("changelog record of %d bytes, the broker limit is %d", largest, brokerLimit)
	}

	// The dead letter names the reason and carries the event: the first letter of the
	// household's partition.
	var letters []kafka.Message
	kafkatest.EachRecord(t, addr, tp.DLQ, func(m kafka.Message) {
		if m.Partition == part {
			letters = append(letters, m)
		}
	})
	if len(letters) == 0 {
		t.Fatalf("no dead letter on partition %d of %s", part, tp.DLQ)
	}
	m := letters[0]
	var reason string
	for _, hd := range m.Headers {
		if hd.Key == feed.HeaderReason {
			reason = string(hd.Value)
		}
	}
	if reason != feed.ReasonHouseholdTooLarge || string(m.Key) != big {
		t.Errorf("dead letter: reason %q key %q, want %q %q", reason, m.Key, feed.ReasonHouseholdTooLarge, big)
	}
	var e feed.HouseholdEvent
	if err := feed.DecodeHouseholdEvent(m.Value, &e); err != nil || e.EventID != over[0].EventID {
		t.Errorf("dead letter value: %v, event %q, want %q", err, e.EventID, over[0].EventID)
	}
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
