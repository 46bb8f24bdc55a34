package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"safetynet/stream/api"
	"safetynet/stream/feed"
	"safetynet/stream/household"
	"safetynet/stream/intake"
	"safetynet/stream/kafkaio"
	"safetynet/stream/topics"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"safetynet/scorer"
	"safetynet/state"
	"safetynet/stream/kafkatest"
	"safetynet/stream/monitor/cluster"
)

// clock is an injectable clock for tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

// pipeline is intake and monitor running in-process against a real broker and a real store.
type pipeline struct {
	t       *testing.T
	addr    string
	topics  topics.Topics
	dir     string
	clock   *clock
	store   *state.Store
	monitor *Monitor
	intake  *intake.Intake
	cancel  context.CancelFunc
	done    chan error
}

const testPartitions = 3

func newBroker(t *testing.T) string {
	topics := topics.Default()
	_, addr := kafkatest.Broker(t, testPartitions, topics.All()...)
	return addr
}

// startPipeline runs intake and monitor on dir until the test ends or stop is called.
func startPipeline(t *testing.T, addr, dir string, c *clock) *pipeline {
	t.Helper()
	return startPipelineWith(t, addr, state.Options{Dir: dir}, c, scorer.Default(), nil)
}

// startPipelineWith is startPipeline on a store opened with opts, with a model and changes to
// the monitor's config.
func startPipelineWith(t *testing.T, addr string, opts state.Options, c *clock, model *scorer.Model, configure func(*Config)) *pipeline {
	t.Helper()
	dir := opts.Dir
	store, err := state.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	reg := prometheus.NewRegistry()
	pseud, err := feed.NewPseudonymizer([]byte("5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d"))
	if err != nil {
		t.Fatal(err)
	}
	topics := topics.Default()
	in, err := intake.New(intake.Config{Kafka: kafkaio.Kafka{Brokers: []string{addr}}, Topics: topics, GroupID: "test-intake", Now: c.Now}, store, pseud, intake.NewMetrics(reg), logger)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Kafka: kafkaio.Kafka{Brokers: []string{addr}}, Topics: topics, GroupID: "test-monitor",
		BatchWait: 2 * time.Millisecond, TimerInterval: 50 * time.Millisecond, Now: c.Now}
	if configure != nil {
		configure(&cfg)
	}
	mon := New(cfg, store, model, NewMetrics(reg), logger)
	ctx, cancel := context.WithCancel(context.Background())
	p := &pipeline{t: t, addr: addr, topics: topics, dir: dir, clock: c, store: store, monitor: mon, intake: in, cancel: cancel, done: make(chan error, 1)}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return in.Run(gctx) })
	g.Go(func() error { return mon.Run(gctx) })
	// The alert index /v1/alerts lists, as the service builds it (internal/app).
	g.Go(func() error {
		cluster.AlertTable{Kafka: cfg.Kafka, Topic: topics.Alerts, Store: store, Now: c.Now}.Run(gctx, logger)
		return nil
	})
	go func() { p.done <- g.Wait() }()
	t.Cleanup(p.stop)
	return p
}

// stop ends the pipeline and closes the store; safe to call twice.
func (p *pipeline) stop() {
	if p.cancel == nil {
		return
	}
	p.cancel()
	p.cancel = nil
	select {
	case err := <-p.done:
		if err != nil {
			p.t.Errorf("pipeline: %v", err)
		}
	case <-time.After(30 * time.Second):
		p.t.Errorf("pipeline did not stop within 30s")
	}
	if err := p.store.Close(); err != nil {
		p.t.Errorf("close store: %v", err)
	}
}

// waitReady waits until the monitor owns its partitions and has caught up.
func (p *pipeline) waitReady() {
	p.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if ok, _ := p.monitor.Ready(); ok && p.intake.CaughtUp() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, why := p.monitor.Ready()
	p.t.Fatalf("pipeline not ready after 60s: %s", why)
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }

// rec is a raw feed event under construction.
type rec map[string]any

var feedSeq int

// ev builds a raw feed event.
func ev(typ, person string, at time.Time, fields rec) rec {
	feedSeq++
	f := rec{"event_id": fmt.Sprintf("e-%d-%s", feedSeq, typ), "person_id": person, "type": typ, "occurred_at": at.Format(time.RFC3339)}
	for k, v := range fields {
		f[k] = v
	}
	return f
}

