package monitor

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"safetynet/stream/feed"
	"safetynet/stream/household"
	"slices"
	"sort"
	"testing"
	"time"

	"safetynet/scorer"
	"safetynet/state"
)

// world is a small synthetic population and the feed events about it, as waves: wave 0 is the
// registry; every later wave holds at most one event per household, so that the order in which
// intake interleaves feed partitions cannot change any household's sequence of events.
type world struct {
	households   []string
	waves        [][]worldEvent
	applications int // households with an application (its submission is the household's last event)
}

type worldEvent struct {
	household string
	feed      string
	ev        rec
}

func newWorld(seed uint64, n int) *world {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	w := &world{}
	start := date(2024, 1, 1)
	at := func() time.Time {
		return start.Add(time.Duration(rng.Int64N(int64(700 * 24 * time.Hour)))).Truncate(time.Hour)
	}
	var registry []worldEvent
	perHousehold := map[string][]worldEvent{}
	for h := range n {
		hid := fmt.Sprintf("W%04d", h)
		w.households = append(w.households, hid)
		members := 1 + rng.IntN(4)
		var persons []string
		for m := range members {
			born := 1940 + rng.IntN(75)
			rel := "head"
			if m > 0 {
				rel = []string{"spouse", "child", "parent", "other"}[rng.IntN(4)]
			}
			month := 1 + rng.IntN(12)
			day := 1 + rng.IntN(28)
			person := withCheck(fmt.Sprintf("42010%d%04d%02d%02d%03d", h%10, born, month, day, (h*7+m)%1000))
			persons = append(persons, person)
			birth, joinedAt := date(born, time.Month(month), day), date(2010, 1, 1)
			if birth.After(joinedAt) { // intake refuses a birth date after occurred_at
				joinedAt = birth
			}
			registry = append(registry, worldEvent{hid, feed.Registry, joined(person, hid, birth, []string{"F", "M"}[rng.IntN(2)], rel, joinedAt)})
			for range rng.IntN(7) {
				var e worldEvent
				switch rng.IntN(9) {
				case 0:
					e = worldEvent{hid, feed.Employment, ev("employed", person, at(), rec{"monthly_wage": float64(500 + rng.IntN(60)*100)})}
				case 1:
					e = worldEvent{hid, feed.Employment, ev("unemployed", person, at(), rec{"registered": rng.IntN(2) == 0})}
				case 2:
					e = worldEvent{hid, feed.Pension, ev([]string{"started", "changed"}[rng.IntN(2)], person, at(), rec{"monthly_amount": float64(300 + rng.IntN(40)*100)})}
				case 3:
					e = worldEvent{hid, feed.Disability, ev("registered", person, at(), rec{"grade": 1 + rng.IntN(4), "kind": "physical"})}
				case 4:
					adm := fmt.Sprintf("A-%s-%d", hid, rng.IntN(1000))
					in := at()
					icd := []string{"N03.9", "J18.9", "C92.0", "I21.0", "K35.8"}[rng.IntN(5)]
					perHousehold[hid] = append(perHousehold[hid], worldEvent{hid, feed.Hospital, ev("admitted", person, in, rec{"admission_id": adm, "icd10": icd})})
					oop := float64(rng.IntN(300) * 100)
					e = worldEvent{hid, feed.Hospital, ev("discharged", person, in.Add(time.Duration(1+rng.IntN(20))*24*time.Hour),
						rec{"admission_id": adm, "icd10": icd, "total_cost": 2 * oop, "insured_cost": oop, "out_of_pocket": oop})}
				case 5:
					e = worldEvent{hid, feed.Assets, ev(feed.VehicleRegistered, person, at(), rec{"asset_id": fmt.Sprintf("V-%s-%d", hid, rng.IntN(1000)), "value": float64(20000 + rng.IntN(100)*1000)})}
				case 6:
					e = worldEvent{hid, feed.Assets, ev(feed.DepositsReported, person, at(), rec{"balance": float64(rng.IntN(80) * 1000)})}
				case 7:
					e = worldEvent{hid, feed.Assets, ev(feed.ProvidentFundPaid, person, at(), rec{"monthly_contribution": float64(300 + rng.IntN(20)*50)})}
				case 8:
					e = worldEvent{hid, feed.Assets, ev([]string{feed.BusinessRegistered, feed.PropertyRegistered}[rng.IntN(2)], person, at(),
						rec{"asset_id": fmt.Sprintf("B-%s-%d", hid, rng.IntN(1000))})}
				}
				perHousehold[hid] = append(perHousehold[hid], e)
			}
		}
		// Half the households apply, within the recheck window of the clock (facts arriving
		// after the check, dated before it, re-run it), most declaring what the records say,
		// some not.
		if rng.IntN(2) == 0 {
			var declared []rec
			for _, person := range persons {
				declared = append(declared, rec{"person_id": person, "monthly_income": float64([]int{0, 0, 1500, 3000}[rng.IntN(4)])})
			}
			if len(declared) > 1 && rng.IntN(4) == 0 {
				declared = declared[:len(declared)-1] // a member left out
			}
			app := fmt.Sprintf("APP-%s", hid)
			e := ev(feed.AppSubmitted, persons[0], date(2025, 10, 15).Add(time.Duration(rng.IntN(60*24))*time.Hour), rec{"household_id": hid, "application_id": app,
				"program": "dibao", "commitment_signed": true, "declared": rec{"members": declared, "vehicles": rng.IntN(2), "properties": 0,
					"financial_assets": float64(rng.IntN(5) * 10000), "business_owner": rng.IntN(3) == 0}})
			perHousehold[hid] = append(perHousehold[hid], worldEvent{hid, feed.Applications, e})
			w.applications++
		}
	}
	w.waves = append(w.waves, registry)
	for _, hid := range w.households {
		for i, e := range perHousehold[hid] {
			for len(w.waves) <= i+1 {
				w.waves = append(w.waves, nil)
			}
			w.waves[i+1] = append(w.waves[i+1], e)
		}
	}
	for _, wave := range w.waves {
		rng.Shuffle(len(wave), func(i, j int) { wave[i], wave[j] = wave[j], wave[i] })
	}
	return w
}

