package monitor

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// The tests read a topic up to the end it has now through a connection to the partition's
// leader, not a kafka.Reader. A Reader times each fetch out when the broker has not begun its
// answer within MaxWait, then drops the connection and asks again from the same offset: with
// the 50 ms these tests used, an embedded broker building an answer of megabytes on a loaded
// machine (race detector, other packages' tests) began it too late every time, and a CI run
// spent 30 s reading a changelog of half-megabyte households without a record. A longer
// MaxWait ends that, but a Reader also fetches ahead past the last record wanted, and Close
// waits for that fetch, which the broker holds for as long as MaxWait allows. The connection
// reads only to the end, under one deadline for the whole topic.

// endOffsets returns the end offset of every partition of topic.
func endOffsets(t *testing.T, addr, topic string) map[int]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var reqs []kafka.OffsetRequest
	for p := range testPartitions {
		reqs = append(reqs, kafka.LastOffsetOf(p))
	}
	resp, err := (&kafka.Client{Addr: kafka.TCP(addr)}).ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]int64{}
	for _, po := range resp.Topics[topic] {
		out[po.Partition] = po.LastOffset
	}
	return out
}

// eachRecord calls fn with every record of topic, partition by partition in order, each from
// its start to the end it has now (endOffsets).
func eachRecord(t *testing.T, addr, topic string, fn func(kafka.Message)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ends := endOffsets(t, addr, topic)
	for _, p := range slices.Sorted(maps.Keys(ends)) {
		if end := ends[p]; end > 0 {
			readPartition(t, ctx, addr, topic, p, end, fn)
		}
	}
}

// readPartition calls fn with the records of partition p of topic from its first to end.
func readPartition(t *testing.T, ctx context.Context, addr, topic string, p int, end int64, fn func(kafka.Message)) {
	t.Helper()
	conn, err := kafka.DialLeader(ctx, "tcp", addr, topic, p)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	offset, err := conn.ReadFirstOffset()
	if err != nil {
		t.Fatalf("read %s[%d]: %v", topic, p, err)
	}
	for offset < end {
		if _, err := conn.Seek(offset, kafka.SeekAbsolute); err != nil {
			t.Fatalf("read %s[%d] at offset %d: %v", topic, p, offset, err)
		}
		batch := conn.ReadBatchWith(kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: 4 << 20, MaxWait: time.Second})
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

// readTopic reads every record value of topic up to its end now.
func readTopic(t *testing.T, addr, topic string) [][]byte {
	t.Helper()
	var out [][]byte
	eachRecord(t, addr, topic, func(m kafka.Message) { out = append(out, m.Value) })
	return out
}
