package monitor

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"safetynet/scorer"
	"safetynet/stream/feed"
	"safetynet/stream/household"
	"safetynet/stream/monitor/episode"
)

// Casework in the monitor: casework events apply to the household like its other events (in
// order, once, in the batch's transaction); the alert decision consults the household's snooze;
// alerts open, escalate and close cases; and the batch keeps the case index.

// applyCase applies a casework event to its household. An action that does not fit the case
// (unknown, closed) is dead-lettered with the field named; the note is never logged.
func (b *batch) applyCase(h *household.Household, e *feed.HouseholdEvent, msg kafka.Message) {
	changed, err := h.ApplyCase(e, episode.CaseContext(b.model, h, e, b.now))
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

// caseIndexer is where the case index is written: the batch's transaction, or a restore's batch.
type caseIndexer interface {
	IndexCase(opened time.Time, caseID string, v []byte) error
}

// indexCases writes the summaries of all the household's cases to the case index.
func indexCases(ix caseIndexer, h *household.Household) error { return indexChangedCases(ix, h, nil) }

// indexChangedCases writes to the case index the summaries of the household's cases that are
// new or differ from was (the summaries when the batch loaded it): most events change no case,
// and rewriting every case of every household a batch touches was a JSON encoding and a store
// write per case and event.
func indexChangedCases(ix caseIndexer, h *household.Household, was []household.CaseSummary) error {
	if h.Casework == nil {
		return nil
	}
	for i := range h.Casework.Cases {
		c := &h.Casework.Cases[i]
		s := h.CaseSummary(c)
		if i < len(was) && was[i].Same(&s) {
			continue
		}
		v, err := json.Marshal(s)
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

// decide is batch.go's assessment step: episode.Decide.
func decide(m *scorer.Model, h *household.Household, now time.Time, cause household.Cause, eventTime time.Time, openCases bool, observe func(float64)) *household.Alert {
	return episode.Decide(m, h, now, cause, eventTime, openCases, observe)
}
