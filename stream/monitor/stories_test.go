package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"safetynet/stream/feed"
	"safetynet/stream/household"
	"safetynet/stream/topics"
	"slices"
	"strings"
	"testing"
	"time"

	"safetynet/scorer"
	"safetynet/stream/kafkatest"
)

// storyEvents turns a household fixture of the scorer's stories into the raw feed events partner
// agencies would have sent about it, per feed. Person n of the household gets a valid resident ID
// number built from its birth date.
func storyEvents(t *testing.T, h scorer.Household, hid string, seed int) (map[string][]rec, map[string]string) {
	t.Helper()
	out := map[string][]rec{}
	ids := map[string]string{} // member key → resident ID
	add := func(f string, e rec) { out[f] = append(out[f], e) }
	for i, m := range h.Members {
		person := withCheck(fmt.Sprintf("420106%s%03d", m.BirthDate.Format("20060102"), (seed*10+i)%1000))
		ids[m.Key] = person
		joinedAt := date(2005, 1, 1)
		if m.BirthDate.After(joinedAt) { // intake refuses a birth date after occurred_at
			joinedAt = m.BirthDate
		}
		add(feed.Registry, joined(person, hid, m.BirthDate, m.Sex, m.Relation, joinedAt))
		if m.Died != nil {
			add(feed.Registry, ev("died", person, *m.Died, rec{"household_id": hid}))
		}
		if e := m.Employment; e != nil {
			if e.Employed {
				add(feed.Employment, ev("employed", person, e.Since, rec{"monthly_wage": e.MonthlyWage}))
			} else {
				add(feed.Employment, ev("unemployed", person, e.Since, rec{"registered": e.Registered}))
			}
		}
		if p := m.Pension; p != nil {
			add(feed.Pension, ev("started", person, p.Since, rec{"monthly_amount": p.MonthlyAmount}))
		}
		if d := m.Disability; d != nil {
			add(feed.Disability, ev("registered", person, d.Since, rec{"grade": d.Grade, "kind": d.Kind}))
		}
		for _, a := range m.Admissions {
			add(feed.Hospital, ev("admitted", person, a.Admitted, rec{"admission_id": a.ID + "-" + hid, "icd10": a.ICD10, "critical_illness": a.CriticalIllness}))
			if a.Discharged != nil {
				add(feed.Hospital, ev("discharged", person, *a.Discharged, rec{"admission_id": a.ID + "-" + hid, "icd10": a.ICD10,
					"total_cost": a.TotalCost, "insured_cost": a.InsuredCost, "out_of_pocket": a.OutOfPocket}))
			}
		}
	}
	return out, ids
}

func loadStory(t *testing.T, file string) scorer.Household {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "scorer", "testdata", "stories", file))
	if err != nil {
		t.Fatal(err)
	}
	var h scorer.Household
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// kcatProduce sends events to topic with the real kcat, as a partner agency would, keyed by person.
func kcatProduce(t *testing.T, kcat, addr, topic string, events []rec) {
	t.Helper()
	var in bytes.Buffer
	for _, e := range events {
		v, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&in, "%s\t%s\n", e["person_id"], v)
	}
	cmd := exec.Command(kcat, "-b", addr, "-t", topic, "-P", "-K", "\t", "-X", "acks=all")
	cmd.Stdin = &in
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat produce to %s: %v: %s", topic, err, out)
	}
}

// kcatAlerts reads the whole alert topic with the real kcat, as a case-management system would.
func kcatAlerts(t *testing.T, kcat, addr string) []household.Alert {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, kcat, "-b", addr, "-C", "-t", topics.Default().Alerts, "-o", "beginning", "-e", "-q", "-f", "%k\t%s\n").Output()
	if err != nil {
		t.Fatalf("kcat consume alerts: %v", err)
	}
	var alerts []household.Alert
	for line := range strings.Lines(string(out)) {
		k, v, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "\t")
		if !ok {
			continue
		}
		var a household.Alert
		if err := json.Unmarshal([]byte(v), &a); err != nil {
			t.Fatalf("alert does not decode: %v: %s", err, v)
		}
		if a.HouseholdID != k {
			t.Errorf("alert keyed %q for household %q", k, a.HouseholdID)
		}
		alerts = append(alerts, a)
	}
	return alerts
}