// produce sends events to a feed topic, keyed by person, and waits for the acknowledgement.
func produce(t *testing.T, addr, topic string, events ...rec) {
	t.Helper()
	w := kafkaio.Kafka{Brokers: []string{addr}}.Writer(topic, &kafka.Hash{})
	defer w.Close()
	var msgs []kafka.Message
	for _, e := range events {
		v, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprint(e["person_id"])), Value: v})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

// alertReader reads the alert topic from the beginning.
type alertReader struct {
	t      *testing.T
	r      *kafka.Reader
	alerts []household.Alert
}

func newAlertReader(t *testing.T, addr string) *alertReader {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, GroupID: fmt.Sprintf("alert-reader-%d", time.Now().UnixNano()),
		Topic: topics.Default().Alerts, StartOffset: kafka.FirstOffset, MaxWait: kafkaio.FetchWait(50 * time.Millisecond)})
	t.Cleanup(func() { r.Close() })
	return &alertReader{t: t, r: r}
}

// waitFor reads alerts until one satisfies ok, and returns it.
func (a *alertReader) waitFor(what string, ok func(household.Alert) bool) household.Alert {
	a.t.Helper()
	for _, al := range a.alerts {
		if ok(al) {
			return al
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		m, err := a.r.ReadMessage(ctx)
		if err != nil {
			a.t.Fatalf("waiting for %s: %v (alerts so far: %s)", what, err, summaries(a.alerts))
		}
		var al household.Alert
		if err := json.Unmarshal(m.Value, &al); err != nil {
			a.t.Fatalf("alert does not decode: %v: %s", err, m.Value)
		}
		if string(m.Key) != al.HouseholdID {
			a.t.Errorf("alert key %q, want household id %q", m.Key, al.HouseholdID)
		}
		a.alerts = append(a.alerts, al)
		if ok(al) {
			return al
		}
	}
}

// drain reads whatever alerts arrive within d.
func (a *alertReader) drain(d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		m, err := a.r.ReadMessage(ctx)
		if err != nil {
			return
		}
		var al household.Alert
		if err := json.Unmarshal(m.Value, &al); err == nil {
			a.alerts = append(a.alerts, al)
		}
	}
}

func (a *alertReader) of(hid string) []household.Alert {
	var out []household.Alert
	for _, al := range a.alerts {
		if al.HouseholdID == hid {
			out = append(out, al)
		}
	}
	return out
}

func summaries(as []household.Alert) string {
	s := ""
	for _, a := range as {
		s += "\n  " + a.Summary
	}
	return s
}

