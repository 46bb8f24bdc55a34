package monitor

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"safetynet/scorer"
	"safetynet/stream/feed"
	"safetynet/stream/household"
)

// Casework in the monitor: casework events apply to the household like its other events (in
// order, once, in the batch's transaction); the alert decision consults the household's snooze;
// alerts open, escalate and close cases; and the batch keeps the case index.

// applyCase applies a casework event to its household. An action that does not fit the case
// (unknown, closed) is dead-lettered with the field named; the note is never logged.
func (b *batch) applyCase(h *household.Household, e *feed.HouseholdEvent, msg kafka.Message) {
	changed, err := h.ApplyCase(e, CaseContext(b.model, h, e, b.now))
	if err != nil {
		b.w.logger.Info("casework event refused and sent to the dead-letter topic", "type", e.Type, "offset", msg.Offset, "err", err)
		b.dead = append(b.dead, feed.DeadLetter{
			Reason: feed.ReasonBadValue, Detail: err.Error(), Feed: feed.Casework,
			Source: feed.Source{Topic: msg.Topic, Partition: msg.Partition, Offset: msg.Offset},
			Key:    msg.Key, Value: msg.Value,
		}.Message(b.w.mo.cfg.Topics.DLQ, b.now))
		return
	}
	if changed {
		b.w.mo.metrics.CaseActions.WithLabelValues(e.Type).Inc()
		b.falseDeclaration(h, e)
		b.aidCases(h)
	}
}

func triggerCodes(ts []scorer.Trigger) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Code)
	}
	return out
}

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

// noteCase puts an alert on its case (opening, escalating or closing it) and marks the alert
// of a broken snooze.
func noteCase(m *scorer.Model, h *household.Household, al *household.Alert, broken string) {
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

// caseIndexer is where the case index is written: the batch's transaction, or a restore's batch.
type caseIndexer interface {
	IndexCase(opened time.Time, caseID string, v []byte) error
}

// indexCases writes the summaries of the household's cases to the case index.
func indexCases(ix caseIndexer, h *household.Household) error {
	if h.Casework == nil {
		return nil
	}
	for i := range h.Casework.Cases {
		c := &h.Casework.Cases[i]
		v, err := json.Marshal(h.CaseSummary(c))
		if err != nil {
			return fmt.Errorf("encode case summary: %w", err)
		}
		if err := ix.IndexCase(c.OpenedAt, c.ID, v); err != nil {
			return err
		}
	}
	return nil
}

// newCaseActions is safetynet_case_actions_total{type}: casework events applied (resends and
// refused actions not counted), every type from the start.
func newCaseActions(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "safetynet_case_actions_total", Help: "Casework actions applied to household state, by type (assign, visit, close).",
	}, []string{"type"})
	reg.MustRegister(c)
	for _, t := range feed.CaseTypes {
		c.WithLabelValues(t)
	}
	return c
}
