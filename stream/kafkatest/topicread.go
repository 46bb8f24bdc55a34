package kafkatest

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"safetynet/stream/kafkaio"
)

// The tests read a topic up to the end it has now through a connection to each partition's
// leader, not a kafka.Reader. A Reader times each fetch out when the broker has not begun its
// answer within MaxWait, then drops the connection and asks again from the same offset: with
// the 50 ms the monitor's tests once used, an embedded broker building an answer of megabytes
// on a loaded machine (race detector, other packages' tests) began it too late every time, and
// a CI run spent 30 s reading a changelog of half-megabyte households without a record. A
// Reader also fetches ahead past the last record wanted, and Close waits for that fetch, which
// the broker holds for as long as MaxWait allows. The connection reads only to the end, under
// one deadline for the whole topic.

// readTimeout bounds the reading of one topic to its end.
const readTimeout = 2 * time.Minute

// EndOffsets returns the end offset (the next offset to be written) of every partition of
// topic, its partitions as the broker's metadata has them (kafkaio.TopicOffsets).
func EndOffsets(t testing.TB, addr, topic string) map[int]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := kafkaio.TopicOffsets(ctx, &kafka.Client{Addr: kafka.TCP(addr)}, topic, kafka.LastOffset)
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	return ends
}

// EachRecord calls fn with every record of topic, partition by partition in order, each from
// its first offset to the end it has now (EndOffsets).
func EachRecord(t testing.TB, addr, topic string, fn func(kafka.Message)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	ends := EndOffsets(t, addr, topic)
	for _, p := range slices.Sorted(maps.Keys(ends)) {
		if end := ends[p]; end > 0 {
			readPartition(t, ctx, addr, topic, p, end, fn)
		}
	}
}

// ReadTopic returns every record of topic, partition by partition, each from its first offset
// to the end it has now.
func ReadTopic(t testing.TB, addr, topic string) []kafka.Message {
	t.Helper()
	var out []kafka.Message
	EachRecord(t, addr, topic, func(m kafka.Message) { out = append(out, m) })
	return out
}

// readPartition calls fn with the records of partition p of topic from its first to end.
func readPartition(t testing.TB, ctx context.Context, addr, topic string, p int, end int64, fn func(kafka.Message)) {
	t.Helper()
	conn, err := kafka.DialLeader(ctx, "tcp", addr, topic, p)
	if err != nil {
		t.Fatalf("dial the leader of %s[%d]: %v", topic, p, err)
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	offset, err := conn.ReadFirstOffset()
	if err != nil {
		t.Fatalf("read %s[%d]: %v", topic, p, err)
	}
	for offset < end {
		if _, err := conn.Seek(offset, kafka.SeekAbsolute); err != nil {
			t.Fatalf("read %s[%d] at offset %d: %v", topic, p, offset, err)
		}
		batch := conn.ReadBatchWith(kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: 16 << 20, MaxWait: time.Second})
		for offset < end {
			m, err := batch.ReadMessage()
			if err != nil {
				break // the batch's end, or its error, which Close returns
			}
			fn(m)
			offset = m.Offset + 1
		}
		if err := batch.Close(); err != nil {
			t.Fatalf("read %s[%d] at offset %d of %d: %v", topic, p, offset, end, err)
		}
	}
}
