package monitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"safetynet/stream/household"
	"safetynet/stream/kafkaio"
	"safetynet/stream/topics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"safetynet/scorer"
	"safetynet/state"
)

// MonitorConfig configures the monitor stage.
type Config struct {
	Kafka  kafkaio.Kafka
	Topics topics.Topics
	// GroupID is the monitor's consumer group (default "safetynet-monitor"); it must differ
	// from intake's.
	GroupID string
	// BatchSize and BatchWait bound a micro-batch: up to BatchSize events, or what arrived
	// within BatchWait of the first one (default 2 ms: under load the reader's queue fills a batch
	// first; at a light load the wait is latency only).
	BatchSize int
	BatchWait time.Duration
	// TimerInterval is how often due timers are checked when no event arrives (default 1 s).
	TimerInterval time.Duration
	// Now is the clock (default time.Now); tests inject one.
	Now func() time.Time
	// Lag is the consumer-lag gauge (kafkaio.NewLagGauge) the workers set for their partitions;
	// nil keeps the lag unexported.
	Lag *prometheus.GaugeVec
	// ReadTimeouts counts the monitor's timed-out Kafka reads under stage "monitor"
	// (kafkaio.NewReadTimeouts); nil keeps the count unexported.
	ReadTimeouts *prometheus.CounterVec
	// OnAlert, when set, is called with every alert after it is acknowledged (the demo prints them).
	OnAlert func(household.Alert)

	// RescoreRate is how many households per second (all partitions together) are re-scored
	// after a model change (default 2000).
	RescoreRate float64
	// SuppressModelChangeAlerts keeps the level changes a re-scoring makes off the alert topic:
	// the state follows the new model, nobody is told.
	SuppressModelChangeAlerts bool
	// BackfillUntil, when set, makes events that occurred before it update state without
	// alerts until the partition's backfill ends (see backfill.go).
	BackfillUntil time.Time
	// BackfillSettle is how long a backfilling partition must find nothing to read before its
	// backlog counts as loaded (default 30 s).
	BackfillSettle time.Duration
	// MaxMembers is the most persons a household may hold (default household.DefaultMaxMembers);
	// an event that would add one more is dead-lettered as household_too_large (members.go).
	MaxMembers int
	// DeadLetters is the dead-letter counter by feed and reason (intake's
	// safetynet_dead_letters_total), which the monitor's household_too_large letters count on too;
	// nil keeps them uncounted.
	DeadLetters *prometheus.CounterVec
	// AdvertisedURL is where other instances reach this one's HTTP API; it is this member's
	// UserData in the monitor group (serving.go, cluster/directory.go).
	AdvertisedURL string
	// SpotCheckSeed is the key of the monthly spot check draw; "" takes the model's
	// aid.spot_check_seed (aidcases.go).
	SpotCheckSeed string
	// StateFormat is the stored form of the households written (household.FormatLatest, or
	// household.FormatPrevious during a rolling update from the previous release; 0 is the latest).
	StateFormat int
}

// Monitor keeps household state for the partitions of the household-events topic this instance
// owns, re-scores households on every event and when their timer is due, and publishes alerts.
type Monitor struct {
	cfg     Config
	store   *state.Store
	model   atomic.Pointer[scorer.Model] // swapped by SetModel; a batch reads it once, at its start
	metrics *Metrics
	logger  *slog.Logger

	alerts        *kafka.Writer
	verifications *kafka.Writer
	changelog     *kafka.Writer
	dlq           *kafka.Writer

	// failCommit, set only by tests (while the workers run, hence atomic), makes a committed
	// batch report a store failure (as a full disk would), so that the retry path can be tested
	// with a real store.
	failCommit atomic.Pointer[func() error]

	rescoreBudget *budget // households per second re-scored after a model change

	gate standbyGate // keeps standby writes (standby.go) off the partitions a worker claims

	mu         sync.Mutex
	partitions map[int]*partitionStatus // owned partitions of the current generation
	joined     bool
}

