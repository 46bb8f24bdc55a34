package monitor

import (
	"context"
	"errors"
	"log/slog"
	"safetynet/stream/kafkaio"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

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
	// sentVerifications likewise holds the ids of verifications acknowledged (declare.go).
	sentVerifications map[string]bool

	rescore  rescoreWalk     // re-scoring after a model change (rescore.go)
	backfill backfillState   // loading history without alerts (backfill.go)
	held     []kafka.Message // events read but held back while a backfill announces
	lastMark time.Time       // when the changelog position was last recorded (catchup.go)
	// slabHint is the capacity a batch's slab of encoded households starts with (batch.stage):
	// the last batch's size and an eighth, at most maxSlabHint.
	slabHint int
}

const (
	// finishTimeout bounds how long a worker, told to stop, keeps trying to publish and persist
	// the batch it holds before giving it up (it is then processed again on restart).
	finishTimeout = 5 * time.Second
)

func (w *worker) run(ctx context.Context) {
	mo := w.mo
	topic := mo.cfg.Topics.HouseholdEvents
	defer mo.workerStopped(w.partition)
	defer w.cache.release()
	mo.gate.claim(w.partition) // no standby copy is written under the worker (standby.go)
	defer mo.gate.release(w.partition)
	mo.metrics.RestoreRemaining.WithLabelValues(strconv.Itoa(w.partition)).Set(0)
	mo.metrics.RescoreRemaining.WithLabelValues(strconv.Itoa(w.partition)).Set(0)
	mo.metrics.BackfillRemaining.WithLabelValues(strconv.Itoa(w.partition)).Set(0)
	var next int64
	var err error
	for b := kafkaio.NewBackoff(); ; {
		if next, err = w.startOffset(ctx); err == nil {
			if err = w.startBackfill(next); err == nil {
				break
			}
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

	rc := mo.cfg.Kafka.PartitionReader(topic, w.partition, 100*time.Millisecond, 16<<20)
	rc.ReadBackoffMin, rc.ReadBackoffMax = kafkaio.ReadBackoffMin, time.Second
	rc.QueueCapacity = max(1000, 2*mo.cfg.BatchSize)
	rc.ErrorLogger = kafkaio.Logger(w.logger, mo.cfg.ReadTimeouts.WithLabelValues("monitor"))
	r := kafka.NewReader(rc)
	defer r.Close()
	if err := r.SetOffset(next); err != nil {
		w.logger.Error("cannot seek partition", "offset", next, "err", err)
		return
	}
	mo.workerStarted(w.partition)
	w.logger.Info("partition started", "offset", next, "households_by_level", w.stats.Levels, "timers", w.stats.Timers)
	// The group offset follows the store: a crash between the store commit and the group commit
	// would otherwise leave the lag wrong until the next event arrives.
	if next >= 0 {
		if err := w.gen.CommitOffsets(map[string]map[int]int64{topic: {w.partition: next}}); err != nil && ctx.Err() == nil {
			w.logger.Debug("commit group offset", "err", err)
		}
	}

	lagGauge := mo.cfg.Lag.WithLabelValues(topic, strconv.Itoa(w.partition))
	// A partition handed to another instance is its lag there: a value left here would be
	// the largest of the two after a rebalance (the rules take max by partition).
	defer mo.cfg.Lag.DeleteLabelValues(topic, strconv.Itoa(w.partition))
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
		// check timers), then take what arrives within BatchWait, up to BatchSize. Events held
		// back by a backfill's announcement come first, once it is done.
		var msgs []kafka.Message
		switch {
		case w.backfill.announcing:
		case len(w.held) > 0:
			msgs, w.held = w.held, nil
		default:
			wait := mo.cfg.TimerInterval
			if w.rescore.active || w.backfill.active {
				wait = min(wait, rescoreIdleWait)
			}
			var err error
			msgs, err = kafkaio.FetchBatch(ctx, r, wait, mo.cfg.BatchWait, mo.cfg.BatchSize)
			if err != nil && ctx.Err() == nil {
				w.logger.Warn("fetch failed; retrying", "err", err)
			}
			if err != nil && len(msgs) == 0 {
				continue // the messages fetched before an error are still processed
			}
		}
		var x extras
		if w.backfill.active {
			if msgs, x, err = w.planBackfill(msgs); err != nil {
				w.logger.Warn("cannot read the households to announce at the end of the backfill; retrying", "err", err)
				kafkaio.Sleep(ctx, time.Second)
				continue
			}
		}
		var due []string
		if !w.backfill.announcing {
			if due, err = mo.store.DueTimers(w.partition, mo.cfg.Now(), mo.cfg.BatchSize); err != nil {
				w.logger.Warn("cannot read timers", "err", err)
			}
			if x.rescore, err = w.nextRescore(); err != nil {
				w.logger.Warn("cannot read the households to re-score", "err", err)
			}
		}
		if len(msgs) == 0 && len(w.held) == 0 && !w.backfill.announcing {
			mo.setStatus(w.partition, func(s *partitionStatus) { s.caughtUp = true })
			lagGauge.Set(0)
			commitGroup()
			w.markChangelogIdle(ctx)
		}
		if len(msgs) == 0 && len(due) == 0 && x.empty() {
			continue
		}
		if err := w.processWithRetry(ctx, msgs, due, x); err != nil {
			return // stopped while retrying: nothing of this batch was persisted
		}
		if x.rescore != nil {
			w.rescoreDone(x.rescore)
		}
		if x.announce != nil {
			w.announceDone(x.announce)
		}
		if n := len(msgs); n > 0 {
			last := msgs[n-1]
			next = last.Offset + 1
			lag := max(last.HighWaterMark-next, 0)
			lagGauge.Set(float64(lag))
			if lag == 0 {
				mo.setStatus(w.partition, func(s *partitionStatus) { s.caughtUp = true })
			}
			if w.backfill.active {
				w.backfillProgress(next, last.HighWaterMark)
			}
			if time.Since(lastCommit) >= groupCommitEvery {
				commitGroup()
			}
		}
	}
	commitGroup()
	// Stopped between batches (a batch cut short returned above): everything published is
	// committed, so the changelog's end is this partition's position. Recording it here, not
	// only when idle for changelogMarkEvery, spares the next start a catch-up through what this
	// run wrote (a cold start on 1,000,000 households took 10 s to 100 s instead of 1 s when the
	// service was stopped right after a busy spell: docs/performance.md).
	fctx, cancel := finishContext(ctx)
	defer cancel()
	w.lastMark = time.Time{}
	w.markChangelogIdle(fctx)
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
		return w.catchUp(ctx, next)
	}
	return w.restore(ctx)
}

