package kafkaio_test

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	metadataAPI "github.com/segmentio/kafka-go/protocol/metadata"

	. "safetynet/stream/kafkaio"
	"safetynet/stream/kafkatest"
)

// countingTransport counts the metadata requests that reach the broker's transport.
type countingTransport struct {
	kafka.RoundTripper
	metadata atomic.Int64
}

func (c *countingTransport) RoundTrip(ctx context.Context, addr net.Addr, req kafka.Request) (kafka.Response, error) {
	if _, ok := req.(*metadataAPI.Request); ok {
		c.metadata.Add(1)
	}
	return c.RoundTripper.RoundTrip(ctx, addr, req)
}

// A writer asks its transport for the topic's metadata once per message; the writer's transport
// answers those from the response it had within metadataReuse, so a thousand messages cost a
// few requests, not a thousand, and they still land by key in every partition. Past
// metadataReuse the transport asks again.
func TestWriterReusesTopicMetadata(t *testing.T) {
	const topic = "reuse.meta"
	_, addr := kafkatest.Broker(t, 3, topic)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	k := Kafka{Brokers: []string{addr}}
	w := k.Writer(topic, HouseholdBalancer())
	var inner *countingTransport
	WrapWriterTransport(w, func(rt kafka.RoundTripper) kafka.RoundTripper {
		inner = &countingTransport{RoundTripper: rt}
		return inner
	})
	defer w.Close()

	write := func(from, n int) {
		t.Helper()
		msgs := make([]kafka.Message, n)
		for i := range msgs {
			msgs[i] = kafka.Message{Key: fmt.Appendf(nil, "hh-%d", from+i), Value: []byte("v")}
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10 {
		write(i*100, 100)
	}
	if n := inner.metadata.Load(); n < 1 || n > 3 {
		t.Errorf("1,000 messages in 10 writes made %d metadata requests to the broker; want 1 to 3", n)
	}
	ends, err := TopicOffsets(ctx, k.Client(), topic, kafka.LastOffset)
	if err != nil {
		t.Fatal(err)
	}
	if len(ends) != 3 {
		t.Fatalf("end offsets of %d partitions; want 3", len(ends))
	}
	var total int64
	for p, end := range ends {
		if end == 0 {
			t.Errorf("partition %d got no message: the writer did not see 3 partitions", p)
		}
		total += end
	}
	if total != 1000 {
		t.Errorf("%d messages on the topic; want 1000", total)
	}

	SetMetadataReuse(t, time.Millisecond)
	before := inner.metadata.Load()
	time.Sleep(5 * time.Millisecond)
	write(1000, 1)
	if inner.metadata.Load() == before {
		t.Error("past metadataReuse the writer's transport did not ask the broker again")
	}
}