// partitionStatus is what readiness needs to know of a partition worker.
type partitionStatus struct {
	caughtUp bool
	running  bool   // the worker runs (serving.go: only a running worker's partition is served)
	failing  string // why the worker cannot make progress, "" when it can
}

// NewMonitor returns a monitor; Run starts it.
func New(cfg Config, store *state.Store, model *scorer.Model, m *Metrics, logger *slog.Logger) *Monitor {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 2000
	}
	if cfg.BatchWait <= 0 {
		cfg.BatchWait = 2 * time.Millisecond
	}
	if cfg.GroupID == "" {
		cfg.GroupID = "safetynet-monitor"
	}
	if cfg.TimerInterval <= 0 {
		cfg.TimerInterval = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Lag == nil {
		cfg.Lag = kafkaio.NewLagGauge(prometheus.NewRegistry())
	}
	if cfg.ReadTimeouts == nil {
		cfg.ReadTimeouts = kafkaio.NewReadTimeouts(prometheus.NewRegistry())
	}
	if cfg.RescoreRate <= 0 {
		cfg.RescoreRate = 2000
	}
	cfg.setMemberDefaults()
	if cfg.BackfillSettle <= 0 {
		cfg.BackfillSettle = 30 * time.Second
	}
	mo := &Monitor{
		cfg: cfg, store: store, metrics: m, logger: logger.With("stage", "monitor"),
		alerts:        cfg.Kafka.Writer(cfg.Topics.Alerts, &kafka.Hash{}),
		verifications: cfg.Kafka.Writer(cfg.Topics.Verifications, &kafka.Hash{}),
		changelog:     cfg.Kafka.Writer(cfg.Topics.Changelog, kafkaio.SamePartition{}),
		dlq:           cfg.Kafka.Writer(cfg.Topics.DLQ, &kafka.Hash{}),
		partitions:    map[int]*partitionStatus{},
		rescoreBudget: newBudget(cfg.RescoreRate),
	}
	mo.model.Store(model)
	return mo
}

// Ready reports whether every owned partition has caught up and can write, with the reason
// when not.
func (mo *Monitor) Ready() (bool, string) {
	mo.mu.Lock()
	defer mo.mu.Unlock()
	if !mo.joined {
		return false, "monitor has not joined its consumer group yet"
	}
	// The detail names the partitions in order, so that it changes (and is logged again) only
	// when what holds readiness back changes: naming the first one met in the map logged "not
	// ready" several times a second while four partitions restored.
	var failing, catching []int
	for p, s := range mo.partitions {
		switch {
		case s.failing != "":
			failing = append(failing, p)
		case !s.caughtUp:
			catching = append(catching, p)
		}
	}
	slices.Sort(failing)
	slices.Sort(catching)
	switch {
	case len(failing) > 0:
		why := fmt.Sprintf("partition %d: %s", failing[0], mo.partitions[failing[0]].failing)
		if n := len(failing) - 1 + len(catching); n > 0 {
			why += fmt.Sprintf(" (and %d more partitions not ready)", n)
		}
		return false, why
	case len(catching) == 1:
		return false, fmt.Sprintf("partition %d is catching up", catching[0])
	case len(catching) > 1:
		ps := make([]string, len(catching))
		for i, p := range catching {
			ps[i] = strconv.Itoa(p)
		}
		return false, fmt.Sprintf("partitions %s are catching up", strings.Join(ps, ", "))
	}
	return true, ""
}

func (mo *Monitor) setStatus(p int, fn func(*partitionStatus)) {
	mo.mu.Lock()
	defer mo.mu.Unlock()
	if s := mo.partitions[p]; s != nil {
		fn(s)
	}
}

