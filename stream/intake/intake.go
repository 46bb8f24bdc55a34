package intake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"safetynet/stream/feed"
	"safetynet/stream/kafkaio"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"safetynet/state"
)

// Intake turns feed records into canonical household events on the household-events topic, and
// every record it refuses into a dead-letter record. It runs three loops: the registry reader
// (the person→household table), the intake consumer group over the five feed topics, and the
// sweeper of parked events.
//
// Delivery: a record's group offset is committed only after its output (household event, dead
// letter, or parked copy in the store) is acknowledged, so a crash repeats work and never loses
// it; resends and repeats are dropped by event id within the dedupe window, and the monitor is
// idempotent for the rest.
type Intake struct {
	cfg     Config
	store   *state.Store
	pseud   *feed.Pseudonymizer
	metrics *Metrics
	log     *slog.Logger
	w       *kafka.Writer

	// parkMu orders the person-table lookups and parking of the intake group against the table
	// updates and releases of the registry reader and the sweeper, so that no event is parked
	// after its person's release has run.
	parkMu sync.Mutex
	// persons answers resolve's person→household look-ups from memory; guarded by parkMu.
	persons *personIndex
	// seen answers the resend check of new events from memory (seenfilter.go).
	seen *seenFilter
	// seenFromMemory and seenFromStore count the resend checks answered by the filter and by
	// the store (tests and benchmarks read them).
	seenFromMemory, seenFromStore atomic.Int64

	// Owned by the group's loop (handleBatch), reused from batch to batch.
	items       []item
	msgs        []kafka.Message
	keys        []byte
	enc         *feed.EventEncoder // the household events' values
	feedMetrics batchFeedMetrics
	inBatch     map[eventKey]struct{} // resolve's event ids of the batch, cleared after each
	// the batch's seen block (markForwarded): its marks, and its stored form
	seenBlock, seenSealed []byte
	// seenOverflowLogged: the warning that the resend memory's index is full was logged
	seenOverflowLogged bool
	// tombstoned counts, per parked key, the tombstones this instance wrote (released or
	// dead-lettered the event) that its parked reader has not read back yet; guarded by parkMu.
	tombstoned map[string]int

	caughtUp         atomic.Bool
	caughtUpCh       chan struct{}
	parkedCaughtUp   atomic.Bool   // the parked table has read the parked topic to its end at start
	parkedCaughtUpCh chan struct{} // closed with parkedCaughtUp
	readyCh          chan struct{} // closed once both the person and the parked table caught up
	seenLoadedCh     chan struct{} // closed once the resend memory is loaded (or its load failed)
	ownerUnknown     atomic.Bool   // a parked event was left unowned while the membership was unknown
	personsKnown     atomic.Int64
	parkedN          atomic.Int64
	parkedBytes      atomic.Int64 // store bytes of the parked events (keys and values)
}

