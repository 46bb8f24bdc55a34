package monitor

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"safetynet/scorer"
	"safetynet/state"
	"safetynet/stream/kafkaio"
)

// TestLagFollowsThePartitions: each worker exports its partition's lag while it owns it, and
// takes the series away when it stops (a partition handed to another instance is lagging
// there; a value left behind here would be the larger of the two under max by partition).
func TestLagFollowsThePartitions(t *testing.T) {
	addr := newBroker(t)
	lag := kafkaio.NewLagGauge(prometheus.NewRegistry())
	c := &clock{now: date(2026, 1, 2)}
	p := startPipelineWith(t, addr, state.Options{Dir: t.TempDir()}, c, scorer.Default(), func(cfg *Config) { cfg.Lag = lag })
	p.waitReady()
	deadline := time.Now().Add(30 * time.Second)
	for testutil.CollectAndCount(lag) != testPartitions {
		if time.Now().After(deadline) {
			t.Fatalf("%d lag series while the monitor owns %d partitions, want one each", testutil.CollectAndCount(lag), testPartitions)
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.stop()
	if n := testutil.CollectAndCount(lag); n != 0 {
		t.Errorf("%d lag series after the monitor stopped, want none", n)
	}
}
