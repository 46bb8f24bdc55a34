package household

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"safetynet/stream/feed"
)

// nonZero fails the test when a field of v (a struct) is its zero value, so that a field added
// later cannot be left out of the sample and so of the codec's round trip.
func nonZero(t *testing.T, name string, v any) {
	t.Helper()
	rv := reflect.ValueOf(v)
	for i := range rv.NumField() {
		if rv.Field(i).IsZero() {
			t.Errorf("%s.%s is zero in the codec sample: set it so the round trip covers it", name, rv.Type().Field(i).Name)
		}
	}
}

func caseworkSample() *Casework {
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	v := at.Add(48 * time.Hour)
	c := Case{ID: "hh-1-2", Kind: KindAlert, Episode: 2, Level: "warning", Status: CaseClosed, Triggers: []string{"critical_illness"},
		OpenedAt: at, DueBy: at.Add(7 * 24 * time.Hour), Assignee: "wang", VisitedAt: v, Outcome: feed.OutcomeAidGranted,
		Program: "dibao", Reason: "family_support", ClosedAt: v, ClosedAs: ClosedVisited, CloseReason: "other",
		ApplicationID: "app-1", VerificationID: "v1", Month: "2025-03",
		Draw:   &Draw{Seed: "s", Month: "2025-03", Share: 0.05, Value: 0.01, Area: "420106"},
		Alerts: []CaseAlert{{AlertID: "a1", Status: StatusRaised, Level: "warning", Score: 50, At: at}},
		Actions: []CaseAction{{EventID: "cw-1", Type: feed.CaseVisit, At: v, CaseAction: feed.CaseAction{CaseID: "hh-1-2", Actor: "li",
			Assignee: "wang", VisitedAt: &v, Outcome: feed.OutcomeAidGranted, Program: "dibao", Reason: "x", Note: "家访"}}},
	}
	return &Casework{Cases: []Case{c},
		Snooze: &Snooze{Until: v.Add(90 * 24 * time.Hour), Level: "warning", Score: 50, Triggers: []string{"income_below_standard"}, CaseID: c.ID},
		Aid: &Aid{Program: "dibao", Since: v, CaseID: c.ID, ApplicationID: "app-1", ReviewFrom: v, ReviewDue: v.AddDate(1, 0, 0),
			Until: v.AddDate(2, 0, 0), EndedBy: "hh-1-r-2026-03"},
		SpotChecked: "2025-03"}
}

// The casework round-trips through the stored form, every field of it.
func TestCaseworkCodecRoundTrip(t *testing.T) {
	cw := caseworkSample()
	nonZero(t, "Casework", *cw)
	nonZero(t, "Case", cw.Cases[0])
	nonZero(t, "CaseAlert", cw.Cases[0].Alerts[0])
	nonZero(t, "CaseAction", cw.Cases[0].Actions[0])
	nonZero(t, "feed.CaseAction", cw.Cases[0].Actions[0].CaseAction)
	nonZero(t, "Snooze", *cw.Snooze)
	nonZero(t, "Aid", *cw.Aid)
	h := codecSample()
	h.Casework = cw
	b, err := Encode(h)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(h)
	have, _ := json.Marshal(got)
	if !bytes.Equal(have, want) {
		t.Errorf("round trip:\n got %s\nwant %s", have, want)
	}
	if _, err := Decode(b[:len(b)-3]); err == nil {
		t.Error("truncated casework decoded without error")
	}
}

func caseEvent(id, typ, caseID string, at time.Time, c feed.CaseAction) *feed.HouseholdEvent {
	c.CaseID = caseID
	return &feed.HouseholdEvent{V: 1, EventID: id, Feed: feed.Casework, Type: typ, HouseholdID: "hh-1", OccurredAt: at, Case: &c}
}