// Run consumes until ctx ends. It checks first that the household-events topic and the
// changelog have the same number of partitions, and refuses to run otherwise.
func (mo *Monitor) Run(ctx context.Context) error {
	defer func() {
		_ = mo.alerts.Close()
		_ = mo.verifications.Close()
		_ = mo.changelog.Close()
		_ = mo.dlq.Close()
	}()
	if err := mo.checkCopartitioned(ctx); err != nil {
		return err
	}
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                mo.cfg.GroupID,
		Brokers:           mo.cfg.Kafka.Brokers,
		Dialer:            mo.cfg.Kafka.Dialer(),
		Topics:            []string{mo.cfg.Topics.HouseholdEvents},
		StartOffset:       kafka.FirstOffset,
		HeartbeatInterval: time.Second,
		SessionTimeout:    10 * time.Second,
		RebalanceTimeout:  10 * time.Second,
		JoinGroupBackoff:  time.Second,
		ErrorLogger:       kafkaio.Logger(mo.logger, mo.cfg.ReadTimeouts.WithLabelValues("monitor")),
		GroupBalancers:    []kafka.GroupBalancer{urlBalancer{url: mo.cfg.AdvertisedURL}},
	})
	if err != nil {
		return fmt.Errorf("monitor consumer group: %w", err)
	}
	defer kafkaio.CloseWithin(group, finishTimeout+time.Second, "the monitor group", mo.logger)
	b := kafkaio.NewBackoff()
	for {
		gen, err := group.Next(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			d := b.Next()
			mo.logger.Warn("cannot join the monitor consumer group; retrying — check that the brokers are reachable",
				"err", err, "retry_in", d)
			mo.mu.Lock()
			mo.joined = false
			mo.mu.Unlock()
			if !kafkaio.Sleep(ctx, d) {
				return nil
			}
			continue
		}
		b.Reset()
		mo.metrics.Rebalances.Inc()
		assigned := gen.Assignments[mo.cfg.Topics.HouseholdEvents]
		mo.mu.Lock()
		mo.joined = true
		mo.partitions = map[int]*partitionStatus{}
		for _, a := range assigned {
			mo.partitions[a.ID] = &partitionStatus{}
		}
		mo.mu.Unlock()
		mo.metrics.PartitionsOwned.Set(float64(len(assigned)))
		ids := make([]int, 0, len(assigned))
		for _, a := range assigned {
			ids = append(ids, a.ID)
		}
		mo.logger.Info("joined monitor group", "generation", gen.ID, "partitions", ids)
		for _, a := range assigned {
			p := a.ID
			gen.Start(func(ctx context.Context) {
				w := &worker{mo: mo, partition: p, gen: gen, logger: mo.logger.With("partition", p), cache: householdCache{share: len(assigned)}}
				w.run(ctx)
			})
		}
	}
}

// checkCopartitioned refuses to run when the changelog does not mirror the household-events
// topic partition for partition.
func (mo *Monitor) checkCopartitioned(ctx context.Context) error {
	client := mo.cfg.Kafka.Client()
	var meta *kafka.MetadataResponse
	err := kafkaio.Retry(ctx, mo.logger, "read the metadata of "+mo.cfg.Topics.HouseholdEvents+" and "+mo.cfg.Topics.Changelog, func() error {
		var err error
		meta, err = client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{mo.cfg.Topics.HouseholdEvents, mo.cfg.Topics.Changelog}})
		return err
	})
	if err != nil {
		return nil // ctx ended
	}
	counts := map[string]int{}
	for _, t := range meta.Topics {
		if t.Error != nil {
			return fmt.Errorf("topic %s: %w (create it with as many partitions as %s)", t.Name, t.Error, mo.cfg.Topics.HouseholdEvents)
		}
		counts[t.Name] = len(t.Partitions)
	}
	he, cl := counts[mo.cfg.Topics.HouseholdEvents], counts[mo.cfg.Topics.Changelog]
	if he == 0 || he != cl {
		return fmt.Errorf("topic %s has %d partitions and %s has %d: they must be equal (co-partitioned), refusing to run",
			mo.cfg.Topics.HouseholdEvents, he, mo.cfg.Topics.Changelog, cl)
	}
	return nil
}

// errStopped means the worker's context ended while it was retrying.
var errStopped = errors.New("stopped")
