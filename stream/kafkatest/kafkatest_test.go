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
