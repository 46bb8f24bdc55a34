package monitor

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"safetynet/scorer"
	"safetynet/state"
	"safetynet/stream/feed"
	"safetynet/stream/household"
)

// batch is one micro-batch of a partition being applied. Its stages run in order: apply the
// events and fire the due timers (each re-assesses its household), stage the outputs and the
// state in one store transaction, publish the outputs and wait for the broker (write-ahead),
// commit the transaction, then account for it (cache, gauges, metrics).
type batch struct {
	w     *worker
	tx    *state.Tx
	now   time.Time
	model *scorer.Model // read once at the start: a model swapped meanwhile applies from the next batch
	// quiet: the partition is backfilling, so assessments change state but make no alert
	// (and open no case).
	quiet bool
	// next is the household-events offset after the batch's last event (-1 for a batch of
	// timers only).
	next int64

	households map[string]*household.Household
	order      []string // the households loaded, in order
	was        []loaded // what each household of order was when loaded

	alerts    []*household.Alert
	alertMsgs []kafka.Message
	// verifications of declarations (declare.go), published with the alerts
	verifications    []*household.Verification
	verificationMsgs []kafka.Message
	changelog        []kafka.Message // a record per household of order, in order: its stored form
	dead             []kafka.Message
	// deadByFeed is the feed of each household_too_large letter, counted once committed.
	deadByFeed []string
	stats      state.PartitionStats
}

// process applies a batch: each event to its household, then re-assesses it; each due timer's
// household likewise. Then, in write-ahead order, it publishes the alerts, the changelog and the
// dead letters and waits for the broker's acknowledgement, and only then commits the households,
// timers and offset to the store in one transaction.
func (w *worker) process(ctx context.Context, msgs []kafka.Message, due []string, x extras) error {
	start := time.Now()
	b := &batch{
		w: w, tx: w.mo.store.Begin(), now: w.mo.cfg.Now(), next: -1, model: w.mo.Model(), quiet: x.quiet,
		households: map[string]*household.Household{},
	}
	defer b.tx.Discard()
	if n := len(msgs); n > 0 {
		b.next = msgs[n-1].Offset + 1
	}
	if err := b.applyEvents(msgs); err != nil {
		return err
	}
	if err := b.fireTimers(due); err != nil {
		return err
	}
	if err := b.extras(x); err != nil {
		return err
	}
	if err := b.stage(); err != nil {
		return err
	}
	if err := b.publish(ctx); err != nil {
		return err
	}
	if err := b.commit(); err != nil {
		return err
	}
	b.account(len(msgs), start)
	return nil
}

// load returns the household as this batch has it: from the batch, the cache or the store.
func (b *batch) load(id string) (*household.Household, error) {
	if h := b.households[id]; h != nil {
		return h, nil
	}
	v, cached := b.w.cache.get(id)
	if cached {
		b.w.mo.metrics.CacheHits.Inc()
	} else {
		b.w.mo.metrics.CacheMisses.Inc()
		var err error
		if v, err = b.tx.Household(id); err != nil {
			return nil, err
		}
	}
	var h *household.Household
	var was loaded
	if v == nil {
		h = household.New(id, b.w.partition)
	} else {
		// v is the store's fresh copy or the cache's, which nothing writes to
		var err error
		if h, err = household.DecodeImmutable(v); err != nil {
			return nil, err
		}
		was.existed = true
		if h.Casework != nil && len(h.Casework.Cases) > 0 {
			was.cases = make([]household.CaseSummary, len(h.Casework.Cases))
			for i := range h.Casework.Cases {
				was.cases[i] = h.CaseSummary(&h.Casework.Cases[i])
			}
		}
	}
	was.timer, was.level = h.NextCheck, h.Level
	b.households[id] = h
	b.order = append(b.order, id)
	b.was = append(b.was, was)
	return h, nil
}

