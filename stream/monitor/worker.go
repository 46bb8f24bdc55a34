package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"safetynet/stream/feed"
	"safetynet/stream/household"
	"safetynet/stream/kafkaio"
	"slices"
	"strconv"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"safetynet/scorer"
	"safetynet/state"
)

// worker owns one partition of the household-events topic for one consumer-group generation:
// its households, timers and offset. Nothing else writes them while it runs.
type worker struct {
	mo        *Monitor
	partition int
	gen       *kafka.Generation
	logger    *slog.Logger

	stats state.PartitionStats // this partition's share of the gauges
	cache householdCache       // stored households of this partition, as committed
	// sent holds the ids of alerts acknowledged by the broker for a batch not yet committed.
	sent map[string]bool
}

const (
	// finishTimeout bounds how long a worker, told to stop, keeps trying to publish and persist
	// the batch it holds before giving it up (it is then processed again on restart).
	finishTimeout = 5 * time.Second
)

func (w *worker) run(ctx context.Context) {
	mo := w.mo
	topic := mo.cfg.Topics.HouseholdEvents
	mo.metrics.RestoreRemaining.WithLabelValues(strconv.Itoa(w.partition)).Set(0)
	var next int64
	var err error
	for b := kafkaio.NewBackoff(); ; {
		if next, err = w.startOffset(ctx); err == nil {
			break
		}
		reason := "cannot start: " + err.Error()
		mo.setStatus(w.partition, func(s *partitionStatus) { s.failing = reason })
		d := b.Next()
		w.logger.Error("cannot start the partition (read its offset or restore it from the changelog); retrying — check the brokers and the state directory",
			"err", err, "retry_in", d)
		if !kafkaio.Sleep(ctx, d) {
			return
		}
	}
	mo.setStatus(w.partition, func(s *partitionStatus) { s.failing = "" })
	w.stats, err = mo.store.Stats(w.partition)
	if err != nil {
		w.logger.Error("cannot read partition statistics", "err", err)
	}
	w.addGauges(w.stats, 1)
	defer func() { w.addGauges(w.stats, -1) }()

	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:        mo.cfg.Kafka.Brokers,
		Dialer:         mo.cfg.Kafka.Dialer(),
		Topic:          topic,
		Partition:      w.partition,
		MinBytes:       1,
		MaxBytes:       16 << 20,
		MaxWait:        100 * time.Millisecond,
		ReadBackoffMin: 50 * time.Millisecond,
		ReadBackoffMax: time.Second,
		QueueCapacity:  max(1000, 2*mo.cfg.BatchSize),
		ErrorLogger:    kafkaio.Logger(w.logger),
	})
	defer r.Close()
	if err := r.SetOffset(next); err != nil {
		w.logger.Error("cannot seek partition", "offset", next, "err", err)
		return
	}
	w.logger.Info("partition started", "offset", next, "households_by_level", w.stats.Levels, "timers", w.stats.Timers)
	// The group offset follows the store: a crash between the store commit and the group commit
	// would otherwise leave the lag wrong until the next event arrives.
	if next >= 0 {
		if err := w.gen.CommitOffsets(map[string]map[int]int64{topic: {w.partition: next}}); err != nil && ctx.Err() == nil {
			w.logger.Debug("commit group offset", "err", err)
		}
	}

	lagGauge := mo.cfg.Lag.WithLabelValues(topic, strconv.Itoa(w.partition))
	// Kafka's group offsets are for lag monitoring only (the store holds the truth): they are
	// committed at most every groupCommitEvery, and when the partition goes idle, not after every
	// batch, to keep a round trip off the event-to-alert path.
	committed, lastCommit := next, time.Now()
	commitGroup := func() {
		if next == committed || next < 0 {
			return
		}
		if err := w.gen.CommitOffsets(map[string]map[int]int64{topic: {w.partition: next}}); err != nil {
			if ctx.Err() == nil {
				w.logger.Debug("commit group offset", "err", err)
			}
			return
		}
		committed, lastCommit = next, time.Now()
	}
	for ctx.Err() == nil {
		// Wait up to the timer interval for a first event (an empty batch means idle: time to
		// check timers), then take what arrives within BatchWait, up to BatchSize.
		msgs, err := kafkaio.FetchBatch(ctx, r, mo.cfg.TimerInterval, mo.cfg.BatchWait, mo.cfg.BatchSize)
		if err != nil && ctx.Err() == nil {
			w.logger.Warn("fetch failed; retrying", "err", err)
		}
		if err != nil && len(msgs) == 0 {
			continue // the messages fetched before an error are still processed
		}
		due, err := mo.store.DueTimers(w.partition, mo.cfg.Now(), mo.cfg.BatchSize)
		if err != nil {
			w.logger.Warn("cannot read timers", "err", err)
		}
		if len(msgs) == 0 && len(due) == 0 {
			mo.setStatus(w.partition, func(s *partitionStatus) { s.caughtUp = true })
			lagGauge.Set(0)
			commitGroup()
			continue
		}
		if err := w.processWithRetry(ctx, msgs, due); err != nil {
			return // stopped while retrying: nothing of this batch was persisted
		}
		if n := len(msgs); n > 0 {
			last := msgs[n-1]
			next = last.Offset + 1
			lag := max(last.HighWaterMark-next, 0)
			lagGauge.Set(float64(lag))
			if lag == 0 {
				mo.setStatus(w.partition, func(s *partitionStatus) { s.caughtUp = true })
			}
			if time.Since(lastCommit) >= groupCommitEvery {
				commitGroup()
			}
		}
	}
	commitGroup()
}

