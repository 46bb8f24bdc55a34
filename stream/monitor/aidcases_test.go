package monitor

import (
	"slices"
	"strings"
	"testing"
	"time"

	"safetynet/scorer"
	"safetynet/scorer/declare"
	"safetynet/stream/feed"
	"safetynet/stream/household"
	"safetynet/stream/kafkatest"
	"safetynet/stream/topics"
)

// A declaration that hides a car opens a verification case; the caseworker confirms the false
// declaration (sent with kcat as a case-management system would); the household records it with
// its expiry from the model, and a false_declaration verification naming the check and the case
// is published for the credit system. An explained case records nothing and publishes nothing.
func TestFalseDeclarationConfirmed(t *testing.T) {
	kcat := kafkatest.Tool(t, "kcat", "kcat")
	addr := newBroker(t)
	c := &clock{now: date(2025, 6, 1)}
	p := startPipeline(t, addr, t.TempDir(), c)
	p.waitReady()
	tp := topics.Default()

	carHead, carSpouse := id(731, 1975), id(732, 1976)
	okHead := id(741, 1970)
	var registry []rec
	for _, m := range []struct{ person, hid, rel string }{
		{carHead, "HH-CAR", "head"}, {carSpouse, "HH-CAR", "spouse"}, {okHead, "HH-EXPL", "head"},
	} {
		born, _ := time.Parse("20060102", m.person[6:14])
		registry = append(registry, joined(m.person, m.hid, born, "F", m.rel, date(2010, 1, 1)))
	}
	kcatProduce(t, kcat, addr, tp.Registry, registry)
	kcatProduce(t, kcat, addr, tp.Assets, []rec{
		ev(feed.VehicleRegistered, carSpouse, date(2025, 1, 10), rec{"asset_id": "VEH-7", "value": 120000}),
		ev(feed.VehicleRegistered, okHead, date(2025, 1, 10), rec{"asset_id": "VEH-8", "value": 30000}),
	})
	for hid, n := range map[string]int{"HH-CAR": 1, "HH-EXPL": 1} {
		waitHousehold(t, p.store, hid, func(h *household.Household) bool {
			v := 0
			for _, m := range h.Records(date(2025, 5, 1)).Members {
				v += len(m.Vehicles)
			}
			return v == n
		})
	}
	kcatProduce(t, kcat, addr, tp.Applications, []rec{
		application("APP-CAR", carHead, "HH-CAR", date(2025, 5, 1),
			[]rec{{"person_id": carHead, "monthly_income": 0}, {"person_id": carSpouse, "monthly_income": 0}}, 0, false),
		application("APP-EXPL", okHead, "HH-EXPL", date(2025, 5, 1), []rec{{"person_id": okHead, "monthly_income": 0}}, 0, false),
	})
	check := waitVerifications(t, kcat, addr, "APP-CAR", func(vs []household.Verification) bool { return len(vs) == 1 })[0]
	if check.Result != declare.CheckDiscrepancies {
		t.Fatalf("check: %+v", check)
	}
	caseID := feed.VerificationCaseID("HH-CAR", "APP-CAR")
	h := waitHousehold(t, p.store, "HH-CAR", func(h *household.Household) bool { return h.Case(caseID) != nil })
	cs := h.Case(caseID)
	if cs.Kind != household.KindVerification || cs.Status != household.CaseOpen || cs.VerificationID != check.VerificationID ||
		cs.ApplicationID != "APP-CAR" || !slices.Equal(cs.Triggers, []string{"vehicle_undeclared"}) || !cs.DueBy.Equal(c.Now().Add(30*24*time.Hour)) {
		t.Fatalf("verification case: %+v", cs)
	}
	explCase := feed.VerificationCaseID("HH-EXPL", "APP-EXPL")
	waitHousehold(t, p.store, "HH-EXPL", func(h *household.Household) bool { return h.Case(explCase) != nil })

	// An alert-case outcome does not fit a verification case: refused by intake, nothing applied.
	visited := date(2025, 6, 3)
	c.Set(date(2025, 6, 4))
	kcatCasework(t, kcat, addr, p.topics.Casework,
		caseRec("cms-fd-0", feed.CaseVisit, "HH-CAR", caseID, visited, rec{"visited_at": visited.Format(time.RFC3339), "outcome": "aid_granted", "program": "dibao"}),
		caseRec("cms-fd-1", feed.CaseVisit, "HH-CAR", caseID, visited, rec{"visited_at": visited.Format(time.RFC3339),
			"outcome": feed.OutcomeFalseDeclarationConfirmed, "actor": "caseworker-zhao"}),
		caseRec("cms-ex-1", feed.CaseVisit, "HH-EXPL", explCase, visited, rec{"visited_at": visited.Format(time.RFC3339),
			"outcome": feed.OutcomeExplained, "note": "车辆已于申请前出售，过户手续未完成"}))
	h = waitHousehold(t, p.store, "HH-CAR", func(h *household.Household) bool { return h.Case(caseID).Status == household.CaseClosed })
	cs = h.Case(caseID)
	if cs.Outcome != feed.OutcomeFalseDeclarationConfirmed || len(cs.Actions) != 1 {
		t.Errorf("closed verification case: %+v", cs)
	}
	fds := h.ActiveFalseDeclarations(c.Now())
	if len(fds) != 1 || fds[0].ApplicationID != "APP-CAR" || fds[0].CaseID != caseID || fds[0].VerificationID != check.VerificationID ||
		!fds[0].ConfirmedAt.Equal(visited) || !fds[0].ExpiresAt.Equal(visited.Add(scorer.Default().Declarations().FalseDeclarationExpiry)) {
		t.Fatalf("false declarations on the household: %+v", fds)
	}
	if len(h.ActiveFalseDeclarations(fds[0].ExpiresAt)) != 0 {
		t.Error("a false declaration is still active at its expiry")
	}
	vs := waitVerifications(t, kcat, addr, "APP-CAR", func(vs []household.Verification) bool { return len(vs) == 2 })
	fd := vs[1]
	if fd.Kind != household.VerificationFalseDeclaration || fd.Result != feed.OutcomeFalseDeclarationConfirmed ||
		fd.CheckID != check.VerificationID || fd.CaseID != caseID || !fd.ConfirmedAt.Equal(visited) || !fd.ExpiresAt.Equal(fds[0].ExpiresAt) ||
		!slices.Equal(fd.Codes, []string{"vehicle_undeclared"}) || fd.Program != "dibao" || fd.VerificationID == check.VerificationID {
		t.Errorf("false_declaration verification: %+v", fd)
	}
	for _, person := range []string{carHead, carSpouse} {
		if raw := strings.Join(codes(fd), ","); strings.Contains(raw, person) {
			t.Errorf("verification holds a resident ID number")
		}
	}
	he := waitHousehold(t, p.store, "HH-EXPL", func(h *household.Household) bool { return h.Case(explCase).Status == household.CaseClosed })
	if he.Case(explCase).Outcome != feed.OutcomeExplained || len(he.ActiveFalseDeclarations(c.Now())) != 0 {
		t.Errorf("explained case: %+v", he.Case(explCase))
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(waitVerifications(t, kcat, addr, "APP-EXPL", func([]household.Verification) bool { return true })); n != 1 {
		t.Errorf("%d verifications of the explained application, want its check only", n)
	}
}

// An approved application makes the household receive dibao; with a member of working age able
// to work its review is due six months after the decision; the household's timer opens the
// review case on that day (injected clock), not before; a continued review sets the next one, a
// terminated one ends the aid.
func TestReviewOpensOnDueDate(t *testing.T) {
	kcat := kafkatest.Tool(t, "kcat", "kcat")
	addr := newBroker(t)
	c := &clock{now: date(2025, 2, 1)}
	p := startPipeline(t, addr, t.TempDir(), c)
	p.waitReady()
	tp := topics.Default()
	head, old := id(751, 1980), id(752, 1940)
	const hid, hidOld = "HH-REVIEW", "HH-ELDER"
	kcatProduce(t, kcat, addr, tp.Registry, []rec{
		joined(head, hid, bornOf(head), "M", "head", date(2010, 1, 1)),
		joined(old, hidOld, bornOf(old), "F", "head", date(2010, 1, 1)),
	})
	decided := date(2025, 1, 10)
	kcatProduce(t, kcat, addr, tp.Applications, []rec{
		application("APP-R1", head, hid, date(2024, 12, 20), []rec{{"person_id": head, "monthly_income": 0}}, 0, false),
		ev(feed.AppDecided, head, decided, rec{"household_id": hid, "application_id": "APP-R1", "program": "dibao", "decision": "approved", "monthly_benefit": 800}),
		application("APP-R2", old, hidOld, date(2024, 12, 20), []rec{{"person_id": old, "monthly_income": 0}}, 0, false),
		ev(feed.AppDecided, old, decided, rec{"household_id": hidOld, "application_id": "APP-R2", "program": "dibao", "decision": "approved", "monthly_benefit": 800}),
	})
	h := waitHousehold(t, p.store, hid, func(h *household.Household) bool { return h.ReceivingAid() != nil && len(h.Scorer().Members) == 1 })
	if a := h.ReceivingAid(); a.Program != "dibao" || !a.Since.Equal(decided) || a.ApplicationID != "APP-R1" || !a.ReviewDue.Equal(date(2025, 7, 10)) {
		t.Fatalf("aid of a household with a member able to work: %+v", a)
	}
	ho := waitHousehold(t, p.store, hidOld, func(h *household.Household) bool { return h.ReceivingAid() != nil && len(h.Scorer().Members) == 1 })
	if a := ho.ReceivingAid(); !a.ReviewDue.Equal(date(2026, 1, 10)) {
		t.Fatalf("aid of an elderly household: review due %v, want 12 months after the decision", a.ReviewDue)
	}
	if h.NextCheck.IsZero() || h.NextCheck.After(date(2025, 7, 10)) {
		t.Errorf("timer %v: want at the latest the review date", h.NextCheck)
	}

	reviewID := feed.ReviewCaseID(hid, date(2025, 7, 10))
	if reviewID != hid+"-r-2025-07" {
		t.Fatalf("review case id %s", reviewID)
	}
	c.Set(date(2025, 7, 9))
	time.Sleep(400 * time.Millisecond) // timers run every 50 ms
	if h := waitHousehold(t, p.store, hid, func(*household.Household) bool { return true }); h.Case(reviewID) != nil {
		t.Fatalf("review opened before its due date: %+v", h.Case(reviewID))
	}
	due := date(2025, 7, 10).Add(time.Hour)
	c.Set(due)
	h = waitHousehold(t, p.store, hid, func(h *household.Household) bool { return h.Case(reviewID) != nil })
	cs := h.Case(reviewID)
	if cs.Kind != household.KindReview || cs.Status != household.CaseOpen || cs.Month != "2025-07" || cs.Program != "dibao" ||
		!cs.OpenedAt.Equal(due) || !cs.DueBy.Equal(due.Add(30*24*time.Hour)) {
		t.Errorf("review case: %+v", cs)
	}
	if ho := waitHousehold(t, p.store, hidOld, func(*household.Household) bool { return true }); ho.Case(feed.ReviewCaseID(hidOld, date(2026, 1, 10))) != nil {
		t.Error("the elderly household's review opened early")
	}

	visited := date(2025, 7, 15)
	c.Set(visited.Add(time.Hour))
	kcatCasework(t, kcat, addr, p.topics.Casework,
		caseRec("cms-rv-1", feed.CaseVisit, hid, reviewID, visited, rec{"visited_at": visited.Format(time.RFC3339), "outcome": feed.OutcomeContinued}))
	h = waitHousehold(t, p.store, hid, func(h *household.Household) bool { return h.Case(reviewID).Status == household.CaseClosed })
	if a := h.ReceivingAid(); a == nil || !a.ReviewDue.Equal(date(2026, 1, 15)) {
		t.Fatalf("aid after a continued review: %+v, want the next review six months after the visit", a)
	}
	next := feed.ReviewCaseID(hid, date(2026, 1, 15))
	c.Set(date(2026, 1, 15).Add(time.Minute))
	waitHousehold(t, p.store, hid, func(h *household.Household) bool { return h.Case(next) != nil })
	end := date(2026, 1, 20)
	c.Set(end.Add(time.Hour))
	kcatCasework(t, kcat, addr, p.topics.Casework,
		caseRec("cms-rv-2", feed.CaseVisit, hid, next, end, rec{"visited_at": end.Format(time.RFC3339), "outcome": feed.OutcomeTerminated}))
	h = waitHousehold(t, p.store, hid, func(h *household.Household) bool { return h.ReceivingAid() == nil })
	if a := h.Casework.Aid; !a.Until.Equal(end) || a.EndedBy != next || !a.ReviewDue.IsZero() {
		t.Errorf("terminated aid: %+v", a)
	}
}

// bornOf is the birth date in a resident ID number.
func bornOf(person string) time.Time {
	t, _ := time.Parse("20060102", person[6:14])
	return t
}