// loaded is what a household was when the batch loaded it.
type loaded struct {
	existed bool      // the store held the household before this batch
	timer   time.Time // NextCheck, to move the timer index
	level   string
	// cases: the summaries of its cases, so that only the cases whose summary changed are
	// written to the case index again
	cases []household.CaseSummary
}

// applyEvents applies each event to its household and re-assesses the household when the event
// changed it. An event that cannot be applied is dead-lettered; the batch goes on.
func (b *batch) applyEvents(msgs []kafka.Message) error {
	// One event for the batch, decoded into again for each message (DecodeHouseholdEvent zeroes
	// it first): nothing keeps a pointer to it past its message, and the library's taking its
	// address put one on the heap per message.
	var e feed.HouseholdEvent
	for _, msg := range msgs {
		if err := feed.DecodeHouseholdEvent(msg.Value, &e); err != nil || e.V != feed.EventVersion || e.HouseholdID == "" {
			b.w.logger.Error("undecodable household event sent to the dead-letter topic; intake and monitor versions may differ",
				"offset", msg.Offset, "version", e.V)
			b.dead = append(b.dead, b.deadLetter(msg, "household event does not decode as version "+strconv.Itoa(feed.EventVersion)))
			continue
		}
		h, err := b.load(e.HouseholdID)
		if err != nil {
			return err
		}
		if e.Feed == feed.Casework {
			b.applyCase(h, &e, msg)
			continue
		}
		if b.overCap(h, &e, msg) {
			continue
		}
		changed, err := h.Apply(&e)
		if err != nil {
			b.dead = append(b.dead, b.deadLetter(msg, err.Error()))
			continue
		}
		if !changed {
			continue
		}
		b.checkDeclarations(h, &e)
		cause := household.Cause{Kind: "event", EventID: e.EventID, Feed: e.Feed, Topic: e.Source.Topic,
			Partition: e.Source.Partition, Offset: e.Source.Offset, Produced: e.ProducedAt}
		b.assess(h, cause, e.OccurredAt)
	}
	return nil
}

// deadLetter is the dead-letter record of a household event the monitor cannot apply.
func (b *batch) deadLetter(msg kafka.Message, detail string) kafka.Message {
	return b.dlqMessage(feed.DeadLetter{
		Reason: feed.ReasonBadInternalEvent, Detail: detail,
		Source: feed.Source{Topic: msg.Topic, Partition: msg.Partition, Offset: msg.Offset},
		Key:    msg.Key, Value: msg.Value,
	})
}

// fireTimers re-assesses the households whose timer is due.
func (b *batch) fireTimers(due []string) error {
	for _, id := range due {
		h, err := b.load(id)
		if err != nil {
			return err
		}
		if h.NextCheck.IsZero() || h.NextCheck.After(b.now) {
			continue // an event of this batch already re-assessed it
		}
		b.w.mo.metrics.TimersFired.Inc()
		cause := household.Cause{Kind: "timer"}
		if h.ModelVersion != "" && h.ModelVersion != b.model.Version {
			// The first assessment under a new model: what changes is the model's doing (the
			// re-scoring walk skips the household once this batch stores the new version).
			cause = household.Cause{Kind: household.CauseModelChange, FromModel: h.ModelVersion, ToModel: b.model.Version}
		}
		b.assess(h, cause, h.NextCheck)
	}
	return nil
}

// assess re-scores a household and records the alert its transition calls for. It scores
// without reasons; the explanation is written only for an assessment that makes an alert.
func (b *batch) assess(h *household.Household, cause household.Cause, eventTime time.Time) {
	al := decide(b.model, h, b.now, cause, eventTime, !b.quiet, b.w.mo.metrics.Scores.Observe)
	if al != nil && !b.withhold(al) {
		b.alerts = append(b.alerts, al)
	}
	b.aidCases(h)
}