// NewIntake checks cfg (filling defaults) and returns an intake ready to Run. A nil m gets a
// private registry; a nil logger discards.
func New(cfg Config, store *state.Store, pseud *feed.Pseudonymizer, m *Metrics, logger *slog.Logger) (*Intake, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if store == nil {
		return nil, errors.New("intake: no state store")
	}
	if pseud == nil {
		return nil, errors.New("intake: no pseudonymiser (a pseudonymisation key is required)")
	}
	if m == nil {
		m = NewMetrics(prometheus.NewRegistry())
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	i := &Intake{
		cfg: cfg, store: store, pseud: pseud, metrics: m,
		log:        logger.With("component", "intake"),
		w:          cfg.Kafka.Writer("", kafkaio.HouseholdBalancer()),
		caughtUpCh: make(chan struct{}), parkedCaughtUpCh: make(chan struct{}), readyCh: make(chan struct{}),
		seenLoadedCh: make(chan struct{}),
		persons:      newPersonIndex(), tombstoned: map[string]int{},
		seen: newSeenFilter(seenFilterBytes, cfg.DedupeWindow),
	}
	persons, err := store.CountPersons()
	if err != nil {
		return nil, err
	}
	if n, err := store.IndexParked(); err != nil {
		return nil, err
	} else if n > 0 {
		i.log.Info("indexed the parked events of an earlier build by time", "count", n)
	}
	parked, parkedBytes, err := store.ParkedUsage()
	if err != nil {
		return nil, err
	}
	i.personsKnown.Store(int64(persons))
	i.parkedN.Store(int64(parked))
	i.parkedBytes.Store(parkedBytes)
	m.PersonsKnown.Set(float64(persons))
	m.Parked.Set(float64(parked))
	m.RegistryLoaded.Set(0)
	return i, nil
}

// CaughtUp reports whether the person table has read every registry partition, and the parked
// table every parked partition, up to the end offsets they had when Run started (readiness).
func (i *Intake) CaughtUp() bool { return i.caughtUp.Load() && i.parkedCaughtUp.Load() }

// Run runs the registry reader, the intake consumer group and the park sweeper until ctx ends
// (then it returns nil) or one of them fails on something other than the broker (the store).
// Broker errors are logged and retried with backoff.
func (i *Intake) Run(ctx context.Context) error {
	defer func() {
		if err := i.w.Close(); err != nil {
			i.log.Warn("close the intake writer", "err", err)
		}
	}()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return i.runRegistry(gctx) })
	g.Go(func() error { return i.runParked(gctx) })
	g.Go(func() error {
		for _, ch := range []chan struct{}{i.caughtUpCh, i.parkedCaughtUpCh} {
			select {
			case <-gctx.Done():
				return nil
			case <-ch:
			}
		}
		close(i.readyCh)
		return nil
	})
	g.Go(func() error { return i.runMembership(gctx) })
	g.Go(func() error { return i.runGroup(gctx) })
	g.Go(func() error { return i.runSweeper(gctx) })
	g.Go(func() error {
		// Until the index is loaded, resolve asks the store; a failed load only keeps it so.
		t0 := time.Now()
		err := i.persons.load(i.store, &i.parkMu, gctx.Done())
		switch {
		case err == nil:
			i.log.Info("person index loaded", "took", time.Since(t0).Round(time.Millisecond))
		case !errors.Is(err, errLoadStopped):
			i.log.Warn("cannot load the person index; person look-ups go to the store", "err", err)
		}
		return nil
	})
	g.Go(func() error {
		// The group consumes once the resend memory is loaded: the seen blocks are found
		// through the index the load builds.
		defer close(i.seenLoadedCh)
		t0 := time.Now()
		n, bad, err := i.seen.load(i.store, gctx.Done())
		switch {
		case err == nil:
			i.log.Info("resend memory loaded", "event_ids", n, "took", time.Since(t0).Round(time.Millisecond))
			if bad > 0 {
				i.log.Warn("blocks of the resend memory are damaged and were left out: resends of their events are forwarded again, and the monitor applies each event once", "blocks", bad)
			}
		case !errors.Is(err, errLoadStopped):
			i.log.Warn("cannot load the resend memory; resends of events marked before this start may be forwarded again (the monitor applies each event once)", "err", err)
		}
		return nil
	})
	err := g.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// runGroup consumes the feed topics in the intake consumer group, once the person table has
