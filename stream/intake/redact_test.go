package intake_test

import (
	"os/exec"
	"strings"
	"testing"

	"safetynet/stream/feed"
	"safetynet/stream/kafkatest"
)

// TestDeadLettersRedacted: with RedactDeadLetters, a refused record written with kcat comes back
// on the DLQ with every ID number replaced by its person key and masked form, in key and value.
func TestDeadLettersRedacted(t *testing.T) {
	kcat := kafkatest.Tool(t, "kcat", "kcat")
	h := newHarness(t)
	h.redact = true
	h.start()
	id := validID(31)
	value := `{"event_id":"b4","type":"registered","person_id":"` + id + `","occurred_at":"2025-01-01T00:00:00Z","grade":7}`
	cmd := exec.Command(kcat, "-b", h.addr, "-t", h.topics.Feed(feed.Disability), "-P", "-K", "|")
	cmd.Stdin = strings.NewReader(id + "|" + value + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat: %v: %s", err, out)
	}
	d := h.waitRecords(h.topics.DLQ, 1)[0]
	want := h.pseud.Key(id) + "/" + feed.Mask(id)
	if string(d.Key) != want {
		t.Errorf("dead letter key %q, want %q", d.Key, want)
	}
	if got := strings.Replace(value, id, want, 1); string(d.Value) != got {
		t.Errorf("dead letter value %s, want %s", d.Value, got)
	}
	if header(d, feed.HeaderReason) != feed.ReasonBadValue {
		t.Errorf("reason %q", header(d, feed.HeaderReason))
	}
}
