package monitor

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"safetynet/internal/contracts"
	"safetynet/scorer"
	"safetynet/scorer/declare"
	"safetynet/stream/feed"
	"safetynet/stream/household"
	"safetynet/stream/kafkatest"
	"safetynet/stream/topics"
)

// Eligibility the other way, through the pipeline (kcat for the feeds and the casework, kfake,
// Badger, injected clock): a household receiving dibao whose head finds work above the exit line
// is not reviewed until its per-capita income has been above the line at the start of three
// months; then an eligibility case opens and an eligibility_review alert explains why in zh and
// en. Another household registers a car after its aid began: reviewed at once. A continued
// visit closes that case and the car does not reopen it; a terminated one ends the first aid.
func TestEligibilityReview(t *testing.T) {
	kcat := kafkatest.Tool(t, "kcat", "kcat")
	schemas, err := contracts.LoadSchemas("../../docs")
	if err != nil {
		t.Fatal(err)
	}
	addr := newBroker(t)
	c := &clock{now: date(2025, 2, 1)}
	p := startPipeline(t, addr, t.TempDir(), c)
	p.waitReady()
	tp := topics.Default()
	alerts := newAlertReader(t, addr)

	wHead, wSpouse := id(801, 1980), id(802, 1982)
	cHead := id(811, 1950)
	kcatProduce(t, kcat, addr, tp.Registry, []rec{
		joined(wHead, "HH-EL-WAGE", bornOf(wHead), "M", "head", date(2010, 1, 1)),
		joined(wSpouse, "HH-EL-WAGE", bornOf(wSpouse), "F", "spouse", date(2010, 1, 1)),
		joined(cHead, "HH-EL-CAR", bornOf(cHead), "F", "head", date(2010, 1, 1)),
	})
	decided := date(2025, 1, 10)
	var apps []rec
	for _, a := range []struct{ app, head, hid string }{{"APP-EL-1", wHead, "HH-EL-WAGE"}, {"APP-EL-2", cHead, "HH-EL-CAR"}} {
		apps = append(apps, application(a.app, a.head, a.hid, date(2024, 12, 20), nil, 0, false),
			ev(feed.AppDecided, a.head, decided, rec{"household_id": a.hid, "application_id": a.app, "program": "dibao", "decision": "approved", "monthly_benefit": 800}))
	}
	kcatProduce(t, kcat, addr, tp.Applications, apps)
	for _, hid := range []string{"HH-EL-WAGE", "HH-EL-CAR"} {
		waitHousehold(t, p.store, hid, func(h *household.Household) bool { return h.ReceivingAid() != nil })
	}

	// The head earns 5000 a month from March 5: 2500 per person, above the exit line (2000).
	line := scorer.Default().AidExitLine()
	c.Set(date(2025, 3, 10))
	kcatProduce(t, kcat, addr, tp.Employment, []rec{ev("employed", wHead, date(2025, 3, 5), rec{"monthly_wage": 5000})})
	// The car household: a vehicle registered on February 20, after the aid began.
	kcatProduce(t, kcat, addr, tp.Assets, []rec{ev(feed.VehicleRegistered, cHead, date(2025, 2, 20), rec{"asset_id": "VEH-EL-1", "value": 60000})})
	carCase := feed.EligibilityCaseID("HH-EL-CAR", date(2025, 3, 10))
	h := waitHousehold(t, p.store, "HH-EL-CAR", func(h *household.Household) bool { return h.Case(carCase) != nil })
	if cs := h.Case(carCase); cs.Kind != household.KindEligibility || cs.Status != household.CaseOpen ||
		!slices.Equal(cs.Triggers, []string{declare.EligVehicleRegistered}) || cs.Month != "2025-03" || cs.Program != "dibao" {
		t.Fatalf("car household's eligibility case: %+v", cs)
	}
	carAlert := alerts.waitFor("the car household's eligibility_review", func(a household.Alert) bool {
		return a.HouseholdID == "HH-EL-CAR" && a.Status == household.StatusEligibilityReview
	})
	if len(carAlert.Eligibility) != 1 || carAlert.Eligibility[0].Code != declare.EligVehicleRegistered ||
		!strings.Contains(carAlert.Eligibility[0].ZH, "新登记车辆") || !strings.Contains(carAlert.Eligibility[0].EN, "a vehicle registered") ||
		carAlert.Eligibility[0].FactDate != "2025-02-20" || carAlert.Cause.Kind != household.CauseAidCheck {
		t.Errorf("car eligibility alert: %+v", carAlert)
	}
	validate := func(a household.Alert) {
		t.Helper()
		b, _ := json.Marshal(a)
		if err := schemas.Validate("schemas/alert.schema.json", b); err != nil {
			t.Errorf("eligibility_review alert does not match the schema: %v\n%s", err, b)
		}
		for _, person := range []string{wHead, wSpouse, cHead} {
			if strings.Contains(string(b), person) {
				t.Error("alert holds a resident ID number")
			}
		}
	}
	validate(carAlert)

	// Income: above the line on April 1 and May 1 only — not yet.
	wageHousehold := func() *household.Household {
		return waitHousehold(t, p.store, "HH-EL-WAGE", func(*household.Household) bool { return true })
	}
	for _, at := range []time.Time{date(2025, 4, 1).Add(time.Hour), date(2025, 5, 1).Add(time.Hour)} {
		c.Set(at)
		waitHousehold(t, p.store, "HH-EL-WAGE", func(h *household.Household) bool { return !h.NextCheck.Before(at) })
		time.Sleep(200 * time.Millisecond)
		for _, cs := range wageHousehold().Casework.Cases {
			if cs.Kind == household.KindEligibility {
				t.Fatalf("eligibility case on %v, before three month starts above the line: %+v", at, cs)
			}
		}
	}
	// June 1: the third month start above the line.
	june := date(2025, 6, 1).Add(time.Hour)
	c.Set(june)
	wageCase := feed.EligibilityCaseID("HH-EL-WAGE", june)
	h = waitHousehold(t, p.store, "HH-EL-WAGE", func(h *household.Household) bool { return h.Case(wageCase) != nil })
	if cs := h.Case(wageCase); !slices.Equal(cs.Triggers, []string{declare.EligIncomeAboveExitLine}) || !cs.DueBy.Equal(june.Add(30*24*time.Hour)) {
		t.Errorf("income eligibility case: %+v", cs)
	}
	wageAlert := alerts.waitFor("the wage household's eligibility_review", func(a household.Alert) bool {
		return a.HouseholdID == "HH-EL-WAGE" && a.Status == household.StatusEligibilityReview
	})
	if r := wageAlert.Eligibility; len(r) != 1 || r[0].Months != 3 || r[0].Found != 2500 || r[0].Line != line ||
		!strings.Contains(r[0].ZH, "人均月收入连续 3 个月高于退出线") || !strings.Contains(r[0].EN, "per-capita income above the exit line (¥2000) for 3 months") {
		t.Errorf("income eligibility alert: %+v", wageAlert.Eligibility)
	}
	if !strings.Contains(wageAlert.Summary, "eligibility review") || !strings.Contains(wageAlert.Summary, "救助资格复核") {
		t.Errorf("summary %q", wageAlert.Summary)
	}
	validate(wageAlert)

	// Visits: the car household is found still eligible (continued); the wage household's aid
	// is terminated.
	visited := date(2025, 6, 3)
	c.Set(visited.Add(time.Hour))
	kcatCasework(t, kcat, addr, p.topics.Casework,
		caseRec("cms-el-1", feed.CaseVisit, "HH-EL-CAR", carCase, visited, rec{"visited_at": visited.Format(time.RFC3339), "outcome": feed.OutcomeContinued}),
		caseRec("cms-el-2", feed.CaseVisit, "HH-EL-WAGE", wageCase, visited, rec{"visited_at": visited.Format(time.RFC3339), "outcome": feed.OutcomeTerminated}))
	h = waitHousehold(t, p.store, "HH-EL-WAGE", func(h *household.Household) bool { return h.ReceivingAid() == nil })
	if a := h.Casework.Aid; a.EndedBy != wageCase || !a.Until.Equal(visited) {
		t.Errorf("terminated aid: %+v", a)
	}
	waitHousehold(t, p.store, "HH-EL-CAR", func(h *household.Household) bool { return h.Case(carCase).Status == household.CaseClosed })
	july := date(2025, 7, 1).Add(time.Hour)
	c.Set(july)
	waitHousehold(t, p.store, "HH-EL-CAR", func(h *household.Household) bool { return !h.NextCheck.Before(july) })
	time.Sleep(200 * time.Millisecond)
	h = waitHousehold(t, p.store, "HH-EL-CAR", func(*household.Household) bool { return true })
	if cs := h.Case(feed.EligibilityCaseID("HH-EL-CAR", july)); cs != nil {
		t.Errorf("the car seen at the visit reopened an eligibility review: %+v", cs)
	}
	n := 0
	for _, a := range alerts.alerts {
		if a.Status == household.StatusEligibilityReview {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d eligibility_review alerts, want 2", n)
	}
}
