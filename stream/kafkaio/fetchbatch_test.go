package kafkaio

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"

	"safetynet/stream/kafkatest"
)

// TestFetchBatchEndsAtAGap: a batch takes the records that come close together, and ends a
// quarter of its window after the last one instead of waiting the window out; records already
// queued fill it up to max.
func TestFetchBatchEndsAtAGap(t *testing.T) {
	_, addr := kafkatest.Broker(t, 1, "t")
	k := Kafka{Brokers: []string{addr}}
	w := k.Writer("t", kafka.BalancerFunc(func(kafka.Message, ...int) int { return 0 }))
	defer w.Close()
	r := kafka.NewReader(k.PartitionReader("t", 0, 100*time.Millisecond, 1<<20))
	defer r.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	send := func(n int) {
		t.Helper()
		for range n {
			if err := w.WriteMessages(ctx, kafka.Message{Value: []byte("x")}); err != nil {
				t.Fatal(err)
			}
		}
	}

	// Five records 100 ms apart, with a window of 4 s (a gap of 1 s): one batch of five,
	// ended by the gap after the fifth, long before the window.
	const window = 4 * time.Second
	go func() {
		for range 5 {
			send(1)
			time.Sleep(100 * time.Millisecond)
		}
	}()
	start := time.Now()
	batch, err := FetchBatch(ctx, r, 0, window, 100)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if len(batch) != 5 {
		t.Fatalf("a batch of %d records, want the five that came within the gap of each other", len(batch))
	}
	if took >= window {
		t.Fatalf("the batch took %v: it waited out its window of %v", took, window)
	}

	// Queued records fill a batch up to max at once; the rest make the next batch.
	send(7)
	for _, want := range []int{4, 3} {
		batch, err := FetchBatch(ctx, r, 0, time.Second, 4)
		if err != nil {
			t.Fatal(err)
		}
		if len(batch) != want {
			t.Fatalf("a batch of %d records, want %d", len(batch), want)
		}
	}

	// Nothing within firstWait: an empty batch and no error.
	if batch, err := FetchBatch(ctx, r, 50*time.Millisecond, time.Second, 4); err != nil || len(batch) != 0 {
		t.Fatalf("an idle partition gave %d records and %v", len(batch), err)
	}
}

// TestFetchBatchBehindTheEndIgnoresTheGap: a batch whose records are behind the partition's end
// waits for the next fetch, however long after the gap it comes, within the window: ending it
// would only make another batch for records already on the broker. The broker answers every
// fetch 400 ms late and each fetch brings one record; the gap is 250 ms.
func TestFetchBatchBehindTheEndIgnoresTheGap(t *testing.T) {
	const late, window = 400 * time.Millisecond, time.Second
	b, addr := kafkatest.Broker(t, 1, "t")
	k := Kafka{Brokers: []string{addr}}
	w := k.Writer("t", SamePartition{})
	defer w.Close()
	for range 4 { // one record batch each: a fetch of MaxBytes 1 brings one
		if err := w.WriteMessages(t.Context(), kafka.Message{Value: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	c := b.Cluster()
	c.ControlKey(kmsg.Fetch.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		c.SleepControl(func() { time.Sleep(late) })
		return nil, nil, false
	})
	rc := k.PartitionReader("t", 0, 100*time.Millisecond, 1)
	r := kafka.NewReader(rc)
	defer r.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	batch, err := FetchBatch(ctx, r, 0, window, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(batch) < 2 {
		t.Fatalf("a batch of %d record behind the partition's end (high watermark %d): it ended at the gap of %v, before the next fetch %v later",
			len(batch), batch[0].HighWaterMark, batchGap(window), late)
	}
}

func TestBatchGap(t *testing.T) {
	for _, tc := range []struct{ window, want time.Duration }{
		{2 * time.Millisecond, 500 * time.Microsecond},
		{20 * time.Millisecond, 5 * time.Millisecond},
		{0, time.Microsecond},
	} {
		if got := batchGap(tc.window); got != tc.want {
			t.Errorf("batchGap(%v) = %v, want %v", tc.window, got, tc.want)
		}
	}
}