// groupCommitEvery is the longest a partition under load leaves its group offset behind.
const groupCommitEvery = 500 * time.Millisecond

// startOffset is the next offset to read: from the store when it holds this partition, else
// restored from the changelog.
func (w *worker) startOffset(ctx context.Context) (int64, error) {
	next, found, err := w.mo.store.Offset(w.mo.cfg.Topics.HouseholdEvents, w.partition)
	if err != nil {
		return 0, err
	}
	if found {
		return next, nil
	}
	return w.restore(ctx)
}

// processWithRetry processes the batch until it succeeds. While it fails the partition is not
// ready and takes no new events; told to stop, it gives up the batch (nothing was persisted, so
// it is processed again by whoever owns the partition next).
func (w *worker) processWithRetry(ctx context.Context, msgs []kafka.Message, due []string) error {
	b := kafkaio.NewBackoff()
	for attempt := 1; ; attempt++ {
		err := w.process(ctx, msgs, due)
		if err == nil {
			if attempt > 1 {
				w.logger.Info("batch succeeded after retries; partition resumed", "attempts", attempt)
				w.mo.setStatus(w.partition, func(s *partitionStatus) { s.failing = "" })
			}
			return nil
		}
		reason := err.Error()
		w.mo.setStatus(w.partition, func(s *partitionStatus) { s.failing = reason })
		d := b.Next()
		w.logger.Error("batch failed; nothing acknowledged, retrying — see the error for what to fix",
			"err", err, "events", len(msgs), "attempt", attempt, "retry_in", d)
		if !kafkaio.Sleep(ctx, d) {
			return errStopped
		}
	}
}

// batch is one micro-batch being applied.
type batch struct {
	txn        *badger.Txn
	cache      *householdCache
	households map[string]*household.Household
	timerWas   map[string]time.Time // NextCheck when loaded, to move the timer index
	levelWas   map[string]string
	existed    map[string]bool // the store held the household before this batch
	order      []string
	alerts     []*household.Alert
	dead       []kafka.Message
}

func (b *batch) load(id string, partition int) (*household.Household, error) {
	if h := b.households[id]; h != nil {
		return h, nil
	}
	v, cached := b.cache.get(id)
	if !cached {
		var err error
		if v, err = state.GetIn(b.txn, state.HouseholdKey(id)); err != nil {
			return nil, fmt.Errorf("read household: %w", err)
		}
	}
	h := household.New(id, partition)
	var err error
	if v != nil {
		if h, err = household.Decode(v); err != nil {
			return nil, err
		}
		b.existed[id] = true
	}
	b.households[id] = h
	b.timerWas[id] = h.NextCheck
	b.levelWas[id] = h.Level
	b.order = append(b.order, id)
	return h, nil
}