// waitAlerts polls the alert topic with kcat until ok holds for the alerts of household.
func waitAlerts(t *testing.T, kcat, addr, hid string, ok func([]household.Alert) bool) []household.Alert {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var mine []household.Alert
	for time.Now().Before(deadline) {
		mine = mine[:0]
		for _, a := range kcatAlerts(t, kcat, addr) {
			if a.HouseholdID == hid {
				mine = append(mine, a)
			}
		}
		if ok(mine) {
			return mine
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("alerts of %s never reached the expected state; got:%s", hid, summaries(mine))
	return nil
}

// TestStoriesThroughThePipeline sends the scorer's stories as raw feed events with kcat, through
// intake and the monitor, and reads the alerts back with kcat.
func TestStoriesThroughThePipeline(t *testing.T) {
	kcat := kafkatest.Tool(t, "kcat", "kcat")
	addr := newBroker(t)
	at := date(2025, 6, 30)
	c := &clock{now: at}
	p := startPipeline(t, addr, t.TempDir(), c)
	p.waitReady()
	model := scorer.Default()

	send := func(events map[string][]rec) {
		// The registry first, so that intake can resolve every person at once.
		kcatProduce(t, kcat, addr, p.topics.Registry, events[feed.Registry])
		for _, f := range feed.Feeds[1:] {
			if len(events[f]) > 0 {
				kcatProduce(t, kcat, addr, p.topics.Feed(f), events[f])
			}
		}
	}
	lastOf := func(as []household.Alert) household.Alert { return as[len(as)-1] }

	tests := []struct {
		name, file, household string
		minLevel              string
		mustHave              []string // reason codes the alert must carry
		topDims               []string // dimensions among the top five reasons
	}{
		{"1 unemployed head admitted twice", "1-unemployed-nephritis.json", "S1", scorer.LevelWarning,
			[]string{"health.admissions", "employment.unemployed"}, []string{scorer.DimHealth, scorer.DimEmployment}},
		{"2 rural family, leukaemia", "2-rural-leukaemia.json", "S2", scorer.LevelWarning, []string{"trigger.critical_illness"}, nil},
		{"3 elderly alone, grade-1 disability", "3-elderly-alone-disabled.json", "S3", scorer.LevelWatch, []string{"disability.grade"}, nil},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := loadStory(t, tc.file)
			events, _ := storyEvents(t, h, tc.household, i+1)
			send(events)
			got := waitAlerts(t, kcat, addr, tc.household, func(as []household.Alert) bool {
				return len(as) > 0 && scorer.LevelRank(lastOf(as).Level) >= scorer.LevelRank(tc.minLevel)
			})
			last := lastOf(got)
			for _, code := range tc.mustHave {
				if !slices.ContainsFunc(last.Reasons, func(r scorer.Reason) bool { return r.Code == code }) {
					t.Errorf("alert lacks reason %s: %s", code, last.Summary)
				}
			}
			var dims []string
			for _, r := range last.Reasons[:min(5, len(last.Reasons))] {
				dims = append(dims, r.Dimension)
			}
			for _, d := range tc.topDims {
				if !slices.Contains(dims, d) {
					t.Errorf("top reasons %v lack %s", dims, d)
				}
			}
			// The monitor's view of the household equals the fixture: same total as the scorer.
			want := scorer.Assess(model, h, at)
			waitHousehold(t, p.store, tc.household, func(sh *household.Household) bool {
				return scorer.Assess(model, sh.Scorer(), at).Total == want.Total
			})
			// Alerts mark level changes: the score in the last one may be from a partial state
			// (events arrive in any order), but it is at or above the level's line or a trigger holds.
			if last.Score < last.Threshold && len(last.Triggers) == 0 {
				t.Errorf("alert at %s with score %.1f below its line %.1f and no trigger", last.Level, last.Score, last.Threshold)
			}
			t.Logf("alert: %s", last.Summary)
		})
	}

	t.Run("4 two earners: no alert", func(t *testing.T) {
		h := loadStory(t, "4-two-earners.json")
		events, _ := storyEvents(t, h, "S4", 4)
		send(events)
		sh := waitHousehold(t, p.store, "S4", func(sh *household.Household) bool {
			return len(sh.Scorer().Members) == len(h.Members) && sh.Score == scorer.Assess(model, h, at).Total
		})
		if sh.Level != scorer.LevelNone || sh.Score >= 20 {
			t.Fatalf("level %q score %.1f, want none below 20", sh.Level, sh.Score)
		}
		for _, a := range kcatAlerts(t, kcat, addr) {
			if a.HouseholdID == "S4" {
				t.Errorf("alert for a household in no hardship: %s", a.Summary)
			}
		}
	})

	t.Run("6 sole earner dies: main-earner trigger", func(t *testing.T) {
		h := loadStory(t, "6a-sole-earner.json")
		events, ids := storyEvents(t, h, "S6", 6)
		send(events)
		sh := waitHousehold(t, p.store, "S6", func(sh *household.Household) bool { return sh.Score == scorer.Assess(model, h, at).Total })
		if sh.Level != scorer.LevelNone {
			t.Fatalf("before the death: level %q, want none", sh.Level)
		}
		died := loadStory(t, "6b-sole-earner-died.json")
		for _, m := range died.Members {
			if m.Died != nil {
				kcatProduce(t, kcat, addr, p.topics.Registry, []rec{ev("died", ids[m.Key], *m.Died, rec{"household_id": "S6"})})
			}
		}
		got := waitAlerts(t, kcat, addr, "S6", func(as []household.Alert) bool { return len(as) > 0 })
		a := got[0]
		if a.Status != household.StatusRaised || scorer.LevelRank(a.Level) < scorer.LevelRank(scorer.LevelWatch) ||
			!slices.ContainsFunc(a.Triggers, func(tr scorer.Trigger) bool { return tr.Code == scorer.TriggerMainEarnerDeath }) {
			t.Fatalf("got %s %s triggers %v, want raised ≥ watch by main_earner_death", a.Status, a.Level, a.Triggers)
		}
		if a.Cause.Kind != "event" || a.Cause.Topic != p.topics.Registry {
			t.Errorf("cause %+v, want the registry event", a.Cause)
		}
	})

	t.Run("5 story 1 later, head back in work: back below watch", func(t *testing.T) {
		h := loadStory(t, "1-unemployed-nephritis.json")
		_, ids := storyEvents(t, h, "S1", 1)
		c.Set(date(2026, 7, 12))
		kcatProduce(t, kcat, addr, p.topics.Employment, []rec{ev("employed", ids["p-head"], date(2026, 6, 1), rec{"monthly_wage": 5000})})
		got := waitAlerts(t, kcat, addr, "S1", func(as []household.Alert) bool {
			return len(as) > 0 && lastOf(as).Status == household.StatusDeescalated && lastOf(as).Level == scorer.LevelNone
		})
		last := lastOf(got)
		if last.Level != scorer.LevelNone || last.Score >= model.Threshold(scorer.LevelWatch) {
			t.Fatalf("after recovery: %s (level %q score %.1f), want no level below %.0f", last.Summary, last.Level, last.Score, model.Threshold(scorer.LevelWatch))
		}
	})

	// No resident ID number in any alert.
	for _, a := range kcatAlerts(t, kcat, addr) {
		b, _ := json.Marshal(a)
		if residentIDPattern.Match(b) {
			t.Errorf("alert carries something like a resident ID number: %s", b)
		}
	}
}

// residentIDPattern matches anything shaped like an unmasked resident ID number.
var residentIDPattern = regexp.MustCompile(`\b[1-9]\d{5}(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\d{3}[\dXx]\b`)
