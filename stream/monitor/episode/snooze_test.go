package episode

import (
	"bytes"
	"testing"
	"time"

	"safetynet/scorer"
	"safetynet/stream/feed"
	"safetynet/stream/household"
)

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// The snooze of a not_needed visit holds back raises at or below the visited level, and is
// broken by a trigger that did not fire at the visit, or by a score rise of the model's break
// points; the alert then says why. A level above the visited one is never held.
func TestSnoozeHoldsAndBreaks(t *testing.T) {
	m := scorer.Default()
	at := date(2026, 3, 1)
	snoozed := func() *household.Household {
		h := household.New("H-S", 0)
		h.Episode = 1
		h.Casework = &household.Casework{Snooze: &household.Snooze{Until: at.Add(90 * 24 * time.Hour), Level: scorer.LevelWarning,
			Score: 46, Triggers: []string{scorer.TriggerIncomeBelowStandard}, CaseID: "H-S-1"}}
		return h
	}
	none := func() scorer.Assessment { return scorer.Assessment{} }
	trig := func(codes ...string) []scorer.Trigger {
		var out []scorer.Trigger
		for _, c := range codes {
			out = append(out, scorer.Trigger{Code: c, Level: scorer.LevelWatch})
		}
		return out
	}
	for _, tc := range []struct {
		name       string
		a          scorer.Assessment
		wantStatus string
		wantBroken string
	}{
		{"rise within the band is held", scorer.Assessment{At: at.Add(time.Hour), Total: 50}, "", ""},
		{"a trigger already firing at the visit is held", scorer.Assessment{At: at.Add(time.Hour), Total: 50, Triggers: trig(scorer.TriggerIncomeBelowStandard)}, "", ""},
		{"a new trigger breaks it", scorer.Assessment{At: at.Add(time.Hour), Total: 47, Triggers: trig(scorer.TriggerNewSevereDisability)}, household.StatusRaised, household.SnoozeBrokenTrigger},
		{"a rise of 15 points breaks it", scorer.Assessment{At: at.Add(time.Hour), Total: 61, Triggers: nil}, household.StatusRaised, household.SnoozeBrokenScoreRise},
		{"above the visited level is not held", scorer.Assessment{At: at.Add(time.Hour), Total: 70}, household.StatusRaised, ""},
		{"after the snooze ends", scorer.Assessment{At: at.Add(91 * 24 * time.Hour), Total: 50}, household.StatusRaised, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := snoozed()
			al, snoozeBroken := Transition(m, h, tc.a, none, household.Cause{Kind: "event"}, tc.a.At)
			var status, broken string
			if al != nil {
				NoteCase(m, h, al, snoozeBroken)
				status, broken = al.Status, al.SnoozeBroken
			}
			if status != tc.wantStatus || broken != tc.wantBroken {
				t.Fatalf("got alert %q broken %q, want %q %q", status, broken, tc.wantStatus, tc.wantBroken)
			}
			if al == nil {
				if h.Open || h.Episode != 1 || h.Case("H-S-2") != nil {
					t.Errorf("a held raise opened episode %d (open %v) or a case", h.Episode, h.Open)
				}
				if !h.NextCheck.Equal(at.Add(90 * 24 * time.Hour)) {
					t.Errorf("next check %v, want the snooze's end", h.NextCheck)
				}
				return
			}
			if c := h.Case(feed.CaseID("H-S", al.Episode)); c == nil || c.Status != household.CaseOpen {
				t.Errorf("raise did not open a case: %+v", c)
			}
			if broken != "" && (h.Casework.Snooze != nil || !bytes.Contains([]byte(al.Summary), []byte("snooze"))) {
				t.Errorf("broken snooze still set (%+v) or not in the summary %q", h.Casework.Snooze, al.Summary)
			}
		})
	}
}
