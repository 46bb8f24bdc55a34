package cluster

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"safetynet/state"
	"safetynet/stream/kafkaio"
	"safetynet/stream/kafkatest"
)

// TestAlertTableSkipsWhatIsNotAnAlert: the table lists every alert of the topic and skips,
// without stopping, every record that is not one (not JSON, JSON with an error after the
// fields it reads, or no id or emission time), as encoding/json would.
func TestAlertTableSkipsWhatIsNotAnAlert(t *testing.T) {
	const topic = "alerts"
	_, addr := kafkatest.Broker(t, 1, topic)
	k := kafkaio.Kafka{Brokers: []string{addr}}
	at := `"alert_id":"a-%d","emitted_at":"2026-11-30T08:00:00Z"`
	records := []struct {
		value string
		alert bool
	}{
		{`{` + strings.Replace(at, "%d", "1", 1) + `,"level":"high","explanation":{"zh":"连续三个月无收入"}}`, true},
		{`not json`, false},
		{`{` + strings.Replace(at, "%d", "2", 1) + `,"x":[1,2,]}`, false},
		{`{` + strings.Replace(at, "%d", "3", 1) + `} trailing`, false},
		{`{` + strings.Replace(at, "%d", "4", 1) + `,"x":tru}`, false},
		{`{` + strings.Replace(at, "%d", "5", 1) + `,"x":"\q"}`, false},
		{`{` + strings.Replace(at, "%d", "6", 1) + `,}`, false},
		{`{"alert_id":"a-7"}`, false},
		{`{"emitted_at":"2026-11-30T08:00:00Z"}`, false},
		{`{` + strings.Replace(at, "%d", "8", 1) + `}`, true},
	}
	w := k.Writer(topic, &kafka.Hash{})
	defer w.Close()
	var msgs []kafka.Message
	for _, r := range records {
		msgs = append(msgs, kafka.Message{Key: []byte("hh"), Value: []byte(r.value)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	store, err := state.Open(state.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		AlertTable{Kafka: k, Topic: topic, Store: store}.Run(runCtx, testLogger{t})
	}()
	defer func() { stop(); <-done }()
	for {
		next, found, err := store.Offset(topic, 0)
		if err != nil {
			t.Fatal(err)
		}
		if found && next == int64(len(records)) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the table read to offset %d of %d", next, len(records))
		}
		time.Sleep(20 * time.Millisecond)
	}
	listed := map[string]bool{}
	if err := store.Alerts(nil, func(_, v []byte) bool { listed[string(v)] = true; return true }); err != nil {
		t.Fatal(err)
	}
	for _, r := range records {
		if listed[r.value] != r.alert {
			t.Errorf("listed %v, want %v: %s", listed[r.value], r.alert, r.value)
		}
	}
	if len(listed) != 2 {
		t.Errorf("%d alerts listed, want 2", len(listed))
	}
}

type testLogger struct{ t *testing.T }

func (l testLogger) Warn(msg string, args ...any) { l.t.Log(append([]any{msg}, args...)...) }
