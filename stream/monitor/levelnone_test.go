package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"safetynet/scorer"
	"safetynet/stream/api"
	"safetynet/stream/household"
	"safetynet/stream/kafkaio"
	"safetynet/stream/topics"
)

// TestNoLevelIsSpeltNone: "no level" reads "none" in every output — the alert topic's level and
// previous_level, the API's household view and alert list (and its level=none filter) and the
// metrics' level label — for a household raised to watch and then
// deescalated below every line.
func TestNoLevelIsSpeltNone(t *testing.T) {
	addr := newBroker(t)
	t0 := date(2026, 1, 1)
	c := &clock{now: t0.Add(24 * time.Hour)}
	p := startPipeline(t, addr, t.TempDir(), c)
	a, b, k := id(71, 1985), id(72, 1987), id(73, 2015)
	produce(t, addr, p.topics.Registry,
		joined(a, "H-NONE-LV", date(1985, 3, 1), "M", "head", t0.AddDate(-5, 0, 0)),
		joined(b, "H-NONE-LV", date(1987, 3, 1), "F", "spouse", t0.AddDate(-5, 0, 0)),
		joined(k, "H-NONE-LV", date(2015, 3, 1), "F", "child", t0.AddDate(-5, 0, 0)))
	produce(t, addr, p.topics.Employment, ev("employed", b, t0.AddDate(-2, 0, 0), rec{"monthly_wage": 3500}))
	p.waitReady()
	waitHousehold(t, p.store, "H-NONE-LV", func(h *household.Household) bool {
		return len(h.Persons) == 3 && h.Persons[keyOf(t, b)].Employment != nil
	})
	produce(t, addr, p.topics.Employment, ev("unemployed", a, t0, rec{"registered": true})) // at the watch line
	waitHousehold(t, p.store, "H-NONE-LV", func(h *household.Household) bool { return h.Level == scorer.LevelWatch })
	produce(t, addr, p.topics.Employment, ev("employed", a, t0.Add(48*time.Hour), rec{"monthly_wage": 6000})) // well below
	waitHousehold(t, p.store, "H-NONE-LV", func(h *household.Household) bool { return h.Level == scorer.LevelNone && h.Seq == 2 })

	// The alert topic, as any consumer reads it: raw JSON.
	raw := rawAlerts(t, addr, "H-NONE-LV", 2)
	for i, want := range []struct{ status, level, previous string }{
		{household.StatusRaised, "watch", "none"},
		{household.StatusDeescalated, "none", "watch"},
	} {
		var got struct {
			Status        string  `json:"status"`
			Level         *string `json:"level"`
			PreviousLevel *string `json:"previous_level"`
		}
		if err := json.Unmarshal(raw[i], &got); err != nil {
			t.Fatal(err)
		}
		if got.Status != want.status || got.Level == nil || *got.Level != want.level || got.PreviousLevel == nil || *got.PreviousLevel != want.previous {
			t.Errorf("alert %d: %s", i, raw[i])
			t.Errorf("alert %d: status %q level %v previous_level %v, want %s %q %q", i, got.Status, deref(got.Level), deref(got.PreviousLevel), want.status, want.level, want.previous)
		}
		// Read back into the Go type, "none" is no level again.
		var al household.Alert
		if err := json.Unmarshal(raw[i], &al); err != nil {
			t.Fatal(err)
		}
		if wantLevel, wantPrev := levelIn(want.level), levelIn(want.previous); al.Level != wantLevel || al.PreviousLevel != wantPrev {
			t.Errorf("alert %d decoded: level %q previous %q, want %q %q (\"none\" decodes as no level)", i, al.Level, al.PreviousLevel, wantLevel, wantPrev)
		}
	}

	// The API.
	reg := prometheus.NewRegistry()
	srv := httptest.NewServer(api.New(apiConfig(t, addr, apiTestToken, c.Now), p.store, scorer.Default(), reg, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	get := func(path string, v any) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+apiTestToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: status %d", path, resp.StatusCode)
		}
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	var view struct {
		Level  string `json:"level"`
		Alerts []struct {
			Status string `json:"status"`
			Level  string `json:"level"`
		} `json:"alerts"`
	}
	get("/v1/households/H-NONE-LV", &view)
	if view.Level != "none" || len(view.Alerts) != 2 || view.Alerts[1].Level != "none" || view.Alerts[0].Level != "watch" {
		t.Errorf("household view: level %q alerts %+v, want level none and alerts watch, none", view.Level, view.Alerts)
	}
	var list struct {
		Alerts []map[string]any `json:"alerts"`
	}
	// The alert table indexes the alerts from the alert topic, moments after they are published.
	for deadline := time.Now().Add(10 * time.Second); len(list.Alerts) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		get("/v1/alerts?level=none", &list)
	}
	if len(list.Alerts) != 1 || list.Alerts[0]["status"] != household.StatusDeescalated || list.Alerts[0]["level"] != "none" {
		t.Errorf("/v1/alerts?level=none: %v, want the one deescalation with level none", list.Alerts)
	}

	// The metrics' label, for the same alert.
	if got := testutil.ToFloat64(p.monitor.metrics.Alerts.WithLabelValues(household.StatusDeescalated, "none")); got != 1 {
		t.Errorf("safetynet_alerts_total{status=deescalated,level=none} = %v, want 1", got)
	}
}

// rawAlerts reads the alert topic from the start until it has n alerts of the household, and
// returns their bytes in order.
func rawAlerts(t *testing.T, addr, hid string, n int) [][]byte {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, GroupID: fmt.Sprintf("raw-alerts-%d", time.Now().UnixNano()),
		Topic: topics.Default().Alerts, StartOffset: kafka.FirstOffset, MaxWait: kafkaio.FetchWait(50 * time.Millisecond)})
	defer r.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var out [][]byte
	for len(out) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("reading alerts of %s: %v (have %d of %d)", hid, err, len(out), n)
		}
		if string(m.Key) == hid {
			out = append(out, m.Value)
		}
	}
	return out
}

func levelIn(l string) string {
	if l == "none" {
		return scorer.LevelNone
	}
	return l
}

func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}
