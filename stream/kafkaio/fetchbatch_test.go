package kafkaio_test

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	. "safetynet/stream/kafkaio"
	"safetynet/stream/kafkatest"
)

// TestFetchBatch: queued records fill a batch up to max at once, the rest make the next batch;
// a partition with nothing within firstWait gives an empty batch and no error.
func TestFetchBatch(t *testing.T) {
	_, addr := kafkatest.Broker(t, 1, "t")
	k := Kafka{Brokers: []string{addr}}
	w := k.Writer("t", SamePartition{})
	defer w.Close()
	r := kafka.NewReader(k.PartitionReader("t", 0, 100*time.Millisecond, 1<<20))
	defer r.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	msgs := make([]kafka.Message, 7)
	for i := range msgs {
		msgs[i] = kafka.Message{Value: []byte{byte('a' + i)}}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	var got []byte
	for _, want := range []int{4, 3} {
		batch, err := FetchBatch(ctx, r, 0, time.Second, 4)
		if err != nil {
			t.Fatal(err)
		}
		if len(batch) != want {
			t.Fatalf("a batch of %d records, want %d", len(batch), want)
		}
		for _, m := range batch {
			got = append(got, m.Value...)
		}
	}
	if string(got) != "abcdefg" {
		t.Fatalf("read %q, want the records in order", got)
	}
	if batch, err := FetchBatch(ctx, r, 50*time.Millisecond, time.Second, 4); err != nil || len(batch) != 0 {
		t.Fatalf("an idle partition gave %d records and %v", len(batch), err)
	}
}
