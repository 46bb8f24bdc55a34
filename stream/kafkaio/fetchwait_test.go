package kafkaio_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"

	. "safetynet/stream/kafkaio"
	"safetynet/stream/kafkatest"
)

// TestFetchWaitOutlastsASlowBroker: a broker that answers every fetch 150 ms late (busy, or
// behind a slow link) starves a Reader given MaxWait 100 ms, which times each read out at
// 100 ms and asks again from the same offset, while FetchWait(100 ms) gets the record.
func TestFetchWaitOutlastsASlowBroker(t *testing.T) {
	const topic, late = "slow", 150 * time.Millisecond
	b, addr := kafkatest.Broker(t, 1, topic)
	w := Kafka{Brokers: []string{addr}}.Writer(topic, SamePartition{})
	if err := w.WriteMessages(t.Context(), kafka.Message{Value: []byte("waiting")}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var fetches atomic.Int64
	c := b.Cluster()
	c.ControlKey(kmsg.Fetch.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		fetches.Add(1)
		c.SleepControl(func() { time.Sleep(late) })
		return nil, nil, false // then the broker answers as usual
	})

	// read reads one record with maxWait, and returns the i/o timeouts warned of and counted.
	read := func(maxWait, within time.Duration) (m kafka.Message, warnings int64, counted float64, err error) {
		var warned timeoutWarnings
		timeouts := NewReadTimeouts(prometheus.NewRegistry()).WithLabelValues("test")
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers: []string{addr}, Topic: topic, Partition: 0, MinBytes: 1, MaxBytes: 1 << 20,
			MaxWait: maxWait, ReadBackoffMin: ReadBackoffMin, ReadBackoffMax: 50 * time.Millisecond,
			ErrorLogger: Logger(slog.New(&warned), timeouts),
		})
		ctx, cancel := context.WithTimeout(t.Context(), within)
		defer cancel()
		m, err = r.ReadMessage(ctx)
		r.Close()
		return m, warned.n.Load(), testutil.ToFloat64(timeouts), err
	}

	before := fetches.Load()
	_, warnings, counted, err := read(100*time.Millisecond, 2*time.Second)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("MaxWait 100 ms through a broker %v late: err %v, want no record within 2s (the read times out and is asked again)", late, err)
	}
	if n := fetches.Load() - before; n < 3 || warnings < 3 || counted != float64(warnings) {
		t.Errorf("MaxWait 100 ms: %d fetches, %d i/o timeouts warned of and %.0f counted in 2s, want several of each, as many counted as warned of", n, warnings, counted)
	}

	m, warnings, counted, err := read(FetchWait(100*time.Millisecond), 10*time.Second)
	if err != nil {
		t.Fatalf("FetchWait(100 ms) through a broker %v late: %v", late, err)
	}
	if string(m.Value) != "waiting" || warnings != 0 || counted != 0 {
		t.Errorf("FetchWait(100 ms): read %q with %d i/o timeouts warned of and %.0f counted, want \"waiting\" and none", m.Value, warnings, counted)
	}
}

// timeoutWarnings counts the warnings of an i/o timeout that say where to look.
type timeoutWarnings struct{ n atomic.Int64 }

func (w *timeoutWarnings) Enabled(context.Context, slog.Level) bool { return true }
func (w *timeoutWarnings) Handle(_ context.Context, r slog.Record) error {
	if r.Level == slog.LevelWarn && strings.Contains(r.Message, "i/o timeout") && strings.Contains(r.Message, "check the broker") {
		w.n.Add(1)
	}
	return nil
}
func (w *timeoutWarnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *timeoutWarnings) WithGroup(string) slog.Handler      { return w }