// caught up (so that a cold start does not park everything) and the parked table has read the
// parked topic (so that the park bounds count every parked event).
func (i *Intake) runGroup(ctx context.Context) error {
	log := i.log.With("stage", "group", "group", i.cfg.GroupID)
	select {
	case <-ctx.Done():
		return nil
	case <-i.readyCh:
	}
	select {
	case <-ctx.Done():
		return nil
	case <-i.seenLoadedCh:
	}
	errLog := kafkaio.Logger(log, i.cfg.ReadTimeouts.WithLabelValues("intake"))
	group := kafkaio.Group{
		Config: kafka.ConsumerGroupConfig{
			ID: i.cfg.GroupID, Brokers: i.cfg.Kafka.Brokers, Dialer: i.cfg.Kafka.Dialer(), Topics: i.cfg.Topics.FeedTopics(),
			StartOffset: kafka.FirstOffset, HeartbeatInterval: 3 * time.Second, SessionTimeout: 30 * time.Second,
			RebalanceTimeout: 30 * time.Second, JoinGroupBackoff: time.Second, ErrorLogger: errLog,
		},
		Reader: func(topic string, partition int) kafka.ReaderConfig {
			rc := i.cfg.Kafka.PartitionReader(topic, partition, 250*time.Millisecond, 10<<20)
			rc.ReadBackoffMin, rc.ErrorLogger = kafkaio.ReadBackoffMin, errLog
			return rc
		},
		Window: batchWindow, Max: i.cfg.BatchSize, CommitEvery: commitEvery, Log: log,
	}
	log.Info("consuming the feeds", "topics", i.cfg.Topics.FeedTopics())
	// The outputs of a batch are acknowledged before its offsets are committed: a record whose
	// offset was not committed is read again after a restart or rebalance, and dropped as a resend.
	return group.Consume(ctx, i.handleBatch)
}

// eventKey identifies an event: its feed and event id.
type eventKey struct{ feed, event string }

// outcome of one feed record.
type outcome int

const (
	outForward outcome = iota
	outDeadLetter
	outDuplicate
	outPark
)

type item struct {
	msg  kafka.Message
	feed string
	fm   *feedCounts
	// seenHash is the resend filter's hash of (feed, event id); maybeSeen is false when the
	// filter rules out that the event was seen (seenFilter.screen).
	seenHash  uint64
	maybeSeen bool
	ev        feed.HouseholdEvent
	dl        *feed.DecodeError
	out       outcome
}

// handleBatch decodes, dedupes, resolves and routes a batch of feed records, and returns once
// every output is acknowledged (by the broker, or by the store for parked events).
func (i *Intake) handleBatch(ctx context.Context, batch []kafka.Message) error {
	now := i.cfg.Now()
	// The slices of the last batch are reused: the group's loop handles one batch at a time.
	items := i.batchItems(len(batch))
	defer clear(items) // drop the references to this batch's records
	fm := &i.feedMetrics
	for n, m := range batch {
		it := &items[n]
		it.msg = m
		name, ok := i.cfg.Topics.FeedOf(m.Topic)
		if !ok { // cannot happen: the group reads the feed topics only
			name = m.Topic
		}
		it.feed = name
		it.fm = fm.of(name, i.metrics)
		it.fm.in++
		ev, derr := i.decode(name, m.Value, now)
		if derr != nil {
			it.out, it.dl = outDeadLetter, derr
			continue
		}
		it.ev = ev
		it.ev.Source = feed.Source{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset}
		it.ev.ProducedAt = m.Time
		it.ev.IngestedAt = now
	}
	fm.counted(now)

	if err := i.resolve(ctx, items, now); err != nil {
		return err
	}

	msgs := i.msgs[:0]
	defer func() { i.msgs = msgs[:0:cap(msgs)]; clear(msgs[:cap(msgs)]) }()
	keys := i.keys[:0]
	if i.enc == nil {
		i.enc = feed.NewEventEncoder()
	}
	i.enc.Reset() // the last batch's records are acknowledged
	for n := range items {
		it := &items[n]
		switch it.out {
		case outForward:
			m, err := i.householdMessage(&it.ev, &keys, i.enc)
			if err != nil {
				return err
			}
			msgs = append(msgs, m)
		case outDeadLetter:
			msgs = append(msgs, i.deadLetter(it, now))
		}
	}
	i.keys = keys[:0]
	if err := i.write(ctx, msgs); err != nil {
		return err
	}

	if err := i.markForwarded(items); err != nil {
		return err
	}

	for n := range items {
		it := &items[n]
		switch it.out {
		case outForward:
			it.fm.forwarded++
			if !it.msg.Time.IsZero() {
				it.fm.latency.Observe(time.Since(it.msg.Time).Seconds())
			}
		case outDeadLetter:
			i.metrics.DeadLetters.WithLabelValues(it.feed, it.dl.Reason).Inc()
			i.log.Info("dead-lettered a feed record", "feed", it.feed, "reason", it.dl.Reason, "detail", it.dl.Error(),
				"partition", it.msg.Partition, "offset", it.msg.Offset)
		case outDuplicate:
			it.fm.duplicates++
		}
	}
	fm.flush()
	return nil
}

// batchItems returns n zeroed items, reusing the last batch's slice.
func (i *Intake) batchItems(n int) []item {
	if cap(i.items) < n {
		i.items = make([]item, n)
	}
	return i.items[:n]
}

// batchFeedMetrics are a batch's counts per feed, added to the metrics once per batch instead
// of once per record (a labelled series is a hashed look-up under a lock).
type batchFeedMetrics struct {
	feeds []*feedCounts
}

type feedCounts struct {
	name                      string
	in, forwarded, duplicates int
	eventsIn, fwd, dup        prometheus.Counter
	lastEvent                 prometheus.Gauge
	latency                   prometheus.Observer
}

// of returns the counts of a feed, resolving its series the first time.
func (b *batchFeedMetrics) of(name string, m *Metrics) *feedCounts {
	for _, f := range b.feeds {
		if f.name == name {
			return f
		}
	}
	f := &feedCounts{name: name, eventsIn: m.EventsIn.WithLabelValues(name), fwd: m.Forwarded.WithLabelValues(name),
		dup: m.Duplicates.WithLabelValues(name), lastEvent: m.LastEventTime.WithLabelValues(name),
		latency: m.IntakeLatency.WithLabelValues(name)}
	b.feeds = append(b.feeds, f)
	return f
}

// counted adds the records read (and the time of the last) per feed.
func (b *batchFeedMetrics) counted(now time.Time) {
	for _, f := range b.feeds {
		if f.in > 0 {
			f.eventsIn.Add(float64(f.in))
			f.lastEvent.Set(float64(now.Unix()))
			f.in = 0
		}
	}
}

// flush adds the records forwarded and dropped as resends per feed.
func (b *batchFeedMetrics) flush() {
	for _, f := range b.feeds {
		if f.forwarded > 0 {
			f.fwd.Add(float64(f.forwarded))
		}
		if f.duplicates > 0 {
			f.dup.Add(float64(f.duplicates))
		}
		f.forwarded, f.duplicates = 0, 0
	}
}

// householdOf is the household the person table names for personKey, "" when it names none:
// from the index, else (while the index loads, or for a key it does not hold) from the table.
// The caller holds parkMu, under which the index and the table agree.
func (i *Intake) householdOf(tx *state.Tx, personKey string) (string, error) {
	if hh, ok := i.persons.lookup(personKey); ok {
		return hh, nil
	}
	p, ok, err := tx.GetPerson(personKey)
	if err != nil || !ok || !p.Known() {
		return "", err
	}
	return p.HouseholdID, nil
}

