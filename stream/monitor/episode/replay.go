package episode

import (
	"time"

	"safetynet/scorer"
	"safetynet/stream/feed"
	"safetynet/stream/household"
)

// The monitor's decisions for callers that replay history outside the service (the backtest's
// replay over time): the same transition and casework rules a batch applies, without a store,
// metrics, withholding or publishing.

// Assess re-scores h under m at now and moves its episode as a batch's assessment does
// (transition, then the alert noted on the household's case); it returns the alert that would go
// out, or nil.
func Assess(m *scorer.Model, h *household.Household, now time.Time, cause household.Cause, eventTime time.Time) *household.Alert {
	return Decide(m, h, now, cause, eventTime, true, nil)
}

// Decide is the one assessment step of the monitor and of replays: score without reasons,
// move the episode (transition, which explains only an assessment that makes an alert), and
// note the alert on the household's case unless openCases is false (a backfill opens no case
// for the past). observe, when set, receives the score.
func Decide(m *scorer.Model, h *household.Household, now time.Time, cause household.Cause, eventTime time.Time, openCases bool, observe func(float64)) *household.Alert {
	sh := h.Scorer()
	a := scorer.Score(m, sh, now)
	if observe != nil {
		observe(a.Total)
	}
	al, snoozeBroken := Transition(m, h, a, func() scorer.Assessment { return scorer.Assess(m, sh, now) }, cause, eventTime)
	if al != nil && openCases {
		NoteCase(m, h, al, snoozeBroken)
	}
	return al
}

// CaseContext is what a casework event is applied with under m at now: the model's snooze
// settings and, for a visit that found no need, the triggers firing then.
func CaseContext(m *scorer.Model, h *household.Household, e *feed.HouseholdEvent, now time.Time) household.CaseContext {
	cx := household.CaseContext{Snooze: m.Casework().Snooze, FalseDeclarationExpiry: m.Declarations().FalseDeclarationExpiry}
	if e.Type == feed.CaseVisit && e.Case != nil && e.Case.VisitedAt != nil {
		cx.NextReview = NextReview(m, h, e)
	}
	if e.Type == feed.CaseVisit && e.Case != nil && e.Case.Outcome == feed.OutcomeNotNeeded {
		cx.Triggers = triggerCodes(scorer.Score(m, h.Scorer(), now).Triggers)
	}
	return cx
}
