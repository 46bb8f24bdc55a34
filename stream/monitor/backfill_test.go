package monitor

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"safetynet/internal/contracts"
	"safetynet/scorer"
	"safetynet/state"
	"safetynet/stream/household"
	"safetynet/stream/kafkaio"
	"safetynet/stream/kafkatest"
	"safetynet/stream/topics"
)

// waitApplied waits until the store has applied every household event on the topic now, and the
// topic has stopped growing for a second (intake has forwarded everything).
func waitApplied(t *testing.T, addr string, store *state.Store, topic string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var stableSince time.Time
	var last map[int]int64
	for time.Now().Before(deadline) {
		ends := kafkatest.EndOffsets(t, addr, topic)
		done := true
		for p, end := range ends {
			if next, _, _ := store.Offset(topic, p); next < end {
				done = false
			}
		}
		if !reflect.DeepEqual(ends, last) {
			last, stableSince = ends, time.Now()
		}
		if done && time.Since(stableSince) > time.Second {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("household events not all applied within 90s (ends %v)", last)
}

// TestBackfill: two years of history loaded with a cutoff after it publish exactly one `raised`
// alert with cause backfill per household at a level and none for the past, and end in the same
// household state as a normal run over the same household events; an event after the cutoff
// then alerts as usual.
func TestBackfill(t *testing.T) {
	t.Run("ends when the backlog is loaded", func(t *testing.T) { testBackfill(t, false) })
	t.Run("ends at the first event after the cutoff", func(t *testing.T) { testBackfill(t, true) })
}

func testBackfill(t *testing.T, endByEvent bool) {
	tp := topics.Default()
	bf := tp
	bf.Alerts, bf.Changelog, bf.DLQ = "backfill.alerts", "backfill.changelog", "backfill.dlq"
	_, addr := kafkatest.Broker(t, testPartitions, append(tp.FeedTopics(), tp.HouseholdEvents, tp.DLQ, tp.Alerts, tp.Verifications, tp.Changelog, tp.Parked, bf.Alerts, bf.Changelog, bf.DLQ)...)
	until := date(2026, 1, 1)
	c := &clock{now: until.Add(24 * time.Hour)}

	// The normal run: intake and a monitor over the whole history.
	p := startPipeline(t, addr, t.TempDir(), c)
	w := newWorld(15, 60) // events over 700 days from 2024-01-01
	w.send(t, p, w.waves[0])
	p.waitReady()
	for _, wave := range w.waves[1:] {
		w.send(t, p, wave)
	}
	waitApplied(t, addr, p.store, tp.HouseholdEvents)
	normal := readHouseholds(t, p.store, w.households)
	pastAlerts := allAlerts(t, addr)
	// One household at no level per partition, for events after the cutoff.
	quiet := map[int]string{}
	for _, id := range w.households {
		if h := normal[id]; h.Level == "" && quiet[h.Partition] == "" {
			quiet[h.Partition] = id
		}
	}
	if len(quiet) != testPartitions {
		t.Fatalf("households at no level in %d partitions, want %d", len(quiet), testPartitions)
	}
	liveEvent := func() {
		var regs, adms []rec
		for part, hid := range quiet {
			person := id(900+part, 1950)
			regs = append(regs, joined(person, hid, date(1950, 3, 1), "M", "other", until.Add(time.Hour)))
			adms = append(adms, ev("admitted", person, until.Add(2*time.Hour), rec{"admission_id": "A-LIVE-" + hid, "icd10": "C92.0"}))
		}
		produce(t, addr, tp.Registry, regs...)
		time.Sleep(200 * time.Millisecond) // the person table reads the registry first
		produce(t, addr, tp.Hospital, adms...)
	}
	settle := 500 * time.Millisecond
	if endByEvent {
		settle = time.Hour
	}
	if len(pastAlerts) == 0 {
		t.Fatal("the normal run raised no alert over the history: the test shows nothing")
	}

	// The backfill: a second monitor over the same household events, with its own outputs.
	store, err := state.Open(state.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(tWriter{t}, nil))
	}
	metrics := NewMetrics(prometheus.NewRegistry())
	mon := New(Config{Kafka: kafkaio.Kafka{Brokers: []string{addr}}, Topics: bf, GroupID: "test-monitor-backfill",
		BatchSize: 50, BatchWait: 2 * time.Millisecond, TimerInterval: 50 * time.Millisecond, Now: c.Now,
		BackfillUntil: until, BackfillSettle: settle}, store, scorer.Default(), metrics, logger)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mon.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("backfill monitor: %v", err)
		}
		store.Close()
	}()
	waitApplied(t, addr, store, tp.HouseholdEvents)
	if endByEvent {
		// The whole history is applied and nothing was published: the backfill waits for an
		// event after the cutoff.
		time.Sleep(500 * time.Millisecond)
		if got := kafkatest.ReadTopic(t, addr, bf.Alerts); len(got) != 0 {
			t.Fatalf("%d alerts published during the backfill", len(got))
		}
		for part := range testPartitions {
			if v, _, _ := store.Mark(part, markBackfill); v != "" {
				t.Fatalf("partition %d: backfill mark %q before any event after the cutoff", part, v)
			}
		}
		liveEvent()
	}
	deadline := time.Now().Add(60 * time.Second)
	for part := 0; part < testPartitions; {
		if v, _, _ := store.Mark(part, markBackfill); v == "done" {
			part++
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("partition %d: backfill not finished within 60s", part)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if endByEvent { // both runs applied the events after the cutoff
		waitApplied(t, addr, p.store, tp.HouseholdEvents)
		waitApplied(t, addr, store, tp.HouseholdEvents)
		normal = readHouseholds(t, p.store, w.households)
	}
	backfilled := readHouseholds(t, store, w.households)
	isQuiet := map[string]bool{}
	for _, hid := range quiet {
		isQuiet[hid] = true
	}

	// Same end state as the normal run.
	for _, id := range w.households {
		a, b := normal[id], backfilled[id]
		if a.Level != b.Level || a.Score != b.Score || a.Episode != b.Episode || a.Open != b.Open || !a.NextCheck.Equal(b.NextCheck) {
			t.Errorf("%s: normal run level %q score %.1f episode %d open %v next %s; backfill level %q score %.1f episode %d open %v next %s",
				id, a.Level, a.Score, a.Episode, a.Open, a.NextCheck, b.Level, b.Score, b.Episode, b.Open, b.NextCheck)
		}
		if ja, jb := mustJSON(t, a.Persons), mustJSON(t, b.Persons); string(ja) != string(jb) {
			t.Errorf("%s: facts differ from the normal run's", id)
		}
	}

	// Exactly one raised alert with cause backfill per household at a level, none else.
	schemas, err := contracts.LoadSchemas("../../docs")
	if err != nil {
		t.Fatal(err)
	}
	got := kafkatest.ReadTopic(t, addr, bf.Alerts)
	atLevel := 0
	perHousehold := map[string]int{}
	for _, m := range got {
		var a household.Alert
		if err := json.Unmarshal(m.Value, &a); err != nil {
			t.Fatal(err)
		}
		if err := schemas.Validate("schemas/alert.schema.json", m.Value); err != nil {
			t.Errorf("backfill alert does not match the schema: %v\n%s", err, m.Value)
		}
		if a.Cause.Kind == household.CauseEvent && a.EventTime.After(until) {
			continue // the event after the cutoff
		}
		perHousehold[a.HouseholdID]++
		h := backfilled[a.HouseholdID]
		if a.Status != household.StatusRaised || a.Cause.Kind != household.CauseBackfill || h == nil || a.Level != h.Level || a.Episode != h.Episode {
			t.Errorf("alert %s %s by %s episode %d for %s; want raised by backfill at the household's level %v",
				a.Status, a.Level, a.Cause.Kind, a.Episode, a.HouseholdID, h)
		}
	}
	for id, h := range backfilled {
		if isQuiet[id] {
			continue // at no level when the backfill ended; the event after it is checked below
		}
		if h.Level != "" {
			atLevel++
		}
		if want := map[bool]int{true: 1, false: 0}[h.Level != ""]; perHousehold[id] != want {
			t.Errorf("%s at level %q: %d backfill alerts, want %d", id, h.Level, perHousehold[id], want)
		}
	}
	if atLevel == 0 {
		t.Fatal("no household at a level after the history: the test shows nothing")
	}
	if len(got) >= len(pastAlerts) {
		t.Errorf("backfill published %d alerts, the normal run %d: the past was not kept quiet", len(got), len(pastAlerts))
	}
	withheld := testutil.ToFloat64(metrics.AlertsWithheld.WithLabelValues(household.CauseBackfill))
	if withheld == 0 {
		t.Error("safetynet_alerts_withheld_total{reason=backfill} is 0")
	}
	t.Logf("%d households, %d at a level; the normal run published %d alerts, the backfill %d (%v withheld)",
		len(w.households), atLevel, len(pastAlerts), len(got), withheld)

	// After the backfill, events alert as usual.
	if !endByEvent {
		liveEvent()
	}
	deadline = time.Now().Add(60 * time.Second)
	for _, hid := range quiet {
		for {
			found := false
			for _, m := range kafkatest.ReadTopic(t, addr, bf.Alerts) {
				var a household.Alert
				if json.Unmarshal(m.Value, &a) == nil && a.HouseholdID == hid && a.Cause.Kind == household.CauseEvent {
					found = true
				}
			}
			if found {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no alert for %s's critical-illness admission after the backfill", hid)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}
