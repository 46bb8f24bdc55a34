package monitor

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"safetynet/internal/contracts"
	"safetynet/scorer"
	"safetynet/state"
	"safetynet/stream/household"
)

// modelWith is the built-in model under another version with the level thresholds given.
func modelWith(t *testing.T, version string, watch, warning, urgent int) *scorer.Model {
	t.Helper()
	y := string(scorer.DefaultYAML())
	for old, repl := range map[string]string{
		"version: " + scorer.Default().Version:          "version: " + version,
		"{name: watch, threshold: 30, hysteresis: 5}":   fmt.Sprintf("{name: watch, threshold: %d, hysteresis: 5}", watch),
		"{name: warning, threshold: 45, hysteresis: 5}": fmt.Sprintf("{name: warning, threshold: %d, hysteresis: 5}", warning),
		"{name: urgent, threshold: 65, hysteresis: 5}":  fmt.Sprintf("{name: urgent, threshold: %d, hysteresis: 5}", urgent),
	} {
		if !strings.Contains(y, old) {
			t.Fatalf("default model has no %q", old)
		}
		y = strings.Replace(y, old, repl, 1)
	}
	m, err := scorer.Parse([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// rolloutHouseholds registers n households of one elderly person each, with pensions and
// disabilities spread so that their scores cover the range around the level lines.
func rolloutHouseholds(t *testing.T, p *pipeline, t0 time.Time, n int) []string {
	t.Helper()
	var regs, pensions, disabilities []rec
	var ids []string
	for i := range n {
		hid := fmt.Sprintf("H-ROLL-%02d", i)
		ids = append(ids, hid)
		born := 1938 + i%18
		person := id(100+i, born)
		regs = append(regs, joined(person, hid, date(born, 3, 1), "F", "head", t0.AddDate(-30, 0, 0)))
		pensions = append(pensions, ev("started", person, t0.AddDate(-2, 0, 0), rec{"monthly_amount": 400 + 250*(i%12)}))
		if i%3 == 0 {
			disabilities = append(disabilities, ev("registered", person, t0.AddDate(-3, 0, 0), rec{"grade": 2 + i%3, "kind": "physical"}))
		}
	}
	produce(t, p.addr, p.topics.Registry, regs...)
	p.waitReady()
	produce(t, p.addr, p.topics.Pension, pensions...)
	produce(t, p.addr, p.topics.Disability, disabilities...)
	for _, hid := range ids {
		waitHousehold(t, p.store, hid, func(h *household.Household) bool {
			for _, pe := range h.Persons {
				return pe.Pension != nil
			}
			return false
		})
	}
	return ids
}

// readHouseholds reads the stored households ids from a stopped pipeline's directory or a
// running one's store.
func readHouseholds(t *testing.T, store *state.Store, ids []string) map[string]*household.Household {
	t.Helper()
	out := map[string]*household.Household{}
	for _, id := range ids {
		v, err := store.Household(id)
		if err != nil {
			t.Fatal(err)
		}
		h, err := household.Decode(v)
		if err != nil {
			t.Fatal(err)
		}
		out[id] = h
	}
	return out
}

// waitRescored waits until every household is stored with the model's version, and returns them.
func waitRescored(t *testing.T, store *state.Store, ids []string, version string) map[string]*household.Household {
	t.Helper()
	for _, id := range ids {
		waitHousehold(t, store, id, func(h *household.Household) bool { return h.ModelVersion == version })
	}
	return readHouseholds(t, store, ids)
}

// checkRolledOut: each household's stored level is the new model's classification of its
// assessment now from the level it had, and each household whose level changed (and only those)
// has a model_change alert from the old model to the new one, valid against the alert schema.
func checkRolledOut(t *testing.T, m *scorer.Model, now time.Time, before, after map[string]*household.Household, alerts []household.Alert, published bool) (changed int) {
	t.Helper()
	schemas, err := contracts.LoadSchemas("../../docs")
	if err != nil {
		t.Fatal(err)
	}
	byHousehold := map[string][]household.Alert{}
	for _, a := range alerts {
		if a.Cause.Kind == household.CauseModelChange {
			byHousehold[a.HouseholdID] = append(byHousehold[a.HouseholdID], a)
		}
	}
	for id, h := range after {
		was := before[id]
		want := m.Classify(scorer.Score(m, h.Scorer(), now), was.Level)
		if h.Level != want {
			t.Errorf("%s: stored level %q under %s, the model assesses %q (was %q)", id, h.Level, m.Version, want, was.Level)
		}
		got := byHousehold[id]
		switch {
		case h.Level == was.Level && len(got) > 0:
			t.Errorf("%s: level unchanged (%q) but %d model_change alerts: %s", id, h.Level, len(got), summaries(got))
		case h.Level != was.Level && published && len(got) != 1:
			t.Errorf("%s: level %q → %q, %d model_change alerts, want 1: %s", id, was.Level, h.Level, len(got), summaries(got))
		case h.Level != was.Level && !published && len(got) != 0:
			t.Errorf("%s: model_change alerts published while suppressed: %s", id, summaries(got))
		}
		if h.Level != was.Level {
			changed++
		}
		for _, a := range got {
			if a.Cause.FromModel != was.ModelVersion || a.Cause.ToModel != m.Version || a.ModelVersion != m.Version || a.Level != h.Level {
				t.Errorf("%s: alert cause %+v level %q model %s; want from %s to %s at level %q",
					id, a.Cause, a.Level, a.ModelVersion, was.ModelVersion, m.Version, h.Level)
			}
			v, _ := json.Marshal(a)
			if err := schemas.Validate("schemas/alert.schema.json", v); err != nil {
				t.Errorf("%s: model_change alert does not match the schema: %v\n%s", id, err, v)
			}
		}
	}
	return changed
}

// TestRolloutRescoresEveryHousehold: starting on an existing state directory with a stricter
// model re-scores every household in the background (alerts with cause model_change), and so
// does swapping in a more lenient model while running; with model_change alerts suppressed the
// state follows a third model and nothing is published.
func TestRolloutRescoresEveryHousehold(t *testing.T) {
	addr := newBroker(t)
	dir := t.TempDir()
	t0 := date(2026, 1, 1)
	c := &clock{now: t0.Add(24 * time.Hour)}
	p := startPipeline(t, addr, dir, c)
	ids := rolloutHouseholds(t, p, t0, 24)
	waitRescored(t, p.store, ids, scorer.Default().Version)
	// Every event applied before the snapshot: a level still moving under the default model
	// would look like the new model's doing.
	waitApplied(t, addr, p.store, p.topics.HouseholdEvents)
	before := waitRescored(t, p.store, ids, scorer.Default().Version)
	time.Sleep(300 * time.Millisecond) // the last batches' alerts
	p.stop()
	seen := map[string]bool{}
	newAlerts := func() []household.Alert { // alerts published since the last call
		var out []household.Alert
		for _, a := range allAlerts(t, addr) {
			if !seen[a.AlertID] {
				seen[a.AlertID] = true
				out = append(out, a)
			}
		}
		return out
	}
	newAlerts()

	// 1. Start with a stricter model on the existing state.
	strict := modelWith(t, "strict-1", 20, 35, 55)
	start := time.Now()
	p = startPipelineWith(t, addr, state.Options{Dir: dir}, c, strict, func(c *Config) { c.RescoreRate = 50 })
	p.waitReady() // ready while re-scoring
	after := waitRescored(t, p.store, ids, strict.Version)
	took := time.Since(start)
	time.Sleep(300 * time.Millisecond)
	alerts := newAlerts()
	if n := checkRolledOut(t, strict, c.Now(), before, after, alerts, true); n == 0 {
		t.Fatalf("no household changed level under the stricter model: the test shows nothing")
	}
	// 24 households at 50 a second take about half a second; far less means no rate limit.
	if took < 300*time.Millisecond {
		t.Errorf("re-scoring 24 households at 50/s took %s", took)
	}
	for _, a := range alerts {
		if a.Cause.Kind == household.CauseModelChange && a.Status != household.StatusRaised && a.Status != household.StatusEscalated {
			t.Errorf("a stricter model made a %s alert: %s", a.Status, a.Summary)
		}
	}

	// 2. Swap in a more lenient model while running (what a reload does).
	lenient := modelWith(t, "lenient-1", 40, 55, 75)
	p.monitor.SetModel(lenient)
	after2 := waitRescored(t, p.store, ids, lenient.Version)
	time.Sleep(300 * time.Millisecond)
	alerts = newAlerts()
	if n := checkRolledOut(t, lenient, c.Now(), after, after2, alerts, true); n == 0 {
		t.Fatalf("no household changed level under the lenient model")
	}
	if _, why := p.monitor.Ready(); why != "" {
		t.Errorf("not ready after re-scoring: %s", why)
	}
	p.stop()

	// 3. Suppressed: the state follows the model, the alert topic stays silent.
	p = startPipelineWith(t, addr, state.Options{Dir: dir}, c, strict, func(c *Config) { c.SuppressModelChangeAlerts = true })
	after3 := waitRescored(t, p.store, ids, strict.Version)
	time.Sleep(300 * time.Millisecond)
	alerts = newAlerts()
	if len(alerts) != 0 {
		t.Errorf("%d alerts published with model_change alerts suppressed:%s", len(alerts), summaries(alerts))
	}
	n := checkRolledOut(t, strict, c.Now(), after2, after3, nil, false)
	if n == 0 {
		t.Fatalf("no household changed level when suppressed")
	}
	if got := testutil.ToFloat64(p.monitor.metrics.AlertsWithheld.WithLabelValues(household.CauseModelChange)); int(got) < n {
		t.Errorf("safetynet_alerts_withheld_total{reason=model_change} = %v, want at least %d", got, n)
	}

	// 4. A restart with the same model walks no more: the partitions' marks hold the version.
	p.stop()
	p = startPipelineWith(t, addr, state.Options{Dir: dir}, c, strict, nil)
	p.waitReady()
	time.Sleep(300 * time.Millisecond)
	for part := range testPartitions {
		if v, _, _ := p.store.Mark(part, markRescored); v != strict.Version {
			t.Errorf("partition %d: rescored mark %q, want %q", part, v, strict.Version)
		}
	}
}
