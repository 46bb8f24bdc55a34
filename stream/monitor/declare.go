package monitor

import (
	"encoding/json"
	"fmt"

	"github.com/segmentio/kafka-go"

	"safetynet/stream/feed"
	"safetynet/stream/household"
)

// Declaration checks in the monitor: a submitted application is checked against the household's
// records as of its date; a later change dated on or before a checked submission re-runs the
// check within the model's re-check window, and a different result is published as a new
// verification that names the one it supersedes. Verifications are published in the batch's
// write-ahead step with the alerts, and recorded in the household state committed after it,
// so each is published once (a batch retried after a failed commit sends the same ids).

// checkDeclarations runs after an event changed h.
func (b *batch) checkDeclarations(h *household.Household, e *feed.HouseholdEvent) {
	if b.quiet { // a backfill publishes nothing for the past
		return
	}
	var ids []string
	if e.Feed == feed.Applications {
		if e.Type == feed.AppSubmitted && e.Application != nil {
			ids = []string{e.Application.ApplicationID}
		}
	} else {
		ids = h.RecheckDue(b.model, e.OccurredAt, b.now)
	}
	for _, id := range ids {
		if v := h.CheckApplication(b.model, id, b.now); v != nil {
			b.verifications = append(b.verifications, v)
			b.noteVerification(h, v)
		}
	}
}

// stageVerifications stamps the batch's verifications and builds their records.
func (b *batch) stageVerifications() error {
	emitted := b.w.mo.cfg.Now()
	b.verificationMsgs = make([]kafka.Message, 0, len(b.verifications))
	for _, v := range b.verifications {
		v.EmittedAt = emitted
		j, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode verification: %w", err)
		}
		b.verificationMsgs = append(b.verificationMsgs, kafka.Message{Key: []byte(v.HouseholdID), Value: j, Time: emitted})
	}
	return nil
}