// send produces one wave, by feed.
func (w *world) send(t *testing.T, p *pipeline, events []worldEvent) {
	t.Helper()
	by := map[string][]rec{}
	for _, e := range events {
		by[e.feed] = append(by[e.feed], e.ev)
	}
	for _, f := range feed.Feeds {
		if len(by[f]) > 0 {
			produce(t, p.addr, p.topics.Feed(f), by[f]...)
		}
	}
}

// expected applies the events to households in memory: the facts the store must end with.
func expected(t *testing.T, p *feed.Pseudonymizer, events []worldEvent) map[string]map[string]*household.Person {
	t.Helper()
	hs := map[string]*household.Household{}
	for _, e := range events {
		raw, _ := json.Marshal(e.ev)
		r, derr := feed.Decode(e.feed, raw, feed.DefaultMaxEventBytes, feed.DefaultMaxFutureSkew, date(2027, 1, 1))
		if derr != nil {
			t.Fatalf("test event does not decode: %v", derr)
		}
		he := p.Apply(r)
		h := hs[e.household]
		if h == nil {
			h = household.New(e.household, 0)
			hs[e.household] = h
		}
		if _, err := h.Apply(&he); err != nil {
			t.Fatal(err)
		}
	}
	out := map[string]map[string]*household.Person{}
	for id, h := range hs {
		out[id] = h.Persons
	}
	return out
}

