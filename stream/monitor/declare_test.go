package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"safetynet/scorer/declare"
	"safetynet/stream/feed"
	"safetynet/stream/household"
	"safetynet/stream/kafkatest"
	"safetynet/stream/topics"
)

// kcatVerifications reads the whole verifications topic with the real kcat, as the agency's
// system would.
func kcatVerifications(t *testing.T, kcat, addr string) []household.Verification {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, kcat, "-b", addr, "-C", "-t", topics.Default().Verifications, "-o", "beginning", "-e", "-q", "-f", "%k\t%s\n").Output()
	if err != nil {
		t.Fatalf("kcat consume verifications: %v", err)
	}
	var vs []household.Verification
	for line := range strings.Lines(string(out)) {
		k, v, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "\t")
		if !ok {
			continue
		}
		var x household.Verification
		if err := json.Unmarshal([]byte(v), &x); err != nil {
			t.Fatalf("verification does not decode: %v: %s", err, v)
		}
		if x.HouseholdID != k {
			t.Errorf("verification keyed %q for household %q", k, x.HouseholdID)
		}
		vs = append(vs, x)
	}
	return vs
}

// waitVerifications polls the topic until ok holds for the verifications of application.
func waitVerifications(t *testing.T, kcat, addr, application string, ok func([]household.Verification) bool) []household.Verification {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var mine []household.Verification
	for time.Now().Before(deadline) {
		mine = mine[:0]
		for _, v := range kcatVerifications(t, kcat, addr) {
			if v.ApplicationID == application {
				mine = append(mine, v)
			}
		}
		if ok(mine) {
			return mine
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("verifications of %s: got %+v", application, mine)
	return nil
}

func codes(v household.Verification) []string {
	var out []string
	for _, d := range v.Discrepancies {
		out = append(out, d.Code+"/"+d.Source)
	}
	return out
}

func application(appID, applicant, hid string, at time.Time, members []rec, vehicles int, business bool) rec {
	return ev(feed.AppSubmitted, applicant, at, rec{"household_id": hid, "application_id": appID, "program": "dibao", "commitment_signed": true,
		"declared": rec{"members": members, "vehicles": vehicles, "properties": 0, "financial_assets": 0, "business_owner": business}})
}

// Stories of declarations through the pipeline, fed and read with kcat against a real broker
// and Badger: a truthful application is consistent; one that hides a wage, a car and a business
// gets those three discrepancies from their feeds; a wage that arrives after the check (dated
// before the application) re-runs it and a superseding verification names the first; a resent
// application publishes nothing new.
func TestDeclarationStories(t *testing.T) {
	kcat := kafkatest.Tool(t, "kcat", "kcat")
	addr := newBroker(t)
	c := &clock{now: date(2025, 6, 1)}
	p := startPipeline(t, addr, t.TempDir(), c)
	p.waitReady()
	tp := topics.Default()

	honestHead, honestSpouse := id(701, 1970), id(702, 1972)
	hidingHead, hidingSpouse := id(711, 1975), id(712, 1976)
	lateHead, lateSpouse := id(721, 1980), id(722, 1981)
	var registry []rec
	for _, m := range []struct{ person, hid, rel string }{
		{honestHead, "HH-HONEST", "head"}, {honestSpouse, "HH-HONEST", "spouse"},
		{hidingHead, "HH-HIDING", "head"}, {hidingSpouse, "HH-HIDING", "spouse"},
		{lateHead, "HH-LATE", "head"}, {lateSpouse, "HH-LATE", "spouse"},
	} {
		born, _ := time.Parse("20060102", m.person[6:14])
		registry = append(registry, joined(m.person, m.hid, born, "F", m.rel, date(2010, 1, 1)))
	}
	kcatProduce(t, kcat, addr, tp.Registry, registry)
	kcatProduce(t, kcat, addr, tp.Employment, []rec{
		ev("employed", honestHead, date(2024, 3, 1), rec{"monthly_wage": 3000}),
		ev("employed", hidingHead, date(2024, 9, 1), rec{"monthly_wage": 4200}),
	})
	kcatProduce(t, kcat, addr, tp.Assets, []rec{
		ev(feed.VehicleRegistered, hidingHead, date(2025, 2, 10), rec{"asset_id": "VEH-1", "value": 90000}),
		ev(feed.BusinessRegistered, hidingSpouse, date(2023, 5, 5), rec{"asset_id": "BIZ-1"}),
		ev(feed.DepositsReported, honestHead, date(2025, 4, 30), rec{"balance": 2500}),
	})
	for hid, n := range map[string]int{"HH-HONEST": 2, "HH-HIDING": 2, "HH-LATE": 2} {
		waitHousehold(t, p.store, hid, func(h *household.Household) bool {
			r := h.Records(date(2025, 5, 1))
			return len(r.Members) == n
		})
	}
	waitHousehold(t, p.store, "HH-HIDING", func(h *household.Household) bool {
		r := h.Records(date(2025, 5, 1))
		v, b, w := 0, 0, 0
		for _, m := range r.Members {
			v, b = v+len(m.Vehicles), b+len(m.Businesses)
			if m.Wage != nil {
				w++
			}
		}
		return v == 1 && b == 1 && w == 1
	})

	honestApp := application("APP-HONEST", honestHead, "HH-HONEST", date(2025, 5, 1),
		[]rec{{"person_id": honestHead, "monthly_income": 3050}, {"person_id": honestSpouse, "monthly_income": 0}}, 0, false)
	hidingApp := application("APP-HIDING", hidingHead, "HH-HIDING", date(2025, 5, 1),
		[]rec{{"person_id": hidingHead, "monthly_income": 0}, {"person_id": hidingSpouse, "monthly_income": 0}}, 0, false)
	lateApp := application("APP-LATE", lateHead, "HH-LATE", date(2025, 5, 1),
		[]rec{{"person_id": lateHead, "monthly_income": 0}, {"person_id": lateSpouse, "monthly_income": 0}}, 0, false)
	kcatProduce(t, kcat, addr, tp.Applications, []rec{honestApp, hidingApp, lateApp})

	honest := waitVerifications(t, kcat, addr, "APP-HONEST", func(vs []household.Verification) bool { return len(vs) == 1 })[0]
	if honest.Result != declare.CheckConsistent || len(honest.Discrepancies) != 0 || honest.HouseholdID != "HH-HONEST" ||
		honest.ModelVersion == "" || honest.Kind != household.VerificationCheck || honest.Program != "dibao" {
		t.Errorf("truthful application: %+v", honest)
	}
	hiding := waitVerifications(t, kcat, addr, "APP-HIDING", func(vs []household.Verification) bool { return len(vs) == 1 })[0]
	want := []string{"income_understated/employment", "vehicle_undeclared/assets", "business_undeclared/assets"}
	if hiding.Result != declare.CheckDiscrepancies || !slices.Equal(codes(hiding), want) {
		t.Fatalf("hiding application: %s %v, want discrepancies %v", hiding.Result, codes(hiding), want)
	}
	if d := hiding.Discrepancies[0]; d.Member != feed.Mask(hidingHead) || d.Declared != 0 || d.Found != 4200 || d.FactDate != "2024-09-01" || d.ZH == "" || d.EN == "" {
		t.Errorf("income discrepancy: %+v", d)
	}
	if d := hiding.Discrepancies[1]; d.FactDate != "2025-02-10" || d.Found != 1 {
		t.Errorf("vehicle discrepancy: %+v", d)
	}
	if d := hiding.Discrepancies[2]; d.Member != feed.Mask(hidingSpouse) {
		t.Errorf("business discrepancy: %+v", d)
	}
	raw, _ := json.Marshal(hiding)
	for _, person := range []string{hidingHead, hidingSpouse} {
		if strings.Contains(string(raw), person) {
			t.Errorf("verification holds a resident ID number: %s", raw)
		}
	}
	first := waitVerifications(t, kcat, addr, "APP-LATE", func(vs []household.Verification) bool { return len(vs) == 1 })[0]
	if first.Result != declare.CheckConsistent {
		t.Fatalf("late household before the wage: %+v", first)
	}

	// The employment agency's record of a wage the spouse had since March arrives in June.
	c.Set(date(2025, 6, 20))
	kcatProduce(t, kcat, addr, tp.Employment, []rec{ev("employed", lateSpouse, date(2025, 3, 1), rec{"monthly_wage": 2600})})
	late := waitVerifications(t, kcat, addr, "APP-LATE", func(vs []household.Verification) bool { return len(vs) == 2 })
	second := late[1]
	if second.Supersedes != first.VerificationID || second.VerificationID == first.VerificationID ||
		second.Result != declare.CheckDiscrepancies || !slices.Equal(codes(second), []string{"income_understated/employment"}) {
		t.Errorf("superseding verification: %+v (first %s)", second, first.VerificationID)
	}

	// A resent application and a wage dated after the application change nothing published.
	kcatProduce(t, kcat, addr, tp.Applications, []rec{hidingApp})
	kcatProduce(t, kcat, addr, tp.Employment, []rec{ev("employed", honestSpouse, date(2025, 6, 10), rec{"monthly_wage": 2000})})
	waitHousehold(t, p.store, "HH-HONEST", func(h *household.Household) bool {
		return h.Persons[keyOf(t, honestSpouse)] != nil && len(h.Persons[keyOf(t, honestSpouse)].Employment) == 1
	})
	time.Sleep(300 * time.Millisecond)
	byApp := map[string]int{}
	for _, v := range kcatVerifications(t, kcat, addr) {
		byApp[v.ApplicationID]++
	}
	if fmt.Sprint(byApp) != "map[APP-HIDING:1 APP-HONEST:1 APP-LATE:2]" {
		t.Errorf("verifications per application: %v", byApp)
	}
}
