package kafkaio_test

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/segmentio/kafka-go"

	. "safetynet/stream/kafkaio"
	"safetynet/stream/kafkatest"
)

// TestGroupLag reads lag from a real broker: before the group commits anything (the whole
// partition lags), after a kafka-go consumer group read and committed a part, and through
// RunGroupLag into the gauge.
func TestGroupLag(t *testing.T) {
	const topicA, topicB, group = "lag.a", "lag.b", "lag-test"
	_, addr := kafkatest.Broker(t, 2, topicA, topicB)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	produced := map[string]map[int]int64{topicA: {0: 3, 1: 5}, topicB: {0: 4, 1: 0}}
	w := Kafka{Brokers: []string{addr}}.Writer("", SamePartition{})
	var msgs []kafka.Message
	for topic, parts := range produced {
		for p, n := range parts {
			for i := range n {
				msgs = append(msgs, kafka.Message{Topic: topic, Partition: p, Value: fmt.Appendf(nil, "%s/%d/%d", topic, p, i)})
			}
		}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	client := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second}
	got, err := GroupLag(ctx, client, group, []string{topicA, topicB})
	if err != nil {
		t.Fatal(err)
	}
	if !maps.EqualFunc(got, produced, maps.Equal) {
		t.Errorf("lag before any commit = %v, want everything produced %v", got, produced)
	}

	// A consumer group reads and commits some of the messages.
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: []string{addr}, GroupID: group, GroupTopics: []string{topicA, topicB},
		StartOffset: kafka.FirstOffset, CommitInterval: 0, MaxWait: FetchWait(100 * time.Millisecond),
		HeartbeatInterval: time.Second, JoinGroupBackoff: 100 * time.Millisecond,
	})
	defer r.Close()
	want := map[string]map[int]int64{}
	for topic, parts := range produced {
		want[topic] = maps.Clone(parts)
	}
	for range 5 {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.CommitMessages(ctx, m); err != nil {
			t.Fatal(err)
		}
		want[m.Topic][m.Partition] = produced[m.Topic][m.Partition] - (m.Offset + 1)
	}
	got, err = GroupLag(ctx, client, group, []string{topicA, topicB})
	if err != nil {
		t.Fatal(err)
	}
	if !maps.EqualFunc(got, want, maps.Equal) {
		t.Errorf("lag after committing 5 messages = %v, want %v", got, want)
	}

	// RunGroupLag puts the same numbers in the gauge.
	lag := NewLagGauge(prometheus.NewRegistry())
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- RunGroupLag(runCtx, GroupLagConfig{Kafka: Kafka{Brokers: []string{addr}}, GroupID: group,
			Topics: []string{topicA, topicB}, Interval: 20 * time.Millisecond}, lag, nil)
	}()
	gauges := func() map[string]map[int]int64 {
		out := map[string]map[int]int64{}
		for topic, parts := range want {
			out[topic] = map[int]int64{}
			for p := range parts {
				var d dto.Metric
				if err := lag.WithLabelValues(topic, fmt.Sprint(p)).Write(&d); err != nil {
					t.Fatal(err)
				}
				out[topic][p] = int64(d.GetGauge().GetValue())
			}
		}
		return out
	}
	for !maps.EqualFunc(gauges(), want, maps.Equal) {
		if ctx.Err() != nil {
			t.Fatalf("safetynet_consumer_lag = %v, want %v", gauges(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("RunGroupLag returned %v after its context ended, want nil", err)
	}

	// An unknown topic is an error, not a lag of zero.
	if _, err := GroupLag(ctx, client, group, []string{"lag.missing"}); err == nil {
		t.Error("GroupLag of a missing topic: no error")
	}
}

// TestOffsetsAt finds the first record at or after a time in each partition of a real broker:
// before every record (the first offset), between records, exactly at one, and after the last
// (the end offset).
func TestOffsetsAt(t *testing.T) {
	const topic = "offsets.at"
	_, addr := kafkatest.Broker(t, 2, topic)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	t0 := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	w := Kafka{Brokers: []string{addr}}.Writer(topic, SamePartition{})
	var msgs []kafka.Message
	for i := range 10 { // partition 0: a record a day from t0; partition 1: every other day
		msgs = append(msgs, kafka.Message{Partition: 0, Value: []byte{byte(i)}, Time: t0.AddDate(0, 0, i)})
		if i%2 == 0 {
			msgs = append(msgs, kafka.Message{Partition: 1, Value: []byte{byte(i)}, Time: t0.AddDate(0, 0, i)})
		}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	client := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second}
	parts := map[string][]int{topic: {0, 1}}
	for _, tc := range []struct {
		name string
		at   time.Time
		want map[int]int64
	}{
		{"before every record", t0.AddDate(-1, 0, 0), map[int]int64{0: 0, 1: 0}},
		{"at the first", t0, map[int]int64{0: 0, 1: 0}},
		{"between records", t0.AddDate(0, 0, 3).Add(time.Hour), map[int]int64{0: 4, 1: 2}},
		{"exactly at one", t0.AddDate(0, 0, 6), map[int]int64{0: 6, 1: 3}},
		{"after the last", t0.AddDate(0, 1, 0), map[int]int64{0: 10, 1: 5}},
		{"before 1970", time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), map[int]int64{0: 0, 1: 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := OffsetsAt(ctx, client, parts, tc.at)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got[topic], tc.want) {
				t.Errorf("OffsetsAt(%s) = %v, want %v", tc.at.Format(time.RFC3339), got[topic], tc.want)
			}
		})
	}
}
