package contracts

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"safetynet/stream/feed"
	"safetynet/stream/kafkatest"
)

// TestAgainstTheService runs the client examples, a framed producer and bad records against
// safetynet in-process, then holds everything the service wrote (household events, alerts,
// dead letters, API responses) to the schemas.
func TestAgainstTheService(t *testing.T) {
	s := loadSchemas(t)
	svc := startService(t)
	// The households whose example ran: each submits an application, which the service checks.
	var applied []string

	t.Run("python example", func(t *testing.T) {
		py := pythonWithConfluent(t)
		dir := filepath.Join(repo, "examples", "python")
		run(t, 60*time.Second, py, filepath.Join(dir, "produce_feeds.py"), "--brokers", svc.addr, "--household", "H-PY")
		applied = append(applied, "H-PY")
		out := run(t, 90*time.Second, py, filepath.Join(dir, "consume_alerts.py"), "--brokers", svc.addr,
			"--group", "contracts-python", "--household", "H-PY", "--until-level", "warning", "--timeout", "60")
		if !regexp.MustCompile(`H-PY (raised|escalated) level=warning`).MatchString(out) {
			t.Errorf("consume_alerts.py printed %q, want the household raised to warning", out)
		}
		// The same in the Schema Registry wire format.
		run(t, 60*time.Second, py, filepath.Join(dir, "produce_feeds.py"), "--brokers", svc.addr, "--household", "H-PY-SR", "--schema-id", "7",
			"--head", "330102196001010027", "--child", "330102201506010034")
		applied = append(applied, "H-PY-SR")
		out = run(t, 90*time.Second, py, filepath.Join(dir, "consume_alerts.py"), "--brokers", svc.addr,
			"--group", "contracts-python-sr", "--household", "H-PY-SR", "--until-level", "warning", "--timeout", "60")
		if !regexp.MustCompile(`H-PY-SR (raised|escalated) level=warning`).MatchString(out) {
			t.Errorf("consume_alerts.py printed %q, want the framed household raised to warning", out)
		}
	})

	t.Run("go example", func(t *testing.T) {
		bin := t.TempDir()
		build := exec.Command("go", "build", "-o", bin+string(filepath.Separator), "./examples/go/...")
		build.Dir = repo
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build ./examples/go/...: %v\n%s", err, out)
		}
		run(t, 60*time.Second, filepath.Join(bin, "produce-feeds"), "-brokers", svc.addr, "-household", "H-GO")
		applied = append(applied, "H-GO")
		out := run(t, 90*time.Second, filepath.Join(bin, "consume-alerts"), "-brokers", svc.addr,
			"-group", "contracts-go", "-household", "H-GO", "-until-level", "warning", "-timeout", "60s")
		if !regexp.MustCompile(`H-GO (raised|escalated) level=warning`).MatchString(out) {
			t.Errorf("consume-alerts printed %q, want the household raised to warning", out)
		}
	})

	t.Run("schema registry framing", func(t *testing.T) {
		head := "11010519491231002X"
		evs := []struct{ feed, id, value string }{
			{feed.Registry, "framed-reg", `{"event_id":"framed-reg","type":"member_joined","person_id":"` + head + `","household_id":"H-FRAMED","occurred_at":"2025-01-01T00:00:00Z","relation":"head"}`},
			{feed.Pension, "framed-pen", `{"event_id":"framed-pen","type":"started","person_id":"` + head + `","household_id":"H-FRAMED","occurred_at":"2025-02-01T00:00:00Z","monthly_amount":1200}`},
		}
		w := &kafka.Writer{Addr: kafka.TCP(svc.addr), RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
		defer w.Close()
		for i, e := range evs {
			v := append([]byte{0, 0, 0, 0, byte(100 + i)}, e.value...) // magic byte, schema id 100+i
			if err := w.WriteMessages(context.Background(), kafka.Message{Topic: svc.topics.Feed(e.feed), Key: []byte(head), Value: v}); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, "both framed records as household events", func() bool {
			n := 0
			for _, m := range kafkatest.ReadTopic(t, svc.addr, svc.topics.HouseholdEvents) {
				var ev feed.HouseholdEvent
				if json.Unmarshal(m.Value, &ev) == nil && strings.HasPrefix(ev.EventID, "framed-") && ev.HouseholdID == "H-FRAMED" {
					n++
				}
			}
			return n == len(evs)
		})
		for _, m := range kafkatest.ReadTopic(t, svc.addr, svc.topics.DLQ) {
			if strings.Contains(string(m.Value), "framed-") {
				t.Errorf("a framed record was dead-lettered: %s", headers(m))
			}
		}
	})

	t.Run("household events", func(t *testing.T) {
		msgs := kafkatest.ReadTopic(t, svc.addr, svc.topics.HouseholdEvents)
		feeds := map[string]bool{}
		for _, m := range msgs {
			if err := s.Validate("schemas/household-event.schema.json", m.Value); err != nil {
				t.Errorf("household event %s: %v", m.Value, err)
			}
			var ev feed.HouseholdEvent
			if err := json.Unmarshal(m.Value, &ev); err != nil {
				t.Fatal(err)
			}
			if string(m.Key) != ev.HouseholdID {
				t.Errorf("household event keyed %q for household %q", m.Key, ev.HouseholdID)
			}
			feeds[ev.Feed] = true
		}
		if len(feeds) != len(feed.Feeds) {
			t.Errorf("household events of feeds %v, want all of %v", feeds, feed.Feeds)
		}
	})

	t.Run("alerts", func(t *testing.T) {
		msgs := kafkatest.ReadTopic(t, svc.addr, svc.topics.Alerts)
		if len(msgs) < 2 {
			t.Fatalf("%d alerts, want at least the examples' two", len(msgs))
		}
		for _, m := range msgs {
			if err := s.Validate("schemas/alert.schema.json", m.Value); err != nil {
				t.Errorf("alert %s: %v", m.Value, err)
			}
		}
	})

	t.Run("verifications", func(t *testing.T) {
		if len(applied) == 0 {
			t.Skip("no example ran, so no application was submitted")
		}
		var msgs []kafka.Message
		waitFor(t, fmt.Sprintf("a verification of each application of %v", applied), func() bool {
			msgs = kafkatest.ReadTopic(t, svc.addr, svc.topics.Verifications)
			checked := map[string]bool{}
			for _, m := range msgs {
				var v struct {
					HouseholdID string `json:"household_id"`
				}
				if json.Unmarshal(m.Value, &v) == nil {
					checked[v.HouseholdID] = true
				}
			}
			for _, h := range applied {
				if !checked[h] {
					return false
				}
			}
			return true
		})
		for _, m := range msgs {
			if err := s.Validate("schemas/verification.schema.json", m.Value); err != nil {
				t.Errorf("verification %s: %v", m.Value, err)
			}
		}
	})

	t.Run("dead-letter headers", func(t *testing.T) {
		w := &kafka.Writer{Addr: kafka.TCP(svc.addr), RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
		defer w.Close()
		bad := map[string]string{ // value → reason
			`{"event_id":"dlq-1","type":"started",`: feed.ReasonMalformedJSON,
			`{"event_id":"dlq-2","type":"started","person_id":"110105194912310021","occurred_at":"2025-01-01T00:00:00Z","monthly_amount":1}`: feed.ReasonBadPersonID,
			`{"event_id":"dlq-3","type":"retired","person_id":"11010519491231002X","occurred_at":"2025-01-01T00:00:00Z"}`:                    feed.ReasonUnknownType,
		}
		for v := range bad {
			if err := w.WriteMessages(context.Background(), kafka.Message{Topic: svc.topics.Pension, Key: []byte("k"), Value: []byte(v)}); err != nil {
				t.Fatal(err)
			}
		}
		var dlq []kafka.Message
		waitFor(t, "the dead letters", func() bool {
			dlq = kafkatest.ReadTopic(t, svc.addr, svc.topics.DLQ)
			return len(dlq) >= len(bad)
		})
		for _, m := range dlq {
			h := headers(m)
			doc, err := json.Marshal(h)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Validate("schemas/dead-letter-headers.schema.json", doc); err != nil {
				t.Errorf("dead-letter headers %s: %v", doc, err)
			}
			if want, ok := bad[string(m.Value)]; ok && h["reason"] != want {
				t.Errorf("dead letter %.40q: reason %q, want %q", m.Value, h["reason"], want)
			}
		}
	})

	t.Run("api", func(t *testing.T) { testAPI(t, s, svc) })
	t.Run("audit trail", func(t *testing.T) { testAuditTrail(t, s, svc) })
}

// run runs a program, failing the test with its output when it fails or outlasts timeout.
func run(t *testing.T, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

func headers(m kafka.Message) map[string]string {
	h := map[string]string{}
	for _, x := range m.Headers {
		h[x.Key] = string(x.Value)
	}
	return h
}
