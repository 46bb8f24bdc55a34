package intake_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"safetynet/stream/feed"
)

// TestRegistryLagMetric: once the person table has read the registry, safetynet_registry_lag
// has a series per registry partition, all 0; records produced after that are read and the lag
// returns to 0.
func TestRegistryLagMetric(t *testing.T) {
	h := newHarness(t)
	h.produce(feed.Registry,
		ev("r1", "member_joined", validID(1), "household_id", "H-A", "relation", "head"),
		ev("r2", "member_joined", validID(2), "household_id", "H-B", "relation", "head"))
	h.start()
	lag := func() (series int, sum float64) {
		ch := make(chan prometheus.Metric, 16)
		h.metrics.RegistryLag.Collect(ch)
		close(ch)
		for m := range ch {
			var d dto.Metric
			if err := m.Write(&d); err != nil {
				t.Fatal(err)
			}
			series++
			sum += d.GetGauge().GetValue()
		}
		return series, sum
	}
	if n, sum := lag(); n != 3 || sum != 0 {
		t.Errorf("after catching up: %d series summing to %v, want 3 (the registry's partitions) at 0", n, sum)
	}
	h.produce(feed.Registry, ev("r3", "member_joined", validID(3), "household_id", "H-C", "relation", "head"))
	h.waitFor("the person table to read r3", func() bool { return value(h.metrics.PersonsKnown) == 3 })
	if n, sum := lag(); n != 3 || sum != 0 {
		t.Errorf("after a new record: %d series summing to %v, want 3 at 0", n, sum)
	}
}