// id returns a valid resident ID number for person n born in year.
func id(n int, born int) string {
	first17 := fmt.Sprintf("420106%04d0301%03d", born, n%1000)
	return withCheck(first17)
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// joined is a registry event placing a person in a household.
func joined(person, hid string, born time.Time, sex, relation string, at time.Time) rec {
	return ev("member_joined", person, at, rec{"household_id": hid, "birth_date": born.Format(time.DateOnly), "sex": sex, "relation": relation})
}

// TestTimeDrivenCrossing: a spouse's unemployment reaches six months with no new event, and the
// household crosses the watch line on the timer.
func TestTimeDrivenCrossing(t *testing.T) {
	addr := newBroker(t)
	t0 := date(2026, 1, 1)
	c := &clock{now: t0.Add(24 * time.Hour)}
	p := startPipeline(t, addr, t.TempDir(), c)
	a, b, k := id(1, 1985), id(2, 1987), id(3, 2015)
	produce(t, addr, p.topics.Registry,
		joined(a, "H-TIME", date(1985, 3, 1), "M", "head", t0.AddDate(-5, 0, 0)),
		joined(b, "H-TIME", date(1987, 3, 1), "F", "spouse", t0.AddDate(-5, 0, 0)),
		joined(k, "H-TIME", date(2015, 3, 1), "F", "child", t0.AddDate(-5, 0, 0)))
	produce(t, addr, p.topics.Employment, ev("employed", b, t0.AddDate(-2, 0, 0), rec{"monthly_wage": 4000}))
	p.waitReady()
	waitHousehold(t, p.store, "H-TIME", func(h *household.Household) bool {
		return len(h.Persons) == 3 && h.Persons[keyOf(t, b)].Employment != nil
	})
	produce(t, addr, p.topics.Employment, ev("unemployed", a, t0, rec{"registered": true}))
	alerts := newAlertReader(t, addr)

	// Wait until the unemployment event is applied: the household has a timer.
	waitHousehold(t, p.store, "H-TIME", func(h *household.Household) bool { return !h.NextCheck.IsZero() && h.AssessedAt.After(t0) })
	alerts.drain(300 * time.Millisecond)
	if got := alerts.of("H-TIME"); len(got) != 0 {
		t.Fatalf("alerts before six months of unemployment: %s", summaries(got))
	}
	c.Set(date(2026, 7, 1).Add(time.Hour))
	al := alerts.waitFor("time-driven raise", func(a household.Alert) bool { return a.HouseholdID == "H-TIME" })
	if al.Status != household.StatusRaised || al.Level != scorer.LevelWatch || al.Cause.Kind != "timer" {
		t.Fatalf("got %s %s by %s, want raised watch by timer: %s", al.Status, al.Level, al.Cause.Kind, al.Summary)
	}
	if al.Score < al.Threshold {
		t.Errorf("score %.1f below threshold %.1f in a raised alert", al.Score, al.Threshold)
	}
}

// TestHoveringRaisesOnceAndResolvesAfterResolveAfter: scores moving up and down around the watch
// line within the hysteresis raise one alert; leaving it resolves only after resolve_after.
func TestHoveringRaisesOnceAndResolvesAfterResolveAfter(t *testing.T) {
	addr := newBroker(t)
	t0 := date(2026, 1, 1)
	c := &clock{now: t0.Add(24 * time.Hour)}
	p := startPipeline(t, addr, t.TempDir(), c)
	a, b, k := id(11, 1985), id(12, 1987), id(13, 2015)
	produce(t, addr, p.topics.Registry,
		joined(a, "H-HOVER", date(1985, 3, 1), "M", "head", t0.AddDate(-5, 0, 0)),
		joined(b, "H-HOVER", date(1987, 3, 1), "F", "spouse", t0.AddDate(-5, 0, 0)),
		joined(k, "H-HOVER", date(2015, 3, 1), "F", "child", t0.AddDate(-5, 0, 0)))
	produce(t, addr, p.topics.Employment, ev("employed", b, t0.AddDate(-2, 0, 0), rec{"monthly_wage": 3500}))
	p.waitReady()
	waitHousehold(t, p.store, "H-HOVER", func(h *household.Household) bool {
		return len(h.Persons) == 3 && h.Persons[keyOf(t, b)].Employment != nil
	})
	produce(t, addr, p.topics.Employment, ev("unemployed", a, t0, rec{"registered": true})) // 30.3: just at the watch line
	alerts := newAlertReader(t, addr)
	alerts.waitFor("raise", func(a household.Alert) bool { return a.HouseholdID == "H-HOVER" && a.Status == household.StatusRaised })

	// Wage moves push the score a little below and above the line, within the hysteresis band.
	for i, wage := range []float64{3700, 3500, 3800, 3450, 3750} {
		produce(t, addr, p.topics.Employment, ev("employed", b, t0.Add(time.Duration(i+1)*time.Hour), rec{"monthly_wage": wage}))
	}
	waitHousehold(t, p.store, "H-HOVER", func(h *household.Household) bool { return len(h.Persons[keyOf(t, b)].Employment) >= 6 })
	alerts.drain(300 * time.Millisecond)
	if got := alerts.of("H-HOVER"); len(got) != 1 {
		t.Fatalf("got %d alerts for a score hovering at the line, want 1:%s", len(got), summaries(got))
	}

	// Back in work at a good wage: deescalated to no level at once, resolved only after 180 days.
	produce(t, addr, p.topics.Employment, ev("employed", a, t0.Add(48*time.Hour), rec{"monthly_wage": 6000}))
	de := alerts.waitFor("deescalation", func(a household.Alert) bool {
		return a.HouseholdID == "H-HOVER" && a.Status == household.StatusDeescalated
	})
	if de.Level != scorer.LevelNone {
		t.Fatalf("deescalated to %q, want no level", de.Level)
	}
	c.Set(c.Now().Add(179 * 24 * time.Hour))
	alerts.drain(500 * time.Millisecond)
	for _, al := range alerts.of("H-HOVER") {
		if al.Status == household.StatusResolved {
			t.Fatalf("resolved after 179 days: %s", al.Summary)
		}
	}
	c.Set(c.Now().Add(2 * 24 * time.Hour))
	res := alerts.waitFor("resolution", func(a household.Alert) bool {
		return a.HouseholdID == "H-HOVER" && a.Status == household.StatusResolved
	})
	if res.Episode != 1 || res.Cause.Kind != "timer" {
		t.Errorf("resolved: episode %d cause %s, want episode 1 by timer", res.Episode, res.Cause.Kind)
	}
	ids := map[string]bool{}
	for _, al := range alerts.of("H-HOVER") {
		if ids[al.AlertID] {
			t.Errorf("alert id %s repeated", al.AlertID)
		}
		ids[al.AlertID] = true
	}
}

// TestAPI: 401 without a token; with one, the household view matches the latest alert.
func TestAPI(t *testing.T) {
	addr := newBroker(t)
	t0 := date(2026, 1, 1)
	c := &clock{now: t0.Add(24 * time.Hour)}
	p := startPipeline(t, addr, t.TempDir(), c)
	old := id(21, 1944)
	produceOldDisabledPensioner(t, p, old, "H-API", t0)
	p.waitReady()
	alerts := newAlertReader(t, addr)
	last := alerts.waitFor("alert", func(a household.Alert) bool { return a.HouseholdID == "H-API" })
	alerts.drain(300 * time.Millisecond)
	if got := alerts.of("H-API"); len(got) > 0 {
		last = got[len(got)-1]
	}

	srv := httptest.NewServer(api.New(apiConfig(t, addr, apiTestToken, c.Now), p.store, scorer.Default(), prometheus.NewRegistry(), slog.New(slog.DiscardHandler)))
	defer srv.Close()
	for _, tc := range []struct {
		name, path, token string
		want              int
	}{
		{"no token", "/v1/households/H-API", "", http.StatusUnauthorized},
		{"wrong token", "/v1/households/H-API", "guess", http.StatusUnauthorized},
		{"alerts without token", "/v1/alerts", "", http.StatusUnauthorized},
		{"unknown household", "/v1/households/H-NONE", apiTestToken, http.StatusNotFound},
		{"household", "/v1/households/H-API", apiTestToken, http.StatusOK},
		{"health needs no token", "/healthz", "", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL+tc.path, nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("GET %s: status %d, want %d: %s", tc.path, resp.StatusCode, tc.want, body)
			}
			if tc.want == http.StatusUnauthorized && json.Valid(body) {
				var m map[string]any
				_ = json.Unmarshal(body, &m)
				if len(m) != 1 || m["error"] == nil {
					t.Errorf("401 carries more than an error: %s", body)
				}
			}
			if tc.path != "/v1/households/H-API" || tc.want != http.StatusOK {
				return
			}
			var v api.HouseholdView
			if err := json.Unmarshal(body, &v); err != nil {
				t.Fatal(err)
			}
			if v.Level != household.LevelLabel(last.Level) || len(v.Alerts) == 0 || v.Alerts[len(v.Alerts)-1].AlertID != last.AlertID {
				t.Fatalf("view level %q, last alert %v; latest alert %s level %q", v.Level, v.Alerts, last.AlertID, last.Level)
			}
			if len(v.Members) != 1 || v.Members[0].Person != feed.Mask(old) || v.Members[0].Age != 81 {
				t.Errorf("members %+v, want one aged 81 shown as %s", v.Members, feed.Mask(old))
			}
			if v.Assessment.Total != last.Score {
				t.Errorf("view score %.1f, alert score %.1f", v.Assessment.Total, last.Score)
			}
		})
	}
}

