package episode

import (
	"slices"
	"time"

	"safetynet/scorer"
	"safetynet/stream/feed"
	"safetynet/stream/household"
)

// The episode's side of casework: a snooze after a no-need visit holds back raises, alerts open,
// escalate and close cases, a backfill's announcements, and when aid granted on a visit is
// next reviewed.

// snoozeHolds decides a raised or escalated alert against the household's snooze: it holds the
// alert back when the snooze is running and the level is at or below the visited level, unless
// a trigger fires that did not at the visit, or the score rose by the model's break points; then
// the snooze ends and broken says why.
func snoozeHolds(m *scorer.Model, h *household.Household, level string, a scorer.Assessment) (hold bool, broken string) {
	if h.Casework == nil || h.Casework.Snooze == nil {
		return false, ""
	}
	s := h.Casework.Snooze
	if !a.At.Before(s.Until) || scorer.LevelRank(level) > scorer.LevelRank(s.Level) {
		h.Casework.Snooze = nil
		return false, ""
	}
	for _, t := range a.Triggers {
		if !slices.Contains(s.Triggers, t.Code) {
			h.Casework.Snooze = nil
			return false, household.SnoozeBrokenTrigger
		}
	}
	if a.Total >= s.Score+m.Casework().SnoozeBreakPoints {
		h.Casework.Snooze = nil
		return false, household.SnoozeBrokenScoreRise
	}
	return true, ""
}

// holdForSnooze is transition's hook: it returns the status to publish ("" when the snooze
// holds the alert back, undoing the new episode of a held raise) and why a snooze was broken.
// A held household re-checks when the snooze ends.
func holdForSnooze(m *scorer.Model, h *household.Household, status, level string, a scorer.Assessment) (string, string) {
	if status != household.StatusRaised && status != household.StatusEscalated {
		return status, ""
	}
	hold, broken := snoozeHolds(m, h, level, a)
	if !hold {
		return status, broken
	}
	if status == household.StatusRaised {
		h.Episode--
		h.Open = false
	}
	return "", ""
}

// snoozeTimer brings the household's next check forward to the end of a running snooze, so a
// household still at its level raises when the snooze ends.
func snoozeTimer(h *household.Household) {
	if h.Casework == nil || h.Casework.Snooze == nil || h.Level == scorer.LevelNone {
		return
	}
	if u := h.Casework.Snooze.Until; h.NextCheck.IsZero() || u.Before(h.NextCheck) {
		h.NextCheck = u
	}
}

// NoteCase puts an alert on its case (opening, escalating or closing it) and marks the alert
// of a broken snooze.
func NoteCase(m *scorer.Model, h *household.Household, al *household.Alert, broken string) {
	if broken != "" {
		al.SnoozeBroken = broken
		al.Summary += " (snooze after a no-need visit broken: " + map[string]string{
			household.SnoozeBrokenTrigger:   "a trigger fired",
			household.SnoozeBrokenScoreRise: "the score rose",
		}[broken] + ")"
	}
	h.NoteAlert(household.CaseAlertInfo{
		Alert:    household.CaseAlert{AlertID: al.AlertID, Status: al.Status, Level: al.Level, Score: al.Score, At: al.AssessedAt},
		Episode:  al.Episode,
		Triggers: triggerCodes(al.Triggers),
		DueBy:    m.VisitDue(al.Level, al.AssessedAt),
	})
}

func triggerCodes(ts []scorer.Trigger) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Code)
	}
	return out
}

// Announcement is the `raised` alert with cause backfill of a household the loaded history left
// at a level: the level it holds, the score and reasons of an assessment now.
func Announcement(m *scorer.Model, h *household.Household, now time.Time) *household.Alert {
	a := scorer.Assess(m, h.Scorer(), now)
	h.Seq++
	al := NewAlert(m, h, a, household.StatusRaised, h.Level, scorer.LevelNone, household.Cause{Kind: household.CauseBackfill}, now)
	NoteCase(m, h, al, "")
	return al
}

// NeedsAnnouncing: a household at a level that subscribers have not been told of.
func NeedsAnnouncing(h *household.Household) bool {
	return h.Level != "" && h.Open && len(h.Alerts) == 0
}

// NextReview is when aid a visit grants or continues is next due for review.
func NextReview(m *scorer.Model, h *household.Household, e *feed.HouseholdEvent) time.Time {
	program := e.Case.Program
	if e.Case.Outcome != feed.OutcomeAidGranted {
		a := h.ReceivingAid()
		if a == nil {
			return time.Time{}
		}
		program = a.Program
	}
	return m.Aid().ReviewDue(program, h.Scorer(), e.Case.VisitedAt.UTC())
}
