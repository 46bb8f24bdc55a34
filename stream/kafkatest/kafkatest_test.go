package kafkatest

import (
	"context"
	"os/exec"
	"safetynet/stream/kafkaio"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// TestKcatAndConsumerGroup checks the test broker against both outside peers the project uses:
// kcat produces, a kafka-go consumer group reads it back.
func TestKcatAndConsumerGroup(t *testing.T) {
	kcat := Tool(t, "kcat", "kcat")
	_, addr := Broker(t, 3, "smoke")
	cmd := exec.Command(kcat, "-b", addr, "-t", "smoke", "-P", "-K", ":")
	cmd.Stdin = strings.NewReader("k1:hello\nk2:world\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat produce: %v: %s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, GroupID: "g", Topic: "smoke", MaxWait: kafkaio.FetchWait(100 * time.Millisecond)})
	defer r.Close()
	got := map[string]string{}
	for len(got) < 2 {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("fetch: %v (got %v)", err, got)
		}
		got[string(m.Key)] = string(m.Value)
	}
	if got["k1"] != "hello" || got["k2"] != "world" {
		t.Fatalf("got %v, want k1=hello k2=world", got)
	}
}

// TestReadTopic: every record of every partition, in partition order and offset order within
// each, up to the end the topic has when it is read; an empty partition is skipped.
func TestReadTopic(t *testing.T) {
	_, addr := Broker(t, 3, "read", "empty")
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: "read", RequiredAcks: kafka.RequireAll,
		Balancer: kafka.BalancerFunc(func(m kafka.Message, _ ...int) int { return int(m.Key[0] - '0') }), BatchTimeout: time.Millisecond}
	defer w.Close()
	var msgs []kafka.Message
	for i := range 50 {
		p := i % 2 * 2 // partitions 0 and 2; 1 stays empty
		msgs = append(msgs, kafka.Message{Key: []byte{byte('0' + p)}, Value: []byte(strings.Repeat("x", i))})
	}
	if err := w.WriteMessages(t.Context(), msgs...); err != nil {
		t.Fatal(err)
	}
	if ends := EndOffsets(t, addr, "read"); ends[0] != 25 || ends[1] != 0 || ends[2] != 25 || len(ends) != 3 {
		t.Fatalf("end offsets %v, want 25, 0, 25", ends)
	}
	got := ReadTopic(t, addr, "read")
	if len(got) != 50 {
		t.Fatalf("read %d records, want 50", len(got))
	}
	for i, m := range got {
		wantPart, wantOff := i/25*2, int64(i%25)
		if m.Partition != wantPart || m.Offset != wantOff {
			t.Fatalf("record %d is %d@%d, want %d@%d", i, m.Partition, m.Offset, wantPart, wantOff)
		}
		if want := 2*int(wantOff) + wantPart/2; len(m.Value) != want {
			t.Fatalf("record %d@%d holds %d bytes, want %d", m.Partition, m.Offset, len(m.Value), want)
		}
	}
	if got := ReadTopic(t, addr, "empty"); len(got) != 0 {
		t.Fatalf("empty topic: read %d records", len(got))
	}
}