// A raised alert opens the case of its episode; an escalation raises its level and brings its
// due time forward; assign and a not_needed visit close it and snooze the household; an action
// applied twice changes nothing; actions on unknown or closed cases are refused.
func TestCaseLifecycle(t *testing.T) {
	at := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	h := New("hh-1", 0)
	h.Episode, h.Level, h.Score = 1, "watch", 35
	c := h.NoteAlert(CaseAlertInfo{Alert: CaseAlert{AlertID: "a1", Status: StatusRaised, Level: "watch", Score: 35, At: at},
		Episode: 1, DueBy: at.Add(30 * 24 * time.Hour)})
	if c == nil || c.ID != "hh-1-1" || c.Status != CaseOpen || c.Kind != KindAlert {
		t.Fatalf("case after raised: %+v", c)
	}
	h.NoteAlert(CaseAlertInfo{Alert: CaseAlert{AlertID: "a2", Status: StatusEscalated, Level: "warning", Score: 50, At: at.Add(time.Hour)},
		Episode: 1, DueBy: at.Add(time.Hour + 7*24*time.Hour)})
	c = h.Case("hh-1-1")
	if got, want := c.DueBy, at.Add(time.Hour+7*24*time.Hour); c.Level != "warning" || !got.Equal(want) || len(c.Alerts) != 2 {
		t.Fatalf("after escalation: level %s due %v (want %v), %d alerts", c.Level, got, want, len(c.Alerts))
	}
	h.Level, h.Score = "warning", 50
	cx := CaseContext{Snooze: 90 * 24 * time.Hour, Triggers: []string{"income_below_standard"}}
	if _, err := h.ApplyCase(caseEvent("e0", feed.CaseAssign, "hh-1-9", at, feed.CaseAction{Assignee: "wang"}), cx); !errors.Is(err, ErrUnknownCase) {
		t.Errorf("assign to an unknown case: %v, want ErrUnknownCase", err)
	}
	if ok, err := h.ApplyCase(caseEvent("e1", feed.CaseAssign, "hh-1-1", at.Add(2*time.Hour), feed.CaseAction{Assignee: "wang"}), cx); !ok || err != nil {
		t.Fatalf("assign: %v %v", ok, err)
	}
	if c := h.Case("hh-1-1"); c.Status != CaseAssigned || c.Assignee != "wang" {
		t.Errorf("after assign: %+v", c)
	}
	v := at.Add(50 * time.Hour)
	visit := caseEvent("e2", feed.CaseVisit, "hh-1-1", v, feed.CaseAction{VisitedAt: &v, Outcome: feed.OutcomeNotNeeded, Reason: "family_support"})
	if ok, err := h.ApplyCase(visit, cx); !ok || err != nil {
		t.Fatalf("visit: %v %v", ok, err)
	}
	if ok, err := h.ApplyCase(visit, cx); ok || err != nil {
		t.Errorf("visit applied twice: changed %v, err %v", ok, err)
	}
	c = h.Case("hh-1-1")
	if c.Status != CaseClosed || c.ClosedAs != ClosedVisited || c.Outcome != feed.OutcomeNotNeeded || len(c.Actions) != 2 {
		t.Errorf("after visit: %+v", c)
	}
	s := h.Casework.Snooze
	if s == nil || !s.Until.Equal(v.Add(90*24*time.Hour)) || s.Level != "warning" || s.Score != 50 {
		t.Errorf("snooze: %+v", s)
	}
	if _, err := h.ApplyCase(caseEvent("e3", feed.CaseClose, "hh-1-1", v, feed.CaseAction{Reason: "other"}), cx); !errors.Is(err, ErrCaseClosed) {
		t.Errorf("close a closed case: %v, want ErrCaseClosed", err)
	}
	// An escalation above the visited level reopens the case.
	h.NoteAlert(CaseAlertInfo{Alert: CaseAlert{AlertID: "a3", Status: StatusEscalated, Level: "urgent", Score: 70, At: v.Add(time.Hour)},
		Episode: 1, DueBy: v.Add(time.Hour + 72*time.Hour)})
	if c := h.Case("hh-1-1"); c.Status != CaseAssigned || c.Level != "urgent" {
		t.Errorf("after escalation past the visit: %+v", c)
	}
	// A case no one visited closes when its episode resolves.
	h.NoteAlert(CaseAlertInfo{Alert: CaseAlert{AlertID: "b1", Status: StatusRaised, Level: "watch", At: at}, Episode: 2})
	h.NoteAlert(CaseAlertInfo{Alert: CaseAlert{AlertID: "b2", Status: StatusResolved, At: at.Add(time.Hour)}, Episode: 2})
	if c := h.Case("hh-1-2"); c.Status != CaseClosed || c.ClosedAs != ClosedResolvedByData {
		t.Errorf("resolved episode's case: %+v", c)
	}
	// aid_granted marks the household as receiving aid.
	h.NoteAlert(CaseAlertInfo{Alert: CaseAlert{AlertID: "c1", Status: StatusRaised, Level: "warning", At: at}, Episode: 3})
	grant := caseEvent("e4", feed.CaseVisit, "hh-1-3", v, feed.CaseAction{VisitedAt: &v, Outcome: feed.OutcomeAidGranted, Program: "tekun"})
	if _, err := h.ApplyCase(grant, cx); err != nil {
		t.Fatal(err)
	}
	if a := h.Casework.Aid; a == nil || a.Program != "tekun" || !a.Since.Equal(v) {
		t.Errorf("aid: %+v", a)
	}
}
