package episode

import (
	"fmt"
	"safetynet/stream/household"
	"strconv"
	"strings"
	"time"

	"safetynet/scorer"
)

// Transition moves the household's episode to the new assessment and returns the alert it
// calls for, or nil. It is the only place alert statuses are decided:
//   - no open episode and a level reached: raised (a new episode);
//   - a higher level within the episode: escalated;
//   - a lower level (none included): deescalated;
//   - level none for the model's resolve_after without interruption: resolved (episode closed).
//
// a may come from scorer.Score (no reasons): the level needs only the total and the triggers.
// explain gives the assessment with its reasons, and is called only when an alert goes out.
func Transition(m *scorer.Model, h *household.Household, a scorer.Assessment, explain func() scorer.Assessment, cause household.Cause, eventTime time.Time) (al *household.Alert, snoozeBroken string) {
	prev := h.Level
	level := m.Classify(a, prev)
	h.Level = level
	h.Score = a.Total
	h.AssessedAt = a.At
	h.ModelVersion = a.ModelVersion

	var status string
	switch {
	case !h.Open && level != scorer.LevelNone:
		h.Episode++
		h.Open = true
		h.Seq = 0
		status = household.StatusRaised
	case h.Open && scorer.LevelRank(level) > scorer.LevelRank(prev):
		status = household.StatusEscalated
	case h.Open && scorer.LevelRank(level) < scorer.LevelRank(prev):
		status = household.StatusDeescalated
	}
	status, snoozeBroken = holdForSnooze(m, h, status, level, a)
	if h.Open && level == scorer.LevelNone {
		if h.BelowSince.IsZero() {
			h.BelowSince = a.At
		}
		if status == "" && !a.At.Before(h.BelowSince.Add(m.ResolveAfter())) {
			status = household.StatusResolved
			h.Open = false
			h.BelowSince = time.Time{}
		}
	} else {
		h.BelowSince = time.Time{}
	}
	h.NextCheck = a.NextChange
	if h.Open && level == scorer.LevelNone {
		resolveAt := h.BelowSince.Add(m.ResolveAfter())
		if h.NextCheck.IsZero() || resolveAt.Before(h.NextCheck) {
			h.NextCheck = resolveAt
		}
	}
	snoozeTimer(h)
	if status == "" {
		return nil, ""
	}
	h.Seq++
	return NewAlert(m, h, explain(), status, level, prev, cause, eventTime), snoozeBroken
}

// NewAlert is the alert of a household's transition to level (from prev) with status, numbered
// by the household's episode and sequence as they stand.
func NewAlert(m *scorer.Model, h *household.Household, a scorer.Assessment, status, level, prev string, cause household.Cause, eventTime time.Time) *household.Alert {
	thresholdLevel := level
	if level == scorer.LevelNone {
		thresholdLevel = prev
		if thresholdLevel == scorer.LevelNone {
			thresholdLevel = scorer.LevelWatch
		}
	}
	al := &household.Alert{
		AlertID:       household.AlertID(h.ID, h.Episode, h.Seq, status, level),
		HouseholdID:   h.ID,
		AreaCode:      h.AreaCode(),
		Status:        status,
		Level:         level,
		PreviousLevel: prev,
		Episode:       h.Episode,
		Score:         a.Total,
		Threshold:     m.Threshold(thresholdLevel),
		Dimensions:    a.Dimensions,
		Reasons:       a.Reasons,
		Triggers:      a.Triggers,
		Cause:         cause,
		ModelVersion:  a.ModelVersion,
		EventTime:     eventTime,
		AssessedAt:    a.At,
	}
	al.Summary = Summarize(al, 3)
	return al
}

// Summarize is the one line a caseworker reads: what changed, the score against its line (or
// the trigger that set the level), and the top reasons.
func Summarize(a *household.Alert, top int) string {
	var b strings.Builder
	switch a.Status {
	case household.StatusResolved:
		fmt.Fprintf(&b, "RESOLVED household %s: score %s has stayed below the watch line; episode %d closed",
			a.HouseholdID, fmtScore(a.Score), a.Episode)
		return b.String()
	case household.StatusDeescalated:
		fmt.Fprintf(&b, "%s household %s: %s → %s, score %s", strings.ToUpper(a.Status), a.HouseholdID,
			levelName(a.PreviousLevel), levelName(a.Level), fmtScore(a.Score))
	default:
		fmt.Fprintf(&b, "%s %s household %s: score %s", strings.ToUpper(a.Level), a.Status, a.HouseholdID, fmtScore(a.Score))
		if a.Score >= a.Threshold {
			fmt.Fprintf(&b, " (%s line %s)", a.Level, fmtScore(a.Threshold))
		} else {
			fmt.Fprintf(&b, " (below the %s line %s: level set by a trigger)", a.Level, fmtScore(a.Threshold))
		}
	}
	// Triggers first, then the largest contributions; a dimension reason that repeats a trigger's
	// fact (income below the standard) is left out.
	var parts []string
	triggered := map[string]bool{}
	for _, r := range a.Reasons {
		if r.Dimension == scorer.DimTrigger && r.EN != "" {
			parts = append(parts, "trigger: "+r.EN)
			triggered[r.Code] = true
		}
	}
	for _, r := range a.Reasons {
		if len(parts) >= top+len(triggered) {
			break
		}
		if r.Dimension == scorer.DimTrigger || r.EN == "" || r.Points == 0 {
			continue
		}
		if r.Code == "income.per_capita" && triggered["trigger."+scorer.TriggerIncomeBelowStandard] {
			continue
		}
		parts = append(parts, r.EN)
	}
	if len(parts) > 0 {
		b.WriteString(" — ")
		b.WriteString(strings.Join(parts, "; "))
	}
	return b.String()
}

func levelName(l string) string {
	if l == "" {
		return "no level"
	}
	return l
}

func fmtScore(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }
