package backtest

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"

	"safetynet/stream/kafkaio"
)

// Changelog reads every household's newest state from the changelog topic, as a restore does,
// without touching a running instance's state directory. It holds the states in memory (a
// household's stored value is about 1 KB: a million households take about 1 GB).
type Changelog struct {
	Kafka kafkaio.Kafka
	Topic string
	// Progress, when set, is called now and then with records read and the total to read.
	Progress func(done, total int64)

	values map[string][]byte
}

// Load reads the topic from its first to its last offset in every partition.
func (c *Changelog) Load(ctx context.Context) error {
	client := c.Kafka.Client()
	parts, err := kafkaio.Partitions(ctx, client, c.Topic)
	if err != nil {
		return fmt.Errorf("changelog %s: %w", c.Topic, err)
	}
	if len(parts[c.Topic]) == 0 {
		return fmt.Errorf("changelog %s: no such topic", c.Topic)
	}
	firsts, err := kafkaio.ListOffsets(ctx, client, parts, kafka.FirstOffset)
	if err != nil {
		return fmt.Errorf("changelog %s offsets: %w", c.Topic, err)
	}
	ends, err := kafkaio.ListOffsets(ctx, client, parts, kafka.LastOffset)
	if err != nil {
		return fmt.Errorf("changelog %s offsets: %w", c.Topic, err)
	}
	var total, done int64
	for _, p := range parts[c.Topic] {
		total += max(ends[c.Topic][p]-firsts[c.Topic][p], 0)
	}
	c.values = map[string][]byte{}
	last := time.Now()
	for _, p := range parts[c.Topic] {
		first, end := firsts[c.Topic][p], ends[c.Topic][p]
		if end <= first {
			continue
		}
		r := kafka.NewReader(c.Kafka.PartitionReader(c.Topic, p, kafkaio.ToEndHold, kafkaio.ToEndBytes))
		if err := r.SetOffset(first); err != nil {
			r.Close()
			return fmt.Errorf("changelog %s partition %d: %w", c.Topic, p, err)
		}
		for {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				r.Close()
				return fmt.Errorf("changelog %s partition %d at offset %d: %w", c.Topic, p, first, err)
			}
			done++
			if len(m.Value) == 0 {
				delete(c.values, string(m.Key))
			} else {
				c.values[string(m.Key)] = m.Value
			}
			if c.Progress != nil && time.Since(last) > 500*time.Millisecond {
				last = time.Now()
				c.Progress(done, total)
			}
			if m.Offset+1 >= end {
				break
			}
		}
		r.Close()
	}
	if c.Progress != nil {
		c.Progress(done, total)
	}
	return nil
}

// Households calls fn with every household read, in id order.
func (c *Changelog) Households(fn func(id string, value []byte) error) error {
	ids := make([]string, 0, len(c.values))
	for id := range c.values {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if err := fn(id, c.values[id]); err != nil {
			return err
		}
	}
	return nil
}

// LoadChangelog reads every household's newest state from topic with k, showing its progress
// on progress (a bar on a terminal).
func LoadChangelog(ctx context.Context, k kafkaio.Kafka, topic string, progress io.Writer) (*Changelog, error) {
	p := NewProgress(progress, "changelog records")
	cl := &Changelog{Kafka: k, Topic: topic, Progress: func(done, total int64) { p.Update(int(done), int(total)) }}
	if err := cl.Load(ctx); err != nil {
		return nil, err
	}
	p.Done()
	return cl, nil
}
