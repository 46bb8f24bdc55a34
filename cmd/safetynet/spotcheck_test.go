package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"safetynet/internal/app"
	"safetynet/internal/backtest"
	"safetynet/internal/demo"
	"safetynet/scorer"
	"safetynet/stream/feed"
	"safetynet/stream/household"
	"safetynet/stream/kafkaio"
	"safetynet/stream/kafkatest"
	"safetynet/stream/topics"
)

// testClock is a settable clock for the service.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

// TestSpotCheckOfflineEqualsOnline runs the service over a kfake broker with 60 households
// receiving dibao in three areas (approved applications), a seed and a share of 0.3. When its
// clock passes into November the monitor draws November's spot checks online. `safetynet
// spotcheck -month 2026-11` over the stopped instance's directory and over the changelog
// reproduces exactly the households with a spot check case for November; December's draw under
// the same seed is another sample; another seed is another sample and the command says the
// recorded cases are not its draw.
func TestSpotCheckOfflineEqualsOnline(t *testing.T) {
	const seed = "a7c0f2b4d6e8a1c3-audit-seed"
	tp := topics.Default()
	_, addr := kafkatest.Broker(t, 3, demo.Topics(tp)...)
	dir := filepath.Join(t.TempDir(), "state")
	model := filepath.Join(t.TempDir(), "model.yaml")
	if err := os.WriteFile(model, append(scorer.DefaultYAML(), []byte("\naid:\n  spot_check_share: 0.3\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := app.LoadConfig(map[string]string{
		app.EnvPrefix + "KAFKA_BROKERS":  addr,
		app.EnvPrefix + "STATE_DIR":      dir,
		app.EnvPrefix + "PSEUDONYM_KEY":  "5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d",
		app.EnvPrefix + "HTTP_ADDR":      "127.0.0.1:0",
		app.EnvPrefix + "LOG_LEVEL":      "warn",
		app.EnvPrefix + "MODEL_FILE":     model,
		app.EnvPrefix + "SPOTCHECK_SEED": seed,
	})
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{now: time.Date(2026, 10, 10, 9, 0, 0, 0, time.UTC)}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	listening := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, cfg, app.Options{Stderr: io.Discard, Version: "test", Listening: listening, Now: clock.Now})
	}()
	select {
	case <-listening:
	case err := <-done:
		t.Fatalf("service: %v", err)
	}

	const n = 60
	areas := []string{"420106001000", "420111002000", "420102003000"}
	var registry, applications []kafka.Message
	msg := func(key string, v map[string]any) kafka.Message {
		b, _ := json.Marshal(v)
		return kafka.Message{Key: []byte(key), Value: b}
	}
	joinedAt := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		first17 := fmt.Sprintf("%s19800301%03d", areas[i%3][:6], i)
		person := first17 + string(feed.ResidentIDCheck(first17))
		hid := fmt.Sprintf("HH-SC-%02d", i)
		registry = append(registry, msg(person, map[string]any{"event_id": "reg-" + hid, "person_id": person, "type": "member_joined",
			"occurred_at": joinedAt.Format(time.RFC3339), "household_id": hid, "birth_date": "1980-03-01", "relation": "head", "area_code": areas[i%3]}))
		applications = append(applications,
			msg(person, map[string]any{"event_id": "app-" + hid, "person_id": person, "type": feed.AppSubmitted,
				"occurred_at": "2026-08-20T00:00:00Z", "household_id": hid, "application_id": "APP-" + hid, "program": "dibao", "commitment_signed": true,
				"declared": map[string]any{"members": []map[string]any{{"person_id": person, "monthly_income": 0}}, "vehicles": 0, "properties": 0,
					"financial_assets": 0, "business_owner": false}}),
			msg(person, map[string]any{"event_id": "dec-" + hid, "person_id": person, "type": feed.AppDecided,
				"occurred_at": "2026-09-15T00:00:00Z", "household_id": hid, "application_id": "APP-" + hid, "program": "dibao",
				"decision": "approved", "monthly_benefit": 800}))
	}
	write := func(topic string, msgs []kafka.Message) {
		w := kafkaio.Kafka{Brokers: []string{addr}}.Writer(topic, &kafka.Hash{})
		defer w.Close()
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			t.Fatalf("produce %s: %v", topic, err)
		}
	}
	write(tp.Registry, registry)
	time.Sleep(500 * time.Millisecond)
	write(tp.Applications, applications)

	// Every household receives aid and was in October's draw; then the clock passes into
	// November and the timers (due at the start of the month) run November's draw.
	waitAll := func(what string, ok func(h *household.Household) bool) []*household.Household {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			cl := &backtest.Changelog{Kafka: kafkaio.Kafka{Brokers: []string{addr}}, Topic: tp.Changelog}
			var hs []*household.Household
			good := 0
			if err := cl.Load(ctx); err == nil {
				cl.Households(func(_ string, v []byte) error {
					h, err := household.Decode(v)
					if err == nil && strings.HasPrefix(h.ID, "HH-SC-") {
						hs = append(hs, h)
						if ok(h) {
							good++
						}
					}
					return nil
				})
			}
			if good == n {
				return hs
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d of %d households after 60 s", what, good, n)
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	waitAll("receiving aid, October drawn", func(h *household.Household) bool {
		return h.ReceivingAid() != nil && h.Casework.SpotChecked == "2026-10"
	})
	clock.Set(time.Date(2026, 11, 1, 0, 30, 0, 0, time.UTC))
	hs := waitAll("November drawn", func(h *household.Household) bool { return h.Casework.SpotChecked == "2026-11" })
	var online []string
	for _, h := range hs {
		if c := h.Case(feed.SpotCheckCaseID(h.ID, "2026-11")); c != nil {
			if c.Kind != household.KindSpotCheck || c.Draw == nil || c.Draw.Month != "2026-11" {
				t.Errorf("%s: case %+v", h.ID, c)
			}
			online = append(online, h.ID)
		}
	}
	slices.Sort(online)
	if len(online) < 5 || len(online) > 35 {
		t.Fatalf("%d of %d households drawn online at a share of 0.3", len(online), n)
	}

	drawn := func(args ...string) (int, []string, map[string]any, string) {
		t.Helper()
		code, out, stderr := runCLI(t, append([]string{"spotcheck", "-json", "-model", model}, args...)...)
		var res map[string]any
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("spotcheck %v: exit %d, output %q: %v (%s)", args, code, out, err, stderr)
		}
		var ids []string
		for _, d := range res["drawn"].([]any) {
			ids = append(ids, d.(map[string]any)["household_id"].(string))
		}
		return code, ids, res, stderr
	}
	code, live, _, stderr := drawn("-month", "2026-11", "-seed", seed, "-from-changelog", "-brokers", addr)
	if code != 0 || !slices.Equal(live, online) {
		t.Errorf("offline draw from the changelog while running: exit %d (%s)\n got %v\nwant %v", code, stderr, live, online)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("service: %v", err)
	}

	code, fromDir, res, stderr := drawn("-month", "2026-11", "-seed", seed, "-state", dir)
	if code != 0 || !slices.Equal(fromDir, online) {
		t.Errorf("offline draw from the directory: exit %d (%s)\n got %v\nwant %v", code, stderr, fromDir, online)
	}
	if res["in_draw"].(float64) != n || res["share"].(float64) != 0.3 || res["seed"] != seed || res["cases_recorded"].(float64) != float64(len(online)) {
		t.Errorf("draw summary: %v", res)
	}
	perArea := 0.0
	for _, a := range res["areas"].([]any) {
		a := a.(map[string]any)
		if a["in_draw"].(float64) != n/3 {
			t.Errorf("area %v: %v in the draw, want %d", a["area"], a["in_draw"], n/3)
		}
		perArea += a["drawn"].(float64)
	}
	if len(res["areas"].([]any)) != 3 || perArea != float64(len(online)) {
		t.Errorf("per area counts %v do not add up to %d drawn", res["areas"], len(online))
	}

	// December under the same seed: another sample (no cases yet: the command says so).
	code, dec, _, _ := drawn("-month", "2026-12", "-seed", seed, "-state", dir)
	if slices.Equal(dec, online) || code != 1 {
		t.Errorf("December's draw: exit %d, %v; want another sample than November's and exit 1 (no cases recorded)", code, dec)
	}
	// Another seed for November: not the recorded cases, and the command fails naming them.
	code, other, res, _ := drawn("-month", "2026-11", "-seed", "another-seed-entirely", "-state", dir)
	if slices.Equal(other, online) || code != 1 || len(res["unmatched"].([]any)) == 0 {
		t.Errorf("November under another seed: exit %d, %v, unmatched %v", code, other, res["unmatched"])
	}
	// The text form prints the seed, month, share, the households with their values, and areas.
	code, text, stderr := runCLI(t, "spotcheck", "-month", "2026-11", "-seed", seed, "-share", "0.3", "-state", dir)
	if code != 0 || !strings.Contains(text, seed) || !strings.Contains(text, "2026-11") || !strings.Contains(text, online[0]) ||
		!strings.Contains(text, "420111") || !strings.Contains(text, "the recorded cases are exactly the draw") {
		t.Errorf("text output: exit %d (%s)\n%s", code, stderr, text)
	}
	t.Logf("November: %d of %d drawn online and offline; December %d; another seed %d", len(online), n, len(dec), len(other))

	for _, args := range [][]string{
		{"spotcheck", "-state", dir},
		{"spotcheck", "-month", "2026-13", "-seed", seed, "-state", dir},
		{"spotcheck", "-month", "2026-11", "-seed", seed, "-share", "1.5", "-state", dir},
		{"spotcheck", "-month", "2026-11", "-seed", seed},
	} {
		if code, _, stderr := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, stderr)
		}
	}
}
