package stream

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"safetynet/scorer"
)

// Alert statuses.
const (
	StatusRaised      = "raised"
	StatusEscalated   = "escalated"
	StatusDeescalated = "deescalated"
	StatusResolved    = "resolved"
)

// Alert is one message on the alert topic, keyed by household id. Subscribers deduplicate by
// AlertID: a re-sent alert carries the same id and the same content but for EmittedAt.
type Alert struct {
	AlertID       string                  `json:"alert_id"`
	HouseholdID   string                  `json:"household_id"`
	Status        string                  `json:"status"`
	Level         string                  `json:"level"`          // new level; "" when resolved
	PreviousLevel string                  `json:"previous_level"` // "" for none
	Episode       int                     `json:"episode"`
	Score         float64                 `json:"score"`
	Threshold     float64                 `json:"threshold"` // entry threshold of Level (of the previous level when resolved or dropping to none)
	Summary       string                  `json:"summary"`   // one line for a human
	Dimensions    []scorer.DimensionScore `json:"dimensions"`
	Reasons       []scorer.Reason         `json:"reasons"`
	Triggers      []scorer.Trigger        `json:"triggers,omitempty"`
	Cause         Cause                   `json:"cause"`
	ModelVersion  string                  `json:"model_version"`
	EventTime     time.Time               `json:"event_time"` // occurred_at of the triggering event, or the timer's due time
	AssessedAt    time.Time               `json:"assessed_at"`
	EmittedAt     time.Time               `json:"emitted_at"`
}

// Cause is what made the household be re-assessed: an event (with where it came from) or a timer.
type Cause struct {
	Kind      string `json:"kind"` // "event" or "timer"
	EventID   string `json:"event_id,omitempty"`
	Feed      string `json:"feed,omitempty"`
	Topic     string `json:"topic,omitempty"`     // the feed topic the event was first read from
	Partition int    `json:"partition,omitempty"` // partition of that feed topic
	Offset    int64  `json:"offset,omitempty"`    // offset in that feed topic
	// produced is the feed record's timestamp, for the produce-to-alert latency; not published.
	produced time.Time
}

// AlertID is deterministic: the same household, episode and transition give the same id.
func AlertID(householdID string, episode, seq int, status, level string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%d\x00%s\x00%s", householdID, episode, seq, status, level)
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// transition moves the household's episode to the new assessment and returns the alert it
// calls for, or nil. It is the only place alert statuses are decided:
//   - no open episode and a level reached: raised (a new episode);
//   - a higher level within the episode: escalated;
//   - a lower level (none included): deescalated;
//   - level none for the model's resolve_after without interruption: resolved (episode closed).
//
// a may come from scorer.Score (no reasons): the level needs only the total and the triggers.
// explain gives the assessment with its reasons, and is called only when an alert goes out.
func transition(m *scorer.Model, h *Household, a scorer.Assessment, explain func() scorer.Assessment, cause Cause, eventTime time.Time) *Alert {
	prev := h.Level
	level := m.Classify(a, prev)
	h.Level = level
	h.Score = a.Total
	h.AssessedAt = a.At

	var status string
	switch {
	case !h.Open && level != scorer.LevelNone:
		h.Episode++
		h.Open = true
		h.Seq = 0
		status = StatusRaised
	case h.Open && scorer.LevelRank(level) > scorer.LevelRank(prev):
		status = StatusEscalated
	case h.Open && scorer.LevelRank(level) < scorer.LevelRank(prev):
		status = StatusDeescalated
	}
	if h.Open && level == scorer.LevelNone {
		if h.BelowSince.IsZero() {
			h.BelowSince = a.At
		}
		if status == "" && !a.At.Before(h.BelowSince.Add(m.ResolveAfter())) {
			status = StatusResolved
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
	if status == "" {
		return nil
	}
	h.Seq++
	a = explain()
	thresholdLevel := level
	if level == scorer.LevelNone {
		thresholdLevel = prev
		if thresholdLevel == scorer.LevelNone {
			thresholdLevel = scorer.LevelWatch
		}
	}
	al := &Alert{
		AlertID:       AlertID(h.ID, h.Episode, h.Seq, status, level),
		HouseholdID:   h.ID,
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
	al.Summary = summarize(al, 3)
	return al
}

// summarize is the one line a caseworker reads: what changed, the score against its line (or
// the trigger that set the level), and the top reasons.
func summarize(a *Alert, top int) string {
	var b strings.Builder
	switch a.Status {
	case StatusResolved:
		fmt.Fprintf(&b, "RESOLVED household %s: score %s has stayed below the watch line; episode %d closed",
			a.HouseholdID, fmtScore(a.Score), a.Episode)
		return b.String()
	case StatusDeescalated:
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