// stage stamps the alerts, writes the households, moves their timers, and records the
// partition's counts and offset, all in the batch's transaction; and builds the alert and
// changelog records to publish. It does not index the alerts: the index /v1/alerts lists is
// cluster.AlertTable's, which every instance, this one too, builds from the alert topic.
func (b *batch) stage() error {
	emitted := b.w.mo.cfg.Now()
	b.alertMsgs = make([]kafka.Message, 0, len(b.alerts))
	for _, a := range b.alerts {
		a.EmittedAt = emitted
		v, err := a.MarshalJSON()
		if err != nil {
			return fmt.Errorf("encode alert: %w", err)
		}
		b.households[a.HouseholdID].AddAlertRef(household.AlertRef{AlertID: a.AlertID, Status: a.Status, Level: a.Level, Score: a.Score, EmittedAt: emitted})
		b.alertMsgs = append(b.alertMsgs, kafka.Message{Key: []byte(a.HouseholdID), Value: v, Time: emitted})
	}
	if err := b.stageVerifications(); err != nil {
		return err
	}
	b.stats = b.w.stats.Clone()
	b.changelog = make([]kafka.Message, 0, len(b.order))
	// Every changelog record of the batch carries the same next offset: one header for all
	// (kafka-go only reads it).
	var next []kafka.Header
	if b.next >= 0 {
		next = []kafka.Header{{Key: "next_offset", Value: strconv.AppendInt(nil, b.next, 10)}}
	}
	// The batch's households are encoded one after another into one slab, each value, and its
	// changelog key after it, a capped slice of it (the store and the changelog share the
	// value): one allocation for the batch, sized by the last one's, where a copy per
	// household was one each. A slab that grows leaves the slices before in its old array,
	// which nothing writes to again.
	slab := make([]byte, 0, b.w.slabHint)
	for i, id := range b.order {
		h, was := b.households[id], &b.was[i]
		start := len(slab)
		var err error
		slab, err = household.AppendEncode(slab, h, b.w.mo.cfg.StateFormat)
		if err != nil {
			return fmt.Errorf("encode household: %w", err)
		}
		v := slab[start:len(slab):len(slab)]
		slab = append(slab, id...)
		key := slab[start+len(v) : len(slab) : len(slab)]
		if err := b.tx.PutHousehold(id, v); err != nil {
			return err
		}
		if err := indexChangedCases(b.tx, h, was.cases); err != nil {
			return err
		}
		d, err := b.tx.MoveTimer(b.w.partition, id, was.timer, h.NextCheck)
		if err != nil {
			return err
		}
		b.stats.Timers += d
		if !was.existed {
			b.stats.Levels[household.LevelLabel(h.Level)]++
		} else if was.level != h.Level {
			b.stats.Levels[household.LevelLabel(was.level)]--
			b.stats.Levels[household.LevelLabel(h.Level)]++
		}
		b.changelog = append(b.changelog, kafka.Message{Key: key, Value: v, Partition: b.w.partition, Headers: next})
	}
	b.w.slabHint = min(len(slab)+len(slab)/8, maxSlabHint)
	if err := b.tx.SetStats(b.w.partition, b.stats); err != nil {
		return fmt.Errorf("write partition statistics: %w", err)
	}
	if b.next >= 0 {
		if err := b.tx.SetOffset(b.w.mo.cfg.Topics.HouseholdEvents, b.w.partition, b.next); err != nil {
			return fmt.Errorf("write offset: %w", err)
		}
	}
	return nil
}

// maxSlabHint bounds the slab a batch starts with: after an unusually large batch (a restore's,
// a backfill's) the next one does not reserve its size on a guess; a slab grows as it needs.
const maxSlabHint = 4 << 20

