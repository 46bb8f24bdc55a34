package household

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"safetynet/scorer"
	"safetynet/scorer/declare"
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
	AreaCode      string                  `json:"area_code,omitempty"` // the household's (Household.AreaCode)
	Status        string                  `json:"status"`
	Level         string                  `json:"level"`          // new level; "" (JSON "none") when none
	PreviousLevel string                  `json:"previous_level"` // "" (JSON "none") for none
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
	// SnoozeBroken says why an alert went out while a no-need visit's snooze held: "trigger"
	// or "score_rise"; empty otherwise.
	SnoozeBroken string `json:"snooze_broken,omitempty"`
	// Eligibility has the reasons of an eligibility_review alert (StatusEligibilityReview).
	Eligibility []declare.EligibilityReason `json:"eligibility,omitempty"`
	EmittedAt   time.Time                   `json:"emitted_at"`
}

// Cause kinds.
const (
	CauseEvent       = "event"        // a feed event changed the household
	CauseTimer       = "timer"        // time alone changed the score
	CauseModelChange = "model_change" // re-scored under a new model (FromModel → ToModel)
	CauseBackfill    = "backfill"     // the end of a backfill announces the level history reached
	CauseAidCheck    = "aid_check"    // the check of a household receiving aid found it may have recovered
)

// Cause is what made the household be re-assessed: an event (with where it came from), a timer,
// a model change or the end of a backfill.
type Cause struct {
	Kind      string `json:"kind"` // one of the Cause* constants
	EventID   string `json:"event_id,omitempty"`
	Feed      string `json:"feed,omitempty"`
	Topic     string `json:"topic,omitempty"`     // the feed topic the event was first read from
	Partition int    `json:"partition,omitempty"` // partition of that feed topic
	Offset    int64  `json:"offset,omitempty"`    // offset in that feed topic
	// FromModel and ToModel are the model versions of a model_change: the one the stored level
	// was assessed with ("" for state from before versions were recorded) and the new one.
	FromModel string `json:"from_model,omitempty"`
	ToModel   string `json:"to_model,omitempty"`
	// Produced is the feed record's timestamp, for the produce-to-alert latency; not published.
	Produced time.Time `json:"-"`
}

// AlertID is deterministic: the same household, episode and transition give the same id.
func AlertID(householdID string, episode, seq int, status, level string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%d\x00%s\x00%s", householdID, episode, seq, status, level)
	return hex.EncodeToString(h.Sum(nil))[:32]
}
