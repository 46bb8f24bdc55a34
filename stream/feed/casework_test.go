package feed

import (
	"strings"
	"testing"
	"time"
)

func TestDecodeCasework(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	base := `"event_id":"cw-1","household_id":"H-1","case_id":"H-1-2","occurred_at":"2026-03-01T08:00:00+08:00"`
	for _, tc := range []struct {
		name, rec, reason, field string
	}{
		{"assign", `{` + base + `,"type":"assign","assignee":"王芳","actor":"li"}`, "", ""},
		{"visit aid", `{` + base + `,"type":"visit","visited_at":"2026-03-01T09:00:00+08:00","outcome":"aid_granted","program":"dibao","note":"家访，已申请低保"}`, "", ""},
		{"visit not needed", `{` + base + `,"type":"visit","visited_at":"2026-03-01T09:00:00+08:00","outcome":"not_needed","reason":"family_support"}`, "", ""},
		{"close", `{` + base + `,"type":"close","reason":"duplicate"}`, "", ""},
		{"unknown type", `{` + base + `,"type":"reopen"}`, ReasonUnknownType, "type"},
		{"no case id", `{"event_id":"cw-1","household_id":"H-1","occurred_at":"2026-03-01T08:00:00Z","type":"close","reason":"other"}`, ReasonMissingField, "case_id"},
		{"case of another household", `{"event_id":"cw-1","household_id":"H-2","case_id":"H-1-2","occurred_at":"2026-03-01T08:00:00Z","type":"close","reason":"other"}`, ReasonBadValue, "case_id"},
		{"assign without assignee", `{` + base + `,"type":"assign"}`, ReasonMissingField, "assignee"},
		{"bad outcome", `{` + base + `,"type":"visit","visited_at":"2026-03-01T09:00:00Z","outcome":"fine"}`, ReasonBadValue, "outcome"},
		{"aid without program", `{` + base + `,"type":"visit","visited_at":"2026-03-01T09:00:00Z","outcome":"aid_granted"}`, ReasonMissingField, "program"},
		{"bad program", `{` + base + `,"type":"visit","visited_at":"2026-03-01T09:00:00Z","outcome":"aid_granted","program":"cash"}`, ReasonBadValue, "program"},
		{"not needed without reason", `{` + base + `,"type":"visit","visited_at":"2026-03-01T09:00:00Z","outcome":"not_needed"}`, ReasonMissingField, "reason"},
		{"program on a referral", `{` + base + `,"type":"visit","visited_at":"2026-03-01T09:00:00Z","outcome":"referred","program":"dibao"}`, ReasonBadValue, "program"},
		{"visit in the future", `{` + base + `,"type":"visit","visited_at":"2026-03-09T09:00:00Z","outcome":"referred"}`, ReasonBadTime, "visited_at"},
		{"visit time malformed", `{` + base + `,"type":"visit","visited_at":"yesterday","outcome":"referred"}`, ReasonBadTime, "visited_at"},
		{"close without reason", `{` + base + `,"type":"close"}`, ReasonMissingField, "reason"},
		{"note too long", `{` + base + `,"type":"close","reason":"other","note":"` + strings.Repeat("长", MaxNoteRunes+1) + `"}`, ReasonBadValue, "note"},
		{"ID number in a note", `{` + base + `,"type":"close","reason":"other","note":"身份证 11010519491231002X 已核实"}`, ReasonBadValue, "note"},
		{"15-digit ID in a note", `{` + base + `,"type":"close","reason":"other","note":"old id 110105491231002"}`, ReasonBadValue, "note"},
		{"control characters in a note", `{` + base + `,"type":"close","reason":"other","note":"a\u0007b"}`, ReasonBadValue, "note"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := DecodeCasework([]byte(tc.rec), DefaultMaxEventBytes, DefaultMaxFutureSkew, now)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if ev.Feed != Casework || ev.HouseholdID != "H-1" || ev.Case == nil || ev.Case.CaseID != "H-1-2" || ev.PersonKey != "" {
					t.Errorf("event %+v", ev)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want %s on %s", tc.reason, tc.field)
			}
			if err.Reason != tc.reason || err.Field != tc.field {
				t.Errorf("got %s on %q (%s), want %s on %q", err.Reason, err.Field, err.Detail, tc.reason, tc.field)
			}
			if strings.Contains(err.Error(), "11010519491231002X") || strings.Contains(err.Error(), "110105491231002") {
				t.Errorf("error echoes the ID number: %v", err)
			}
		})
	}
}

// A casework event crosses the household-events topic and reads back whole.
func TestCaseworkEventRoundTrip(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ev, derr := DecodeCasework([]byte(`{"event_id":"cw-1","household_id":"H-1","case_id":"H-1-2","occurred_at":"2026-03-01T08:00:00Z","type":"visit","visited_at":"2026-03-01T09:00:00Z","outcome":"not_needed","reason":"moved_away","note":"<搬走了>"}`),
		0, DefaultMaxFutureSkew, now)
	if derr != nil {
		t.Fatal(derr)
	}
	b, err := AppendHouseholdEvent(nil, &ev)
	if err != nil {
		t.Fatal(err)
	}
	var got HouseholdEvent
	if err := DecodeHouseholdEvent(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Case == nil || !got.Case.VisitedAt.Equal(*ev.Case.VisitedAt) || got.Case.Note != "<搬走了>" || got.Case.Reason != "moved_away" {
		t.Errorf("read back %+v", got.Case)
	}
	if id, ep, ok := SplitCaseID("H-1-2"); !ok || id != "H-1" || ep != 2 {
		t.Errorf("SplitCaseID: %q %d %v", id, ep, ok)
	}
	for _, bad := range []string{"H", "H-", "H-0", "H-01", "-3"} {
		if _, _, ok := SplitCaseID(bad); ok {
			t.Errorf("SplitCaseID(%q) accepted", bad)
		}
	}
}