// publish is the write-ahead step: the broker acknowledges every output before the store
// records the batch. Alerts, verifications and dead letters go to different topics and are
// published at once; the changelog follows them.
func (b *batch) publish(ctx context.Context) error {
	mo, w := b.w.mo, b.w
	pctx, cancel := finishContext(ctx)
	defer cancel()
	// A batch retried after its commit failed produces the same alerts again (same ids): those
	// already acknowledged are not sent again, so a long store outage does not flood subscribers.
	fresh := b.alertMsgs[:0:0]
	for i, m := range b.alertMsgs {
		if !w.sent[b.alerts[i].AlertID] {
			fresh = append(fresh, m)
		}
	}
	freshV := b.verificationMsgs[:0:0]
	for i, m := range b.verificationMsgs {
		if !w.sentVerifications[b.verifications[i].VerificationID] {
			freshV = append(freshV, m)
		}
	}
	var g errgroup.Group
	g.Go(func() error {
		if err := mo.publish(pctx, mo.alerts, fresh); err != nil {
			return fmt.Errorf("publish %d alerts to %s: %w", len(fresh), mo.cfg.Topics.Alerts, err)
		}
		if w.sent == nil {
			w.sent = map[string]bool{}
		}
		for _, a := range b.alerts {
			w.sent[a.AlertID] = true
		}
		return nil
	})
	g.Go(func() error {
		if err := mo.publish(pctx, mo.verifications, freshV); err != nil {
			return fmt.Errorf("publish %d verifications to %s: %w", len(freshV), mo.cfg.Topics.Verifications, err)
		}
		if w.sentVerifications == nil {
			w.sentVerifications = map[string]bool{}
		}
		for _, v := range b.verifications {
			w.sentVerifications[v.VerificationID] = true
		}
		return nil
	})
	g.Go(func() error {
		if err := mo.publish(pctx, mo.dlq, b.dead); err != nil {
			return fmt.Errorf("publish %d dead letters to %s: %w", len(b.dead), mo.cfg.Topics.DLQ, err)
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return err
	}
	// The changelog only after the alerts: whoever restores or catches up from the changelog
	// resumes after the batch (its next_offset header), so the batch's alerts must be out first.
	if err := mo.publish(pctx, mo.changelog, b.changelog); err != nil {
		return fmt.Errorf("publish %d changelog records to %s: %w", len(b.changelog), mo.cfg.Topics.Changelog, err)
	}
	return nil
}

// commit records the batch in the store, after its outputs were acknowledged.
func (b *batch) commit() error {
	mo := b.w.mo
	var err error
	if fail := mo.failCommit.Load(); fail != nil {
		err = (*fail)()
	}
	if err == nil {
		err = b.tx.Commit()
	}
	if err != nil {
		mo.metrics.StateWriteErrors.Inc()
		return fmt.Errorf("commit state of partition %d (is the state directory writable and not full?): %w", b.w.partition, err)
	}
	return nil
}

// account updates what follows the store once the batch is committed: the cache, the
// partition's gauges, the metrics, and the OnAlert hook.
func (b *batch) account(events int, start time.Time) {
	w, mo := b.w, b.w.mo
	clear(w.sent)
	b.countDeadLetters()
	clear(w.sentVerifications)
	for i, id := range b.order {
		w.cache.put(id, b.changelog[i].Value) // copied into the cache's chunks
	}
	acked := time.Now()
	w.addGauges(w.stats, -1)
	w.stats = b.stats
	w.addGauges(w.stats, 1)
	mo.metrics.BatchSize.Observe(float64(events))
	mo.metrics.BatchDuration.Observe(time.Since(start).Seconds())
	for _, a := range b.alerts {
		mo.metrics.Alerts.WithLabelValues(a.Status, household.LevelLabel(a.Level)).Inc()
		if !a.EventTime.IsZero() && a.Cause.Kind == "event" {
			mo.metrics.EventToAlert.Observe(acked.Sub(a.EventTime).Seconds())
		}
		if !a.Cause.Produced.IsZero() {
			mo.metrics.ProduceToAlert.Observe(acked.Sub(a.Cause.Produced).Seconds())
		}
		if mo.cfg.OnAlert != nil {
			mo.cfg.OnAlert(*a)
		}
	}
}