// TestAPIAlertList: /v1/alerts lists this instance's alerts newest first, filters by status and
// level, and pages with the cursor it gives out.
func TestAPIAlertList(t *testing.T) {
	addr := newBroker(t)
	t0 := date(2026, 1, 1)
	c := &clock{now: t0.Add(24 * time.Hour)}
	p := startPipeline(t, addr, t.TempDir(), c)
	var regs, pensions []rec
	for i := range 4 {
		person := id(40+i, 1940+i)
		regs = append(regs, joined(person, fmt.Sprintf("H-LIST-%d", i), date(1940+i, 3, 1), "F", "head", t0.AddDate(-30, 0, 0)))
		pensions = append(pensions, ev("started", person, t0.AddDate(-1, 0, 0), rec{"monthly_amount": 500}))
	}
	produce(t, addr, p.topics.Registry, regs...)
	p.waitReady()
	produce(t, addr, p.topics.Pension, pensions...)
	for i := range 4 {
		waitHousehold(t, p.store, fmt.Sprintf("H-LIST-%d", i), func(h *household.Household) bool { return len(h.Alerts) > 0 })
	}
	srv := httptest.NewServer(api.New(apiConfig(t, addr, apiTestToken, c.Now), p.store, scorer.Default(), prometheus.NewRegistry(), slog.New(slog.DiscardHandler)))
	defer srv.Close()
	get := func(path string) (int, []household.Alert, string) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+apiTestToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Alerts     []household.Alert `json:"alerts"`
			NextCursor string            `json:"next_cursor"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out.Alerts, out.NextCursor
	}
	// The alert table indexes the alerts from the alert topic, moments after they are published.
	var all []household.Alert
	for deadline := time.Now().Add(10 * time.Second); len(all) < 4 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, all, _ = get("/v1/alerts?limit=100")
	}
	if len(all) < 4 {
		t.Fatalf("%d alerts listed, want at least 4", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].EmittedAt.After(all[i-1].EmittedAt) {
			t.Errorf("not newest first at %d", i)
		}
	}
	var paged []household.Alert
	cursor := ""
	for range 20 {
		code, page, next := get("/v1/alerts?limit=1&cursor=" + cursor)
		if code != http.StatusOK || len(page) > 1 {
			t.Fatalf("page: status %d, %d alerts", code, len(page))
		}
		paged = append(paged, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(paged) != len(all) {
		t.Errorf("paging one by one gave %d alerts, one page %d", len(paged), len(all))
	}
	_, raised, _ := get("/v1/alerts?status=raised&level=" + all[0].Level)
	for _, a := range raised {
		if a.Status != household.StatusRaised || a.Level != all[0].Level {
			t.Errorf("filter status=raised level=%s returned %s %s", all[0].Level, a.Status, a.Level)
		}
	}
	if len(raised) == 0 {
		t.Error("filter returned nothing")
	}
	if code, _, _ := get("/v1/alerts?limit=0"); code != http.StatusBadRequest {
		t.Errorf("limit=0: status %d, want 400", code)
	}
	if code, _, _ := get("/v1/alerts?cursor=not*base64"); code != http.StatusBadRequest {
		t.Errorf("bad cursor: status %d, want 400", code)
	}
}

func keyOf(t *testing.T, person string) string {
	p, err := feed.NewPseudonymizer([]byte("5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d"))
	if err != nil {
		t.Fatal(err)
	}
	return p.Key(person)
}

// waitHousehold waits until the stored household satisfies ok.
func waitHousehold(t *testing.T, store *state.Store, id string, ok func(*household.Household) bool) *household.Household {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if v, err := store.Household(id); err == nil {
			h, err := household.Decode(v)
			if err != nil {
				t.Fatal(err)
			}
			if ok(h) {
				return h
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("household %s did not reach the expected state within 60s", id)
	return nil
}

// allAlerts reads every alert published so far: each partition of the alert topic up to the end
// offset it has now.
func allAlerts(t *testing.T, addr string) []household.Alert {
	t.Helper()
	var out []household.Alert
	kafkatest.EachRecord(t, addr, topics.Default().Alerts, func(m kafka.Message) {
		var a household.Alert
		if err := json.Unmarshal(m.Value, &a); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	})
	return out
}

// produceOldDisabledPensioner sends the events of a household of one: a woman born in 1944, on
// a small pension, registered with a grade-1 disability a year before t0 (an alert at once).
func produceOldDisabledPensioner(t *testing.T, p *pipeline, person, hid string, t0 time.Time) {
	t.Helper()
	produce(t, p.addr, p.topics.Registry, joined(person, hid, date(1944, 3, 1), "F", "head", t0.AddDate(-30, 0, 0)))
	produce(t, p.addr, p.topics.Pension, ev("started", person, t0.AddDate(-20, 0, 0), rec{"monthly_amount": 900}))
	produce(t, p.addr, p.topics.Disability, ev("registered", person, t0.AddDate(-1, 0, 0), rec{"grade": 1, "kind": "physical"}))
}

func withCheck(first17 string) string { return first17 + string(feed.ResidentIDCheck(first17)) }