// stored reads every household of the store.
func stored(t *testing.T, s *state.Store) map[string]*household.Household {
	t.Helper()
	out := map[string]*household.Household{}
	if err := s.Households(func(id string, v []byte) error {
		h, err := household.Decode(v)
		out[id] = h
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitFacts waits until the store holds exactly the expected facts.
func waitFacts(t *testing.T, p *pipeline, want map[string]map[string]*household.Person) map[string]*household.Household {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var diff string
	for time.Now().Before(deadline) {
		got := stored(t, p.store)
		diff = ""
		for id, persons := range want {
			if got[id] == nil || !reflect.DeepEqual(got[id].Persons, persons) {
				diff = id
				break
			}
		}
		if diff == "" {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("household %s never reached its expected facts", diff)
	return nil
}

func testPseudonymizer(t *testing.T) *feed.Pseudonymizer {
	p, err := feed.NewPseudonymizer([]byte("5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestArrivalOrderDoesNotMatter sends the same events twice, to two pipelines: once wave by
// wave, once all at once with the waves reversed (newer facts first, the registry last, so that
// most events are parked until their person is known). The facts and scores must be identical,
// and so must the levels wherever the score is outside a hysteresis band (inside one, the level
// rightly depends on where the score came from). The waves carry assets (vehicles, property,
// businesses, deposits, provident fund) and applications too: the applications kept and the
// newest check of each, stored and published on the verifications topic, must be identical,
// with every assets and applications event sent a second time to the second pipeline.
func TestArrivalOrderDoesNotMatter(t *testing.T) {
	w := newWorld(7, 60)
	now := date(2025, 12, 31)
	var all []worldEvent
	for _, wave := range w.waves {
		all = append(all, wave...)
	}
	want := expected(t, testPseudonymizer(t), all)

	a := startPipeline(t, newBroker(t), t.TempDir(), &clock{now: now})
	a.waitReady()
	for _, wave := range w.waves {
		w.send(t, a, wave)
	}
	gotA := waitFacts(t, a, want)

	b := startPipeline(t, newBroker(t), t.TempDir(), &clock{now: now})
	b.waitReady()
	var reversed []worldEvent
	for i := len(w.waves) - 1; i >= 0; i-- {
		reversed = append(reversed, w.waves[i]...)
	}
	w.send(t, b, reversed)
	// And every assets and applications event again: a resend changes nothing.
	var resent []worldEvent
	for _, e := range reversed {
		if e.feed == feed.Assets || e.feed == feed.Applications {
			resent = append(resent, e)
		}
	}
	w.send(t, b, resent)
	gotB := waitFacts(t, b, want)

	model := scorer.Default()
	compared := 0
	for _, id := range w.households {
		ha, hb := gotA[id], gotB[id]
		if ha.Score != hb.Score {
			t.Errorf("%s: score %.1f in order A, %.1f in order B", id, ha.Score, hb.Score)
		}
		if inBand(model, ha.Score) {
			continue
		}
		compared++
		if ha.Level != hb.Level {
			t.Errorf("%s: level %q in order A, %q in order B (score %.1f)", id, ha.Level, hb.Level, ha.Score)
		}
	}
	if compared < len(w.households)/2 {
		t.Errorf("only %d of %d households outside the hysteresis bands: the test compares too few levels", compared, len(w.households))
	}
	compareChecks(t, w, a, b)
}

// inBand reports a score in a level's hysteresis band, where the level depends on the past.
func inBand(m *scorer.Model, score float64) bool {
	for _, l := range []string{scorer.LevelWatch, scorer.LevelWarning, scorer.LevelUrgent} {
		if score >= m.ExitLine(l) && score < m.Threshold(l) {
			return true
		}
	}
	return false
}

// TestRestartMidStream stops the pipeline while it is processing, starts it again on the same
// state directory, and checks that the result equals an uninterrupted run: the same facts,
// scores, levels and episodes, and the same alert ids (no crossing missed, none invented).
func TestRestartMidStream(t *testing.T) {
	w := newWorld(11, 60)
	now := date(2025, 12, 31)
	var all []worldEvent
	for _, wave := range w.waves {
		all = append(all, wave...)
	}
	want := expected(t, testPseudonymizer(t), all)

	run := func(stopAfter int) (map[string]*household.Household, []string) {
		addr := newBroker(t)
		dir := t.TempDir()
		p := startPipeline(t, addr, dir, &clock{now: now})
		p.waitReady()
		for i, wave := range w.waves {
			w.send(t, p, wave)
			upTo := expected(t, testPseudonymizer(t), flatten(w.waves[:i+1]))
			if i == stopAfter {
				p.stop() // mid-wave: the monitor may be inside a batch
				p = startPipeline(t, addr, dir, &clock{now: now})
				p.waitReady()
			}
			waitFacts(t, p, upTo)
		}
		got := waitFacts(t, p, want)
		var ids []string
		for _, a := range allAlerts(t, addr) {
			ids = append(ids, a.AlertID)
		}
		sort.Strings(ids)
		return got, slices.Compact(ids)
	}
	refState, refAlerts := run(-1)
	gotState, gotAlerts := run(len(w.waves) / 2)
	if len(refAlerts) == 0 {
		t.Fatal("the reference run raised no alert: the test would prove nothing")
	}
	for _, id := range w.households {
		a, b := refState[id], gotState[id]
		ca, _ := household.CanonicalJSON(mustJSON(t, a))
		cb, _ := household.CanonicalJSON(mustJSON(t, b))
		if string(ca) != string(cb) {
			t.Errorf("%s differs after a restart:\nuninterrupted %s\nrestarted     %s", id, ca, cb)
		}
	}
	if !slices.Equal(refAlerts, gotAlerts) {
		t.Errorf("alert ids differ: %d uninterrupted, %d with a restart", len(refAlerts), len(gotAlerts))
	}
	t.Logf("%d households, %d alerts, identical after a restart", len(w.households), len(refAlerts))
}

func flatten(waves [][]worldEvent) []worldEvent {
	var out []worldEvent
	for _, w := range waves {
		out = append(out, w...)
	}
	return out
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
