package monitor

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"safetynet/scorer"
	"safetynet/state"
	"safetynet/stream/household"
	"safetynet/stream/kafkaio"
)

// With StateFormat set to the previous release's format (SAFETYNET_STATE_FORMAT=5, the first
// step of a rolling update), every household the monitor writes, to its store and to the
// changelog, is in that format, which the previous release reads; by default, in the latest.
func TestStateFormatWritten(t *testing.T) {
	for _, c := range []struct {
		name   string
		format int
		want   byte
	}{
		{"previous", household.FormatPrevious, byte(household.FormatPrevious)},
		{"default", 0, byte(household.FormatLatest)},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr := newBroker(t)
			clk := &clock{now: time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)}
			p := startPipelineWith(t, addr, state.Options{Dir: t.TempDir()}, clk, scorer.Default(), func(cfg *Config) {
				cfg.StateFormat = c.format
			})
			defer p.stop()
			p.waitReady()
			const n = 20
			produce(t, addr, p.topics.Registry, newHeads(n, "H-FMT", 1950, "M", clk.Now().AddDate(-1, 0, 0))...)
			if got := waitHouseholdCount(t, p.store, n, 60*time.Second); got != n {
				t.Fatalf("%d of %d households stored after 60 s", got, n)
			}
			if err := p.store.Households(func(id string, v []byte) error {
				if v[0] != c.want {
					t.Errorf("household %s stored in format %d; want %d", id, v[0], c.want)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: p.topics.Changelog, Partition: 0, MaxWait: kafkaio.FetchWait(100 * time.Millisecond)})
			defer r.Close()
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if m.Value[0] != c.want {
				t.Errorf("changelog record in format %d; want %d", m.Value[0], c.want)
			}
			if _, err := household.Decode(m.Value); err != nil {
				t.Errorf("changelog record does not decode: %v", err)
			}
		})
	}
}
