package monitor

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"safetynet/stream/feed"
	"safetynet/stream/household"
)

// A household holds at most Config.MaxMembers persons. Collective households (集体户: a
// dormitory, a care home) and agencies' placeholder household ids gather persons without end;
// an unbounded household would grow past the broker's record size limit, its changelog record
// would be refused, and its partition would stall. The cap keeps the worst-case stored state of
// a household (every person with every fact list full, every identifier at its longest) under
// kafkaio.MaxBatchBytes (household.MaxEncodedSize; docs/operations.md, "Record sizes").

func (c *Config) setMemberDefaults() {
	if c.MaxMembers <= 0 {
		c.MaxMembers = household.DefaultMaxMembers
	}
	if c.DeadLetters == nil {
		c.DeadLetters = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "safetynet_dead_letters_total"}, []string{"feed", "reason"})
	}
}

// overCap reports whether e would add a person to h beyond the cap; such an event is
// dead-lettered as household_too_large instead of applied, and the batch goes on. Events of the
// persons the household already holds are applied as usual.
func (b *batch) overCap(h *household.Household, e *feed.HouseholdEvent, msg kafka.Message) bool {
	max := b.w.mo.cfg.MaxMembers
	if _, held := h.Persons[e.PersonKey]; held || len(h.Persons) < max {
		return false
	}
	b.w.logger.Warn("household holds the most persons allowed: event dead-lettered as household_too_large",
		"household", e.HouseholdID, "feed", e.Feed, "offset", msg.Offset, "max_members", max)
	dl := feed.DeadLetter{
		Reason: feed.ReasonHouseholdTooLarge, Feed: e.Feed,
		Detail: fmt.Sprintf("household %s holds %d persons, the most allowed (SAFETYNET_MAX_HOUSEHOLD_MEMBERS); "+
			"event %s of person %s not applied", e.HouseholdID, len(h.Persons), e.EventID, e.PersonMasked),
		Source: e.Source,
		Key:    msg.Key, Value: msg.Value,
	}
	b.dead = append(b.dead, b.dlqMessage(dl))
	b.deadByFeed = append(b.deadByFeed, e.Feed)
	return true
}

// countDeadLetters counts the batch's household_too_large letters once the batch is committed.
func (b *batch) countDeadLetters() {
	for _, f := range b.deadByFeed {
		b.w.mo.cfg.DeadLetters.WithLabelValues(f, feed.ReasonHouseholdTooLarge).Inc()
	}
}

// dlqMessage is a dead letter as a record for the monitor's dead-letter writer, which names the
// topic itself (kafka-go refuses a record that names it too).
func (b *batch) dlqMessage(dl feed.DeadLetter) kafka.Message {
	m := dl.Message(b.w.mo.cfg.Topics.DLQ, b.now)
	m.Topic = ""
	return m
}