// process applies a batch: each event to its household, then re-assesses it; each due timer's
// household likewise. Then, in write-ahead order, it publishes the alerts, the changelog and the
// dead letters and waits for the broker's acknowledgement, and only then commits the households,
// timers and offset to the store in one transaction.
func (w *worker) process(ctx context.Context, msgs []kafka.Message, due []string) error {
	mo := w.mo
	start := time.Now()
	txn := mo.store.DB().NewTransaction(true)
	defer txn.Discard()
	b := &batch{txn: txn, cache: &w.cache, households: map[string]*household.Household{}, timerWas: map[string]time.Time{}, levelWas: map[string]string{}, existed: map[string]bool{}}
	now := mo.cfg.Now()

	for _, msg := range msgs {
		var e feed.HouseholdEvent
		if err := feed.DecodeHouseholdEvent(msg.Value, &e); err != nil || e.V != feed.EventVersion || e.HouseholdID == "" {
			w.logger.Error("undecodable household event sent to the dead-letter topic; intake and monitor versions may differ",
				"offset", msg.Offset, "version", e.V)
			b.dead = append(b.dead, deadInternal(msg, "bad_internal_event", "household event does not decode as version "+strconv.Itoa(feed.EventVersion)))
			continue
		}
		h, err := b.load(e.HouseholdID, w.partition)
		if err != nil {
			return err
		}
		changed, err := h.Apply(&e)
		if err != nil {
			b.dead = append(b.dead, deadInternal(msg, "bad_internal_event", err.Error()))
			continue
		}
		if !changed {
			continue
		}
		cause := household.Cause{Kind: "event", EventID: e.EventID, Feed: e.Feed, Topic: e.Source.Topic,
			Partition: e.Source.Partition, Offset: e.Source.Offset, Produced: e.ProducedAt}
		w.assess(b, h, now, cause, e.OccurredAt)
	}
	for _, id := range due {
		h, err := b.load(id, w.partition)
		if err != nil {
			return err
		}
		if h.NextCheck.IsZero() || h.NextCheck.After(now) {
			continue // an event of this batch already re-assessed it
		}
		mo.metrics.TimersFired.Inc()
		w.assess(b, h, now, household.Cause{Kind: "timer"}, h.NextCheck)
	}

	// Stamp and index the alerts, then write the households and move their timers.
	emitted := mo.cfg.Now()
	alertMsgs := make([]kafka.Message, 0, len(b.alerts))
	for _, a := range b.alerts {
		a.EmittedAt = emitted
		v, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("encode alert: %w", err)
		}
		b.households[a.HouseholdID].AddAlertRef(household.AlertRef{AlertID: a.AlertID, Status: a.Status, Level: a.Level, Score: a.Score, EmittedAt: emitted})
		if err := txn.Set(state.AlertKey(emitted, a.AlertID), v); err != nil {
			return fmt.Errorf("index alert: %w", err)
		}
		alertMsgs = append(alertMsgs, kafka.Message{Key: []byte(a.HouseholdID), Value: v, Time: emitted})
	}
	stats := w.stats.Clone()
	changelog := make([]kafka.Message, 0, len(b.order))
	encoded := make([][]byte, 0, len(b.order))
	next := int64(-1)
	if n := len(msgs); n > 0 {
		next = msgs[n-1].Offset + 1
	}
	for _, id := range b.order {
		h := b.households[id]
		v, err := household.Encode(h)
		if err != nil {
			return fmt.Errorf("encode household: %w", err)
		}
		if err := txn.Set(state.HouseholdKey(id), v); err != nil {
			return fmt.Errorf("write household: %w", err)
		}
		encoded = append(encoded, v)
		if was := b.timerWas[id]; !was.Equal(h.NextCheck) {
			if !was.IsZero() {
				if err := txn.Delete(state.TimerKey(w.partition, was, id)); err != nil {
					return fmt.Errorf("move timer: %w", err)
				}
				stats.Timers--
			}
			if !h.NextCheck.IsZero() {
				if err := txn.Set(state.TimerKey(w.partition, h.NextCheck, id), nil); err != nil {
					return fmt.Errorf("move timer: %w", err)
				}
				stats.Timers++
			}
		}
		if !b.existed[id] {
			stats.Levels[household.LevelLabel(h.Level)]++
		} else if was := b.levelWas[id]; was != h.Level {
			stats.Levels[household.LevelLabel(was)]--
			stats.Levels[household.LevelLabel(h.Level)]++
		}
		cl := kafka.Message{Key: []byte(id), Value: v, Partition: w.partition}
		if next >= 0 {
			cl.Headers = []kafka.Header{{Key: "next_offset", Value: strconv.AppendInt(nil, next, 10)}}
		}
		changelog = append(changelog, cl)
	}
	if err := state.SetStats(txn, w.partition, stats); err != nil {
		return fmt.Errorf("write partition statistics: %w", err)
	}
	if next >= 0 {
		if err := state.SetOffset(txn, mo.cfg.Topics.HouseholdEvents, w.partition, next); err != nil {
			return fmt.Errorf("write offset: %w", err)
		}
	}

	// Write-ahead: the broker acknowledges every output before the store records the batch.
	pctx, cancel := finishContext(ctx)
	defer cancel()
	// A batch retried after its commit failed produces the same alerts again (same ids): those
	// already acknowledged are not sent again, so a long store outage does not flood subscribers.
	fresh := alertMsgs[:0:0]
	for i, m := range alertMsgs {
		if !w.sent[b.alerts[i].AlertID] {
			fresh = append(fresh, m)
		}
	}
	// The three outputs go to different topics: publish them at once, wait for all three.
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
		if err := mo.publish(pctx, mo.changelog, changelog); err != nil {
			return fmt.Errorf("publish %d changelog records to %s: %w", len(changelog), mo.cfg.Topics.Changelog, err)
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
	var err error
	if mo.failCommit != nil {
		err = mo.failCommit()
	}
	if err == nil {
		err = txn.Commit()
	}
	if err != nil {
		mo.metrics.StateWriteErrors.Inc()
		return fmt.Errorf("commit state of partition %d (is the state directory writable and not full?): %w", w.partition, err)
	}

	// Committed: account for it.
	clear(w.sent)
	for i, id := range b.order {
		w.cache.put(id, slices.Clip(bytes.Clone(encoded[i]))) // not the encoder's spare capacity
	}
	acked := time.Now()
	w.addGauges(w.stats, -1)
	w.stats = stats
	w.addGauges(w.stats, 1)
	mo.metrics.BatchSize.Observe(float64(len(msgs)))
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
	return nil
}

