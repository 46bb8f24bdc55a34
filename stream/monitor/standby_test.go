package monitor

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"safetynet/state"
	"safetynet/stream/household"
	"safetynet/stream/kafkaio"
	"safetynet/stream/monitor/cluster"
)

func TestStandbyPartitions(t *testing.T) {
	members := []string{"http://c", "http://a", "http://b"}
	owners := map[int]string{0: "http://a", 1: "http://b", 2: "http://c", 3: "http://a"}
	for _, tc := range []struct {
		name     string
		self     string
		replicas int
		want     []int
	}{
		{"none", "http://b", 0, nil},
		{"next in the ring", "http://b", 1, []int{0, 3}},
		{"ring wraps", "http://a", 1, []int{2}},
		{"two replicas", "http://a", 2, []int{1, 2}},
		{"more replicas than members: every partition owned elsewhere", "http://c", 5, []int{0, 1, 3}},
		{"not a member", "http://d", 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := cluster.StandbyPartitions(owners, members, tc.self, tc.replicas)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	// Every partition gets exactly `replicas` standbys when there are enough members.
	for r := 1; r <= 2; r++ {
		count := map[int]int{}
		for _, m := range members {
			for _, p := range cluster.StandbyPartitions(owners, members, m, r) {
				count[p]++
			}
		}
		for p := range owners {
			if count[p] != r {
				t.Errorf("replicas %d: partition %d has %d standbys", r, p, count[p])
			}
		}
	}
}

// TestStandbyFollowsChangelog: a standby copy made by following the changelog while another
// instance owns the partitions holds the owner's households, and an instance started on it
// catches up instead of restoring: same facts, no alert published again. A worker's claim
// stops the standby's writes.
func TestStandbyFollowsChangelog(t *testing.T) {
	w := newWorld(29, 30)
	now := date(2025, 12, 31)
	addr := newBroker(t)
	a := startPipeline(t, addr, t.TempDir(), &clock{now: now})
	a.waitReady()

	dir := t.TempDir()
	store, err := state.Open(state.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	cfg := Config{Kafka: kafkaio.Kafka{Brokers: []string{addr}}, Topics: a.topics, GroupID: "test-monitor"}
	mo := New(cfg, store, nil, NewMetrics(reg), logger)
	sb := cluster.Standby{Monitor: mo, Replicas: 1, Logger: logger}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	lags := &sync.Map{}
	for p := range testPartitions {
		wg.Go(func() {
			for ctx.Err() == nil {
				if err := sb.Follow(ctx, p, lags); err != nil && ctx.Err() == nil {
					t.Errorf("standby partition %d: %v", p, err)
					return
				}
			}
		})
	}
	for i, wave := range w.waves {
		w.send(t, a, wave)
		waitFacts(t, a, expected(t, testPseudonymizer(t), flatten(w.waves[:i+1])))
	}
	final := waitFacts(t, a, expected(t, testPseudonymizer(t), flatten(w.waves)))
	published := len(allAlerts(t, addr))

	// The standby copy reaches the owner's households, byte for byte.
	deadline := time.Now().Add(30 * time.Second)
	for {
		same := true
		for id := range final {
			want, _ := a.store.Household(id)
			got, _ := store.Household(id)
			if string(want) != string(got) {
				same = false
				break
			}
		}
		if same {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the standby copy did not reach the owner's households within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A worker's claim keeps standby writes off the partition.
	mo.gate.claim(0)
	if ran, _ := mo.gate.apply(0, func() error { return nil }); ran {
		t.Error("a standby write ran on a partition a worker claims")
	}
	mo.gate.release(0)
	cancel()
	wg.Wait()
	for p := range testPartitions {
		if _, found, _ := store.Offset(a.topics.HouseholdEvents, p); !found {
			t.Errorf("partition %d: the standby copy has no household-events offset", p)
		}
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	// The owner goes; an instance on the standby copy takes over by catching up.
	a.stop()
	b := startPipeline(t, addr, dir, &clock{now: now})
	b.waitReady()
	got := waitFacts(t, b, expected(t, testPseudonymizer(t), flatten(w.waves)))
	for id, h := range final {
		ca, _ := household.CanonicalJSON(mustJSON(t, h))
		cb, _ := household.CanonicalJSON(mustJSON(t, got[id]))
		if string(ca) != string(cb) {
			t.Errorf("%s differs after the take-over:\nowner   %s\nstandby %s", id, ca, cb)
		}
	}
	time.Sleep(time.Second)
	if n := len(allAlerts(t, addr)); n != published {
		t.Errorf("%d alerts published again on taking over from the standby copy", n-published)
	}
}
