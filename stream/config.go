package stream

import (
	"errors"
	"fmt"
	"time"
)

// Topics names every Kafka topic safetynet reads or writes.
type Topics struct {
	Registry        string `env:"REGISTRY" envDefault:"safetynet.feed.registry"`
	Hospital        string `env:"HOSPITAL" envDefault:"safetynet.feed.hospital"`
	Pension         string `env:"PENSION" envDefault:"safetynet.feed.pension"`
	Employment      string `env:"EMPLOYMENT" envDefault:"safetynet.feed.employment"`
	Disability      string `env:"DISABILITY" envDefault:"safetynet.feed.disability"`
	HouseholdEvents string `env:"HOUSEHOLD_EVENTS" envDefault:"safetynet.household-events"`
	DLQ             string `env:"DLQ" envDefault:"safetynet.dlq"`
	Alerts          string `env:"ALERTS" envDefault:"safetynet.alerts"`
	Changelog       string `env:"CHANGELOG" envDefault:"safetynet.changelog"`
}

// DefaultTopics returns the topic names of the design.
func DefaultTopics() Topics {
	return Topics{
		Registry:        "safetynet.feed.registry",
		Hospital:        "safetynet.feed.hospital",
		Pension:         "safetynet.feed.pension",
		Employment:      "safetynet.feed.employment",
		Disability:      "safetynet.feed.disability",
		HouseholdEvents: "safetynet.household-events",
		DLQ:             "safetynet.dlq",
		Alerts:          "safetynet.alerts",
		Changelog:       "safetynet.changelog",
	}
}

// Feed returns the topic of a feed ("" for an unknown feed name).
func (t Topics) Feed(feed string) string {
	switch feed {
	case FeedRegistry:
		return t.Registry
	case FeedHospital:
		return t.Hospital
	case FeedPension:
		return t.Pension
	case FeedEmployment:
		return t.Employment
	case FeedDisability:
		return t.Disability
	}
	return ""
}

// FeedOf returns the feed whose topic is topic.
func (t Topics) FeedOf(topic string) (string, bool) {
	for _, f := range Feeds {
		if t.Feed(f) == topic {
			return f, true
		}
	}
	return "", false
}

// FeedTopics lists the five feed topics in the order of Feeds.
func (t Topics) FeedTopics() []string {
	out := make([]string, 0, len(Feeds))
	for _, f := range Feeds {
		out = append(out, t.Feed(f))
	}
	return out
}

// Validate checks that every topic is named and that no two roles share a topic.
func (t Topics) Validate() error {
	named := map[string]string{
		"registry": t.Registry, "hospital": t.Hospital, "pension": t.Pension,
		"employment": t.Employment, "disability": t.Disability,
		"household-events": t.HouseholdEvents, "dlq": t.DLQ, "alerts": t.Alerts, "changelog": t.Changelog,
	}
	seen := map[string]string{}
	for role, topic := range named {
		if topic == "" {
			return fmt.Errorf("topics: no topic named for %s", role)
		}
		if other, dup := seen[topic]; dup {
			return fmt.Errorf("topics: %s and %s both use topic %q", role, other, topic)
		}
		seen[topic] = role
	}
	return nil
}

// Intake defaults.
const (
	DefaultMaxEventBytes     = 64 << 10
	DefaultMaxFutureSkew     = 24 * time.Hour
	DefaultUnknownPersonWait = 24 * time.Hour
	DefaultDedupeWindow      = 7 * 24 * time.Hour
	DefaultSweepInterval     = time.Minute
	DefaultIntakeGroupID     = "safetynet-intake"
	defaultIntakeBatch       = 500
)

// IntakeConfig configures the intake stage. Zero values take the defaults noted.
type IntakeConfig struct {
	// Kafka is how to reach the brokers (TLS and SASL included).
	Kafka  Kafka
	Topics Topics
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
	// SweepInterval is how often parked events are checked against UnknownPersonWait (default 1m).
	SweepInterval time.Duration
	// BatchSize is the most feed records handled in one batch (default 500).
	BatchSize int
	// Now is the clock (default time.Now); tests inject their own.
	Now func() time.Time
}

func (c *IntakeConfig) setDefaults() error {
	if len(c.Kafka.Brokers) == 0 {
		return errors.New("intake: no Kafka brokers configured")
	}
	if c.Topics == (Topics{}) {
		c.Topics = DefaultTopics()
	}
	if err := c.Topics.Validate(); err != nil {
		return fmt.Errorf("intake: %w", err)
	}
	if c.GroupID == "" {
		c.GroupID = DefaultIntakeGroupID
	}
	if c.MaxEventBytes <= 0 {
		c.MaxEventBytes = DefaultMaxEventBytes
	}
	if c.MaxFutureSkew <= 0 {
		c.MaxFutureSkew = DefaultMaxFutureSkew
	}
	if c.UnknownPersonWait <= 0 {
		c.UnknownPersonWait = DefaultUnknownPersonWait
	}
	if c.DedupeWindow <= 0 {
		c.DedupeWindow = DefaultDedupeWindow
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = DefaultSweepInterval
	}
	if c.BatchSize <= 0 {
		c.BatchSize = defaultIntakeBatch
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}
