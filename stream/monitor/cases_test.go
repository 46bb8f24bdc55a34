package monitor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"reflect"
	"testing"
	"time"

	"safetynet/scorer"
	"safetynet/stream/feed"
	"safetynet/stream/household"
	"safetynet/stream/kafkatest"
)

// kcatCasework sends casework records with the real kcat, as an external case-management system
// would: JSON, keyed by household id.
func kcatCasework(t *testing.T, kcat, addr, topic string, records ...rec) {
	t.Helper()
	var in bytes.Buffer
	for _, r := range records {
		v, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&in, "%s\t%s\n", r["household_id"], v)
	}
	cmd := exec.Command(kcat, "-b", addr, "-t", topic, "-P", "-K", "\t", "-X", "acks=all")
	cmd.Stdin = &in
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat produce to %s: %v: %s", topic, err, out)
	}
}

func caseRec(id, typ, hid, caseID string, at time.Time, fields rec) rec {
	r := rec{"event_id": id, "type": typ, "household_id": hid, "case_id": caseID, "occurred_at": at.Format(time.RFC3339)}
	for k, v := range fields {
		r[k] = v
	}
	return r
}

// An alert opens a case; an external system's assign (sent twice) and not_needed visit, sent
// with kcat, apply once and close the case; the household is snoozed, so coming back to the
// visited level raises no alert; a restart from the changelog alone keeps the cases and the
// case index.
func TestCaseworkThroughThePipeline(t *testing.T) {
	kcat := kafkatest.Tool(t, "kcat", "kcat")
	addr := newBroker(t)
	t0 := date(2026, 1, 1)
	c := &clock{now: t0.Add(24 * time.Hour)}
	p := startPipeline(t, addr, t.TempDir(), c)
	a, b, k := id(41, 1985), id(42, 1987), id(43, 2015)
	const hid = "H-CASE"
	produce(t, addr, p.topics.Registry,
		joined(a, hid, date(1985, 3, 1), "M", "head", t0.AddDate(-5, 0, 0)),
		joined(b, hid, date(1987, 3, 1), "F", "spouse", t0.AddDate(-5, 0, 0)),
		joined(k, hid, date(2015, 3, 1), "F", "child", t0.AddDate(-5, 0, 0)))
	produce(t, addr, p.topics.Employment, ev("employed", b, t0.AddDate(-2, 0, 0), rec{"monthly_wage": 3500}))
	p.waitReady()
	waitHousehold(t, p.store, hid, func(h *household.Household) bool {
		return len(h.Persons) == 3 && h.Persons[keyOf(t, b)].Employment != nil
	})
	alerts := newAlertReader(t, addr)
	produce(t, addr, p.topics.Employment, ev("unemployed", a, t0, rec{"registered": true}))
	raised := alerts.waitFor("raise", func(a household.Alert) bool { return a.HouseholdID == hid && a.Status == household.StatusRaised })

	caseID := feed.CaseID(hid, raised.Episode)
	h := waitHousehold(t, p.store, hid, func(h *household.Household) bool { return h.Case(caseID) != nil })
	cs := h.Case(caseID)
	if cs.Status != household.CaseOpen || cs.Level != scorer.LevelWatch || cs.Kind != household.KindAlert {
		t.Fatalf("case after the raise: %+v", cs)
	}
	if want := c.Now().Add(30 * 24 * time.Hour); !cs.DueBy.Equal(want) {
		t.Errorf("due_by %v, want the watch deadline %v (30 days after it opened)", cs.DueBy, want)
	}
	if len(cs.Alerts) != 1 || cs.Alerts[0].AlertID != raised.AlertID {
		t.Errorf("case timeline alerts %+v, want the raise %s", cs.Alerts, raised.AlertID)
	}

	at := t0.Add(2 * time.Hour)
	visited := t0.Add(30 * time.Hour)
	assign := caseRec("cms-1", feed.CaseAssign, hid, caseID, at, rec{"assignee": "王芳", "actor": "supervisor-li"})
	kcatCasework(t, kcat, addr, p.topics.Casework, assign, assign) // a resend in the same batch
	waitHousehold(t, p.store, hid, func(h *household.Household) bool { return h.Case(caseID).Assignee == "王芳" })
	kcatCasework(t, kcat, addr, p.topics.Casework, assign, // resent later: the dedupe window drops it, the household would too
		caseRec("cms-2", feed.CaseVisit, hid, caseID, visited, rec{"visited_at": visited.Format(time.RFC3339),
			"outcome": "not_needed", "reason": "family_support", "note": "子女每月资助，暂不需要救助"}))
	h = waitHousehold(t, p.store, hid, func(h *household.Household) bool { return h.Case(caseID).Status == household.CaseClosed })
	cs = h.Case(caseID)
	if cs.ClosedAs != household.ClosedVisited || cs.Outcome != feed.OutcomeNotNeeded || cs.Reason != "family_support" {
		t.Errorf("closed case: %+v", cs)
	}
	if n := len(cs.Actions); n != 2 {
		t.Errorf("%d actions on the case, want 2 (the resent assign applied once): %+v", n, cs.Actions)
	}
	if s := h.Casework.Snooze; s == nil || s.Level != scorer.LevelWatch || !s.Until.Equal(visited.Add(90*24*time.Hour)) {
		t.Fatalf("snooze after a not_needed visit: %+v", s)
	}

	// Back in work: deescalated to no level. Out of work again: the level comes back to watch,
	// the visited level, within the snooze: no alert.
	c.Set(t0.Add(96 * time.Hour))
	produce(t, addr, p.topics.Employment, ev("employed", a, t0.Add(48*time.Hour), rec{"monthly_wage": 6000}))
	alerts.waitFor("deescalation", func(a household.Alert) bool { return a.HouseholdID == hid && a.Status == household.StatusDeescalated })
	produce(t, addr, p.topics.Employment, ev("unemployed", a, t0.Add(72*time.Hour), rec{"registered": true}))
	waitHousehold(t, p.store, hid, func(h *household.Household) bool {
		return h.Level == scorer.LevelWatch && h.Updated.Equal(t0.Add(72*time.Hour))
	})
	alerts.drain(500 * time.Millisecond)
	for _, al := range alerts.of(hid) {
		if al.Status == household.StatusEscalated || (al.Status == household.StatusRaised && al.AlertID != raised.AlertID) {
			t.Errorf("alert within the snooze at the visited level: %s", al.Summary)
		}
	}

	// The case index has the case; a restart with an empty state directory restores it.
	summaries := func(p *pipeline) []household.CaseSummary {
		var out []household.CaseSummary
		if err := p.store.Cases(nil, func(_, v []byte) bool {
			var s household.CaseSummary
			if err := json.Unmarshal(v, &s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
			return true
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	before := summaries(p)
	if len(before) != 1 || before[0].CaseID != caseID || before[0].Status != household.CaseClosed {
		t.Fatalf("case index: %+v", before)
	}
	p.stop()
	p2 := startPipeline(t, addr, t.TempDir(), c)
	p2.waitReady()
	h = waitHousehold(t, p2.store, hid, func(h *household.Household) bool { return h.Case(caseID) != nil })
	if got := h.Case(caseID); got.Status != household.CaseClosed || len(got.Actions) != 2 || h.Casework.Snooze == nil {
		t.Errorf("restored case: %+v, snooze %+v", got, h.Casework.Snooze)
	}
	after := summaries(p2)
	if len(after) != 1 || !reflect.DeepEqual(after[0], before[0]) {
		t.Errorf("restored case index %+v, want %+v", after, before)
	}
}
