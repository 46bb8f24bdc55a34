// Package produce puts a feedgen.Generator's events on Kafka: the registry first, as fast as
// the brokers take it, then the change events at a rate, each feed to its topic, keyed by the
// person ID as the agencies key their records. It does not generate anything: what is sent, and
// in which order, is the Generator's, so the same Config sends the same records.
package produce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"

	"safetynet/stream/feed"
	"safetynet/stream/feedgen"
)

// Options tune Run.
type Options struct {
	// Rate is the change events per second to offer, 0 for as fast as possible. The registry
	// load is always sent as fast as possible.
	Rate float64
	// Limit is the number of change events (from Next) to send after the registry; 0 for no
	// limit (until ctx ends).
	Limit int
	// SkipRegistry skips the registry load (Registry), for a second run against the same topics.
	SkipRegistry bool
	// Logger receives progress every few seconds; nil for none.
	Logger *slog.Logger
	// Until, when set, stops the change events once the simulated clock (feedgen.Generator.Now) reaches
	// it (the last event sent is the first one dated at or after it): intake refuses events
	// dated more than its skew after its own clock, so a feed meant for a live service stops at
	// today.
	Until time.Time
	// OnProduced is called after each acknowledged batch with the number of events
	// acknowledged so far, registry included.
	OnProduced func(n int)
	// Transport carries TLS and SASL settings (see kafkaio.Kafka.Transport); nil for plain TCP.
	Transport kafka.RoundTripper
}

// progressEvery is how often Run logs its progress.
const progressEvery = 5 * time.Second

// Run writes the registry and then the change events of g to the topics (feed name →
// topic; every feed of feed.Feeds must be mapped), keyed by person_id, waiting for every
// batch to be acknowledged by all in-sync replicas. It returns when Limit events are sent or the
// simulated clock reaches Until, or with ctx's error when ctx ends first. Logs carry counts and rates only, never personal data.
func Run(ctx context.Context, brokers []string, topics map[string]string, g *feedgen.Generator, opts Options) error {
	for _, f := range feed.Feeds {
		if topics[f] == "" {
			return fmt.Errorf("produce: no topic for feed %q", f)
		}
	}
	if len(brokers) == 0 {
		return errors.New("produce: no brokers")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	batch := 2000
	if opts.Rate > 0 {
		// About 20 ms of events per batch, so that the offered load stays smooth.
		batch = min(2000, max(1, int(opts.Rate/50)))
	}
	w := &kafka.Writer{
		Addr:         kafka.TCP(brokers...),
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 2 * time.Millisecond,
		BatchSize:    max(batch, 100),
		BatchBytes:   16 << 20,
		MaxAttempts:  10,
		Async:        false,
		Transport:    opts.Transport,
	}
	defer w.Close()

	p := producer{w: w, topics: topics, logger: logger, opts: opts, lastLog: time.Now()}
	msgs := make([]kafka.Message, 0, 2000)
	if !opts.SkipRegistry {
		reg := g.Registry()
		logger.Info("producing registry", "people", len(reg))
		p.phase = "registry"
		for len(reg) > 0 {
			n := min(len(reg), 2000)
			msgs = msgs[:0]
			for _, ev := range reg[:n] {
				msgs = p.appendMsg(msgs, ev)
			}
			if err := p.write(ctx, msgs); err != nil {
				return err
			}
			reg = reg[n:]
		}
		p.logProgress(true)
	}

	p.phase = "changes"
	start := time.Now()
	sent := 0
	reached := func() bool { return !opts.Until.IsZero() && !g.Now().Before(opts.Until) }
	for (opts.Limit == 0 || sent < opts.Limit) && !reached() {
		n := batch
		if opts.Limit > 0 {
			n = min(n, opts.Limit-sent)
		}
		if opts.Rate > 0 {
			due := start.Add(time.Duration(float64(sent) / opts.Rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-ctx.Done():
					t.Stop()
					return fmt.Errorf("produce: %w", ctx.Err())
				case <-t.C:
				}
			}
		}
		msgs = msgs[:0]
		for range n {
			if reached() {
				break
			}
			msgs = p.appendMsg(msgs, g.Next())
		}
		if err := p.write(ctx, msgs); err != nil {
			return err
		}
		sent += len(msgs)
	}
	if reached() {
		logger.Info("simulated clock reached the end", "until", opts.Until.UTC().Format(time.RFC3339))
	}
	p.logProgress(true)
	return nil
}

type producer struct {
	w      *kafka.Writer
	topics map[string]string
	logger *slog.Logger
	opts   Options
	phase  string

	total, malformed, duplicates int
	lastLog                      time.Time
	lastTotal                    int
}

func (p *producer) appendMsg(msgs []kafka.Message, ev feedgen.Event) []kafka.Message {
	if ev.Malformed {
		p.malformed++
	}
	if ev.Duplicate {
		p.duplicates++
	}
	return append(msgs, kafka.Message{Topic: p.topics[ev.Feed], Key: ev.Key, Value: ev.Value})
}

func (p *producer) write(ctx context.Context, msgs []kafka.Message) error {
	if err := p.w.WriteMessages(ctx, msgs...); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("produce: %w", ctx.Err())
		}
		return fmt.Errorf("produce %d events after %d: %w", len(msgs), p.total, err)
	}
	p.total += len(msgs)
	if p.opts.OnProduced != nil {
		p.opts.OnProduced(p.total)
	}
	p.logProgress(false)
	return nil
}

func (p *producer) logProgress(final bool) {
	now := time.Now()
	el := now.Sub(p.lastLog)
	if !final && el < progressEvery {
		return
	}
	rate := 0.0
	if el > 0 {
		rate = float64(p.total-p.lastTotal) / el.Seconds()
	}
	p.logger.Info("feedgen progress", "phase", p.phase, "events", p.total, "rate_per_s", int(rate),
		"malformed", p.malformed, "duplicates", p.duplicates)
	p.lastLog, p.lastTotal = now, p.total
}
