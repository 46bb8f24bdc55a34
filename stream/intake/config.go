package intake

import (
	"context"
	"errors"
	"fmt"
	"safetynet/stream/feed"
	"safetynet/stream/kafkaio"
	"safetynet/stream/topics"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
)

// Intake defaults.
const (
	DefaultUnknownPersonWait = 24 * time.Hour
	DefaultDedupeWindow      = 7 * 24 * time.Hour
	DefaultSweepInterval     = time.Minute
	DefaultParkMaxEvents     = 1_000_000
	DefaultParkMaxBytes      = 1 << 30
	DefaultIntakeGroupID     = "safetynet-intake"
	defaultIntakeBatch       = 2000
)

// IntakeConfig configures the intake stage. Zero values take the defaults noted.
type Config struct {
	// Kafka is how to reach the brokers (TLS and SASL included).
	Kafka  kafkaio.Kafka
	Topics topics.Topics
	// ReadTimeouts counts the intake readers' timed-out reads under stage "intake"
	// (kafkaio.NewReadTimeouts); nil keeps the count unexported.
	ReadTimeouts *prometheus.CounterVec
	// GroupID of the intake consumer group (default "safetynet-intake"). It must differ from the
	// monitor's group.
	GroupID string
	// MaxEventBytes is the largest feed record accepted (default 64 KiB); larger ones are
	// dead-lettered as too_large.
	MaxEventBytes int
	// MaxFutureSkew is how far past the intake clock an occurred_at may lie (default 24h).
	MaxFutureSkew time.Duration
	// UnknownPersonWait is how long an event for a person the registry does not know is held
	// before it is dead-lettered as unknown_person (default 24h).
	UnknownPersonWait time.Duration
	// DedupeWindow is how long an event id is remembered to drop resends (default 7 days).
	DedupeWindow time.Duration
	// SweepInterval is how often parked events are checked against UnknownPersonWait (default a
	// quarter of the wait, at least 1 s and at most DefaultSweepInterval): an expired event is
	// dead-lettered within a quarter of the wait of its expiry.
	SweepInterval time.Duration
	// ParkMaxEvents and ParkMaxBytes bound the parked events (defaults DefaultParkMaxEvents and
	// DefaultParkMaxBytes); an event that would go beyond either is dead-lettered as park_full.
	ParkMaxEvents int
	ParkMaxBytes  int64
	// RedactDeadLetters replaces each ID number in a dead letter's key and value by its person
	// key and masked form (feed.Pseudonymizer.Redact) instead of keeping the agency's record
	// byte for byte (SAFETYNET_DLQ_REDACT).
	RedactDeadLetters bool
	// Membership, when set, names this instance and the members (sorted) among which the release
	// and expiry of parked events are shared (the monitor group's advertised URLs); a nil or
	// empty member list means unknown for now (a rebalance): nothing is released or expired by
	// ownership until it is known. Unset: this instance releases and expires every parked event.
	Membership func() (self string, members []string)
	// BatchSize is the most feed records handled in one batch (default 2000).
	BatchSize int
	// Now is the clock (default time.Now); tests inject their own.
	Now func() time.Time

	// parkedReadHook, when set (tests only, SetParkedReadHook), is called by the parked topic's
	// reader with each batch before it applies it: a test holds the reader back with it. An
	// error ends the reader without applying the batch.
	parkedReadHook func(ctx context.Context, partition int, batch []kafka.Message) error
}

func (c *Config) setDefaults() error {
	if len(c.Kafka.Brokers) == 0 {
		return errors.New("intake: no Kafka brokers configured")
	}
	if c.Topics == (topics.Topics{}) {
		c.Topics = topics.Default()
	}
	if err := c.Topics.Validate(); err != nil {
		return fmt.Errorf("intake: %w", err)
	}
	if c.GroupID == "" {
		c.GroupID = DefaultIntakeGroupID
	}
	if c.MaxEventBytes <= 0 {
		c.MaxEventBytes = feed.DefaultMaxEventBytes
	}
	if c.MaxFutureSkew <= 0 {
		c.MaxFutureSkew = feed.DefaultMaxFutureSkew
	}
	if c.UnknownPersonWait <= 0 {
		c.UnknownPersonWait = DefaultUnknownPersonWait
	}
	if c.DedupeWindow <= 0 {
		c.DedupeWindow = DefaultDedupeWindow
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = min(max(c.UnknownPersonWait/4, time.Second), DefaultSweepInterval)
	}
	if c.ParkMaxEvents <= 0 {
		c.ParkMaxEvents = DefaultParkMaxEvents
	}
	if c.ParkMaxBytes <= 0 {
		c.ParkMaxBytes = DefaultParkMaxBytes
	}
	if c.BatchSize <= 0 {
		c.BatchSize = defaultIntakeBatch
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.ReadTimeouts == nil {
		c.ReadTimeouts = kafkaio.NewReadTimeouts(prometheus.NewRegistry())
	}
	return nil
}