// resolve marks resends as duplicates, finds the household of each valid event, and parks the
// events of persons the table does not know: on the parked topic first (acknowledged), then in
// the local parked table, marking them seen in the same batch.
func (i *Intake) resolve(ctx context.Context, items []item, now time.Time) error {
	i.parkMu.Lock()
	defer i.parkMu.Unlock()
	inBatch := i.inBatch
	if inBatch == nil {
		inBatch = map[eventKey]struct{}{}
		i.inBatch = inBatch
	}
	defer clear(inBatch)
	i.seen.screen(items) // sets maybeSeen: false is exact
	var park []*item
	var fromMemory, fromStore int
	var reads seenBlockReads // the seen blocks read for this batch's resend checks
	err := i.store.View(func(tx *state.Tx) error {
		for n := range items {
			it := &items[n]
			if it.out == outDeadLetter {
				continue
			}
			k := eventKey{it.feed, it.ev.EventID}
			if _, dup := inBatch[k]; dup {
				it.out = outDuplicate
				continue
			}
			inBatch[k] = struct{}{}
			if !it.maybeSeen {
				fromMemory++
			} else {
				fromStore++
				if reads == nil {
					reads = seenBlockReads{}
				}
				seen, err := i.wasSeen(tx, it.feed, it.ev.EventID, it.seenHash, reads)
				if err != nil {
					return err
				}
				if seen {
					it.out = outDuplicate
					continue
				}
			}
			if it.ev.HouseholdID != "" {
				continue
			}
			hh, err := i.householdOf(tx, it.ev.PersonKey)
			if err != nil {
				return err
			}
			if hh != "" {
				it.ev.HouseholdID = hh
				continue
			}
			it.out = outPark
			park = append(park, it)
		}
		// An event another instance parked (read from the parked topic) is a repeat here.
		kept := park[:0]
		for _, it := range park {
			_, found, err := tx.ParkedGet(state.ParkedKey(it.ev.PersonKey, it.feed, it.ev.EventID))
			if err != nil {
				return err
			}
			if found {
				it.out = outDuplicate
				continue
			}
			kept = append(kept, it)
		}
		park = kept
		return nil
	})
	if err != nil {
		return fmt.Errorf("look up events and persons: %w", err)
	}
	i.seenFromMemory.Add(int64(fromMemory))
	i.seenFromStore.Add(int64(fromStore))
	if len(park) == 0 {
		return nil
	}
	type parking struct {
		it *item
		p  state.Parked
	}
	var toPark []parking
	var records []kafka.Message
	counted, countedBytes := 0, int64(0)
	for _, it := range park {
		ev, err := json.Marshal(it.ev)
		if err != nil {
			return fmt.Errorf("encode parked event: %w", err)
		}
		orig, err := json.Marshal(sealedRecord{Key: it.msg.Key, Value: it.msg.Value})
		if err != nil {
			return fmt.Errorf("encode parked record: %w", err)
		}
		p := state.Parked{ParkedAt: now, Feed: it.feed, EventID: it.ev.EventID, Event: ev, Sealed: i.pseud.Seal(orig)}
		if i.parkFull(it, p, counted, countedBytes) {
			continue
		}
		m, err := i.parkedMessage(it.ev.PersonKey, p)
		if err != nil {
			return err
		}
		counted, countedBytes = counted+1, countedBytes+parkedSize(it, p)
		toPark = append(toPark, parking{it, p})
		records = append(records, m)
	}
	// On the brokers before anywhere else: a crash after this write parks the event again on
	// the next read (same key), a crash before it leaves the feed offset uncommitted.
	if err := i.write(ctx, records); err != nil {
		return err
	}
	wb := i.store.NewBatch()
	defer wb.Cancel()
	parked, parkedBytes := 0, int64(0)
	for _, tp := range toPark {
		it, p := tp.it, tp.p
		n, err := wb.PutParked(it.ev.PersonKey, p)
		if err != nil {
			return err
		}
		parked, parkedBytes = parked+1, parkedBytes+int64(n)
		if err := i.markSeen(wb, it.feed, it.ev.EventID); err != nil {
			return err
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("park events: %w", err)
	}
	i.parkedBytes.Add(parkedBytes)
	i.parkedN.Add(int64(parked))
	i.metrics.Parked.Set(float64(i.parkedN.Load()))
	i.log.Debug("parked events of persons the registry does not know yet", "count", parked)
	return nil
}

func (i *Intake) deadLetter(it *item, now time.Time) kafka.Message {
	return i.dlqMessage(feed.DeadLetter{
		Reason: it.dl.Reason, Detail: it.dl.Error(), Feed: it.feed,
		Source: feed.Source{Topic: it.msg.Topic, Partition: it.msg.Partition, Offset: it.msg.Offset},
		Key:    it.msg.Key, Value: it.msg.Value,
	}, now)
}

// dlqMessage is the dead-letter record of d, redacted when so configured.
func (i *Intake) dlqMessage(d feed.DeadLetter, now time.Time) kafka.Message {
	if i.cfg.RedactDeadLetters {
		d = d.Redacted(i.pseud)
	}
	return d.Message(i.cfg.Topics.DLQ, now)
}

// householdMessage is a canonical event as a record of the household-events topic, made by
// encoding into buffers that the caller reuses: the key carved from *keys, the value from enc.
// Both must stay unchanged until the writer has returned (it keeps no reference to a record
// after WriteMessages returns). With nil buffers the key and value are allocated.
func (i *Intake) householdMessage(ev *feed.HouseholdEvent, keys *[]byte, enc *feed.EventEncoder) (kafka.Message, error) {
	var b []byte
	var err error
	if enc != nil {
		b, err = enc.Encode(ev)
	} else {
		b, err = feed.AppendHouseholdEvent(nil, ev)
	}
	if err != nil {
		return kafka.Message{}, fmt.Errorf("encode household event: %w", err)
	}
	var key []byte
	if keys != nil {
		key = carve(keys, ev.HouseholdID)
	} else {
		key = []byte(ev.HouseholdID)
	}
	return kafka.Message{Topic: i.cfg.Topics.HouseholdEvents, Key: key, Value: b}, nil
}

// carve appends s to *buf and returns its bytes there, capacity clipped. A full buffer is left
// to the slices already carved from it and replaced by a new one.
func carve(buf *[]byte, s string) []byte {
	b := *buf
	if cap(b)-len(b) < len(s) {
		b = make([]byte, 0, max(4096, 2*cap(b), len(s)))
	}
	start := len(b)
	b = append(b, s...)
	*buf = b
	return b[start:len(b):len(b)]
}

// write sends msgs and waits until the broker acknowledges all of them, retrying failures with
// backoff until ctx ends.
func (i *Intake) write(ctx context.Context, msgs []kafka.Message) error {
	backoff := kafkaio.NewBackoff()
	for len(msgs) > 0 {
		err := i.w.WriteMessages(ctx, msgs...)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var werrs kafka.WriteErrors
		if errors.As(err, &werrs) && len(werrs) == len(msgs) {
			failed := msgs[:0:0]
			for n, e := range werrs {
				if e != nil {
					failed = append(failed, msgs[n])
				}
			}
			msgs = failed
		}
		d := backoff.Next()
		i.log.Warn("cannot write to Kafka; retrying (check that the brokers are reachable and the household-events and dlq topics exist)",
			"err", err, "records", len(msgs), "retry_in", d)
		if !kafkaio.Sleep(ctx, d) {
			return ctx.Err()
		}
	}
	return nil
}

// sealedRecord is the original feed record kept (encrypted) with a parked event, for the dead
// letter it becomes if its person never arrives.
type sealedRecord struct {
	Key   []byte `json:"k"`
	Value []byte `json:"v"`
}

func decodeParkedEvent(e state.ParkedEntry) (feed.HouseholdEvent, error) {
	var ev feed.HouseholdEvent
	if err := feed.DecodeHouseholdEvent(e.Event, &ev); err != nil {
		return ev, fmt.Errorf("decode parked event: %w", err)
	}
	return ev, nil
}

// batchWindow is how long a batch of feed records stays open after its first record. Under load
// the reader's queue fills a batch long before it ends; at 2,000 events/s it is latency only
// (5 ms made the event-to-alert p99 37 ms, 2 ms 21 ms, with the monitor's BatchWait and the
// writers' BatchTimeout cut likewise; docs/performance.md).
const batchWindow = 2 * time.Millisecond

// commitEvery is how often the intake group's offsets are committed while records flow
// (kafkaio.Group, with the generation they were read in; once more when the generation ends).
// Offsets are handed over only for records whose outputs were acknowledged; a crash reads up to
// commitEvery more again, and those are dropped as resends. Committing after every batch put
// one more broker round trip on the event-to-alert path of every event.
const commitEvery = 200 * time.Millisecond
