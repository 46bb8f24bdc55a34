package monitor

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"safetynet/scorer"
	"safetynet/state"
	"safetynet/stream/household"
	"safetynet/stream/kafkaio"
	"safetynet/stream/topics"
)

// scoredHousehold is the stored form of an empty household of partition p scored under version.
func scoredHousehold(t *testing.T, id string, p int, version string) []byte {
	t.Helper()
	h := household.New(id, p)
	h.ModelVersion = version
	v, err := household.Encode(h)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// bareMonitor is a monitor on a fresh store that is never run: for calling a worker's steps.
func bareMonitor(t *testing.T, addr string, model *scorer.Model) (*Monitor, *state.Store) {
	t.Helper()
	store, err := state.Open(state.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	mo := New(Config{Kafka: kafkaio.Kafka{Brokers: []string{addr}}, Topics: topics.Default()}, store, model,
		NewMetrics(prometheus.NewRegistry()), logger)
	return mo, store
}

// TestRestoreRecordsTheModelItFound: a partition restored from a changelog whose households were
// all scored under the running model needs no re-scoring walk, and the restore records that; a
// changelog holding one household scored under another model leaves the walk to run. (Restoring
// 1,000,000 households used to walk them all again, re-scoring none, for over a minute.)
func TestRestoreRecordsTheModelItFound(t *testing.T) {
	addr := newBroker(t)
	model := scorer.Default()
	tp := topics.Default()
	w := kafkaio.Kafka{Brokers: []string{addr}}.Writer(tp.Changelog, kafkaio.SamePartition{})
	defer w.Close()
	msgs := []kafka.Message{
		{Partition: 0, Key: []byte("H-A"), Value: scoredHousehold(t, "H-A", 0, model.Version)},
		{Partition: 0, Key: []byte("H-B"), Value: scoredHousehold(t, "H-B", 0, "older-model")},
		{Partition: 0, Key: []byte("H-B"), Value: scoredHousehold(t, "H-B", 0, model.Version)}, // re-scored since
		{Partition: 1, Key: []byte("H-C"), Value: scoredHousehold(t, "H-C", 1, model.Version)},
		{Partition: 1, Key: []byte("H-D"), Value: scoredHousehold(t, "H-D", 1, "older-model")},
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	mo, store := bareMonitor(t, addr, model)
	for p, want := range map[int]string{0: model.Version, 1: ""} {
		wk := &worker{mo: mo, partition: p, logger: mo.logger}
		if _, err := wk.restore(context.Background()); err != nil {
			t.Fatal(err)
		}
		got, _, err := store.Mark(p, markRescored)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("partition %d restored: re-scored mark %q, want %q", p, got, want)
		}
	}
}

// TestChangelogFromAnotherModelForgetsTheWalk: a household written from the changelog (catching
// up, or as a standby) that another instance scored under another model clears the mark of a
// finished walk, so the partition's next start re-scores it; one scored under the mark's model
// keeps the mark.
func TestChangelogFromAnotherModelForgetsTheWalk(t *testing.T) {
	model := scorer.Default()
	mo, store := bareMonitor(t, "127.0.0.1:1", model)
	if err := store.Update(func(tx *state.Tx) error { return tx.SetMark(0, markRescored, model.Version) }); err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct{ version, want string }{{model.Version, model.Version}, {"older-model", ""}} {
		id := []string{"H-A", "H-B"}[i]
		msg := kafka.Message{Partition: 0, Offset: int64(i), Key: []byte(id), Value: scoredHousehold(t, id, 0, c.version)}
		if err := mo.applyChangelog(0, []kafka.Message{msg}); err != nil {
			t.Fatal(err)
		}
		got, _, err := store.Mark(0, markRescored)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("after a household scored under %q: re-scored mark %q, want %q", c.version, got, c.want)
		}
	}
}

// TestReadyNamesThePartitionsInOrder: readiness's detail is the same on every call while the
// partitions' state is (it is logged when it changes); it named whichever partition the map
// gave first, and the service logged "not ready" 343 times while four partitions restored.
func TestReadyNamesThePartitionsInOrder(t *testing.T) {
	mo, _ := bareMonitor(t, "127.0.0.1:1", scorer.Default())
	mo.joined = true
	mo.partitions = map[int]*partitionStatus{0: {caughtUp: true}, 1: {}, 2: {}, 3: {}, 4: {}, 5: {caughtUp: true}}
	for range 50 {
		if ok, why := mo.Ready(); ok || why != "partitions 1, 2, 3, 4 are catching up" {
			t.Fatalf("Ready() = %v, %q", ok, why)
		}
	}
	mo.partitions[4].failing = "commit state of partition 4: disk full"
	mo.partitions[2].failing = "commit state of partition 2: disk full"
	for range 50 {
		if ok, why := mo.Ready(); ok || why != "partition 2: commit state of partition 2: disk full (and 3 more partitions not ready)" {
			t.Fatalf("Ready() = %v, %q", ok, why)
		}
	}
	for _, s := range mo.partitions {
		s.caughtUp, s.failing = true, ""
	}
	if ok, why := mo.Ready(); !ok {
		t.Fatalf("Ready() = %v, %q with every partition caught up", ok, why)
	}
}