// assess re-scores a household and records the alert its transition calls for. It scores
// without reasons; the explanation is written only for an assessment that makes an alert.
func (w *worker) assess(b *batch, h *household.Household, now time.Time, cause household.Cause, eventTime time.Time) {
	m, sh := w.mo.model, h.Scorer()
	a := scorer.Score(m, sh, now)
	w.mo.metrics.Scores.Observe(a.Total)
	explain := func() scorer.Assessment { return scorer.Assess(m, sh, now) }
	if al := transition(m, h, a, explain, cause, eventTime); al != nil {
		b.alerts = append(b.alerts, al)
	}
}

// publish writes msgs and waits for the acknowledgement of all in-sync replicas.
func (mo *Monitor) publish(ctx context.Context, w *kafka.Writer, msgs []kafka.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		mo.metrics.PublishErrors.Inc()
		return err
	}
	return nil
}

// finishContext lets a batch in flight finish after ctx ends, for at most finishTimeout.
func finishContext(ctx context.Context) (context.Context, context.CancelFunc) {
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(finishTimeout, cancel) })
	return fctx, func() { stop(); cancel() }
}

// addGauges adds (sign 1) or removes (sign -1) a partition's counts from the gauges.
func (w *worker) addGauges(s state.PartitionStats, sign float64) {
	m := w.mo.metrics
	for level, n := range s.Levels {
		m.HouseholdsByLevel.WithLabelValues(level).Add(sign * float64(n))
	}
	m.TimersPending.Add(sign * float64(s.Timers))
}

// deadInternal is the dead-letter record of an internal message that cannot be applied.
func deadInternal(msg kafka.Message, reason, detail string) kafka.Message {
	return kafka.Message{Key: msg.Key, Value: msg.Value, Headers: []kafka.Header{
		{Key: "reason", Value: []byte(reason)},
		{Key: "detail", Value: []byte(detail)},
		{Key: "source_topic", Value: []byte(msg.Topic)},
		{Key: "source_partition", Value: strconv.AppendInt(nil, int64(msg.Partition), 10)},
		{Key: "source_offset", Value: strconv.AppendInt(nil, msg.Offset, 10)},
	}}
}

// householdCache keeps the stored form of a partition's recently used households, so that a
// household seen again is not read back from Badger. Only the partition's worker writes its
// households, and it puts a value here only after the store committed it, so the cache never
// holds what the store does not. It is bounded by count and by bytes (values and keys): past
// either bound it forgets about a tenth of its entries, chosen by map iteration order.
type householdCache struct {
	m     map[string][]byte
	bytes int
}

const (
	maxCachedHouseholds = 65536
	// maxCachedBytes holds the 32,500 households per partition of the benchmark's working set
	// (130,000 over 4 partitions, ~370 bytes each) and keeps a partition's cache near 16 MiB
	// when a million households pass through it.
	maxCachedBytes = 16 << 20
)

func (c *householdCache) get(id string) ([]byte, bool) {
	v, ok := c.m[id]
	return v, ok
}

func (c *householdCache) put(id string, v []byte) {
	if c.m == nil {
		c.m = make(map[string][]byte)
	}
	if old, ok := c.m[id]; ok {
		c.bytes -= len(id) + len(old)
	} else if len(c.m) >= maxCachedHouseholds || c.bytes+len(id)+len(v) > maxCachedBytes {
		n := max(len(c.m)/10, 1)
		for k, old := range c.m {
			delete(c.m, k)
			c.bytes -= len(k) + len(old)
			if n--; n == 0 {
				break
			}
		}
	}
	c.m[id] = v
	c.bytes += len(id) + len(v)
}