// processWithRetry processes the batch until it succeeds. While it fails the partition is not
// ready and takes no new events; told to stop, it gives up the batch (nothing was persisted, so
// it is processed again by whoever owns the partition next).
func (w *worker) processWithRetry(ctx context.Context, msgs []kafka.Message, due []string, x extras) error {
	b := kafkaio.NewBackoff()
	for attempt := 1; ; attempt++ {
		err := w.processSplitting(ctx, msgs, due, x)
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

// processSplitting processes a batch; one whose state does not fit in one store transaction
// (state.ErrTxnTooBig: a large SAFETYNET_BATCH_SIZE over households new to the store, whose
// values sit in the tree) is processed as two halves, in order, each with its own outputs and
// offset, and so on down. Nothing of a batch that failed this way was published or committed.
func (w *worker) processSplitting(ctx context.Context, msgs []kafka.Message, due []string, x extras) error {
	err := w.process(ctx, msgs, due, x)
	if !errors.Is(err, state.ErrTxnTooBig) {
		return err
	}
	switch {
	case len(msgs) > 1:
		h := len(msgs) / 2
		w.logger.Info("batch too large for one store transaction; applying it in two halves", "events", len(msgs))
		if err := w.processSplitting(ctx, msgs[:h], due, x); err != nil {
			return err
		}
		return w.processSplitting(ctx, msgs[h:], nil, extras{})
	case len(due) > 1:
		h := len(due) / 2
		w.logger.Info("timers too many for one store transaction; firing them in two halves", "timers", len(due))
		if err := w.processSplitting(ctx, msgs, due[:h], x); err != nil {
			return err
		}
		return w.processSplitting(ctx, nil, due[h:], extras{})
	}
	return err
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
