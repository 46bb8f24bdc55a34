package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// DefaultLagInterval is how often RunGroupLag reads the broker's offsets.
const DefaultLagInterval = 5 * time.Second

// GroupLagConfig configures RunGroupLag.
type GroupLagConfig struct {
	Kafka Kafka
	// GroupID is the consumer group whose committed offsets are compared with the end offsets.
	GroupID string
	// Topics are the topics the group consumes.
	Topics []string
	// Interval between readings (default DefaultLagInterval).
	Interval time.Duration
}

// RunGroupLag sets m.ConsumerLag{topic, partition} for the group's topics every interval, from
// the broker's offsets: kafka-go's reader reports no lag for a consumer group, and a partition
// this instance does not own still lags. It returns nil when ctx ends. Broker errors are logged
// and the gauges keep their last value until the next good reading.
func RunGroupLag(ctx context.Context, cfg GroupLagConfig, m *Metrics, logger *slog.Logger) error {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultLagInterval
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	log := logger.With("component", "lag", "group", cfg.GroupID)
	client := &kafka.Client{Addr: kafka.TCP(cfg.Kafka.Brokers...), Transport: cfg.Kafka.Transport(), Timeout: 10 * time.Second}
	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	failing := false
	for {
		lag, err := GroupLag(ctx, client, cfg.GroupID, cfg.Topics)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			if !failing { // once per failure spell, not every few seconds
				log.Warn("cannot read consumer group offsets; safetynet_consumer_lag of the feeds is stale until it can", "err", err)
			}
			failing = true
		default:
			if failing {
				log.Info("consumer group offsets readable again")
			}
			failing = false
			for topic, parts := range lag {
				for p, n := range parts {
					m.ConsumerLag.WithLabelValues(topic, strconv.Itoa(p)).Set(float64(n))
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// GroupLag returns, for every partition of topics, the messages between the partition's end
// offset and the group's committed offset. A partition the group has committed nothing for
// counts from the partition's first offset (the group starts there). client.Addr must be set.
func GroupLag(ctx context.Context, client *kafka.Client, groupID string, topics []string) (map[string]map[int]int64, error) {
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, fmt.Errorf("topic metadata: %w", err)
	}
	partitions := map[string][]int{}
	for _, t := range meta.Topics {
		if t.Error != nil {
			return nil, fmt.Errorf("topic %s: %w", t.Name, t.Error)
		}
		for _, p := range t.Partitions {
			partitions[t.Name] = append(partitions[t.Name], p.ID)
		}
	}
	// Kafka refuses a ListOffsets request naming a partition twice: first and end offsets are
	// two requests.
	first, err := listOffsets(ctx, client, partitions, kafka.FirstOffset)
	if err != nil {
		return nil, err
	}
	end, err := listOffsets(ctx, client, partitions, kafka.LastOffset)
	if err != nil {
		return nil, err
	}
	committed, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: groupID, Topics: partitions})
	if err != nil {
		return nil, fmt.Errorf("group %s offsets: %w", groupID, err)
	}
	switch {
	case errors.Is(committed.Error, kafka.GroupIdNotFound):
		// A group that never committed (some brokers say so instead of answering -1 offsets).
		committed.Topics = nil
	case committed.Error != nil:
		return nil, fmt.Errorf("group %s offsets: %w", groupID, committed.Error)
	}
	out := make(map[string]map[int]int64, len(partitions))
	for topic, ps := range partitions {
		out[topic] = make(map[int]int64, len(ps))
		for _, p := range ps {
			next := first[topic][p]
			for _, c := range committed.Topics[topic] {
				if c.Partition != p {
					continue
				}
				if c.Error != nil {
					return nil, fmt.Errorf("group %s offset of %s/%d: %w", groupID, topic, p, c.Error)
				}
				if c.CommittedOffset >= 0 {
					next = max(c.CommittedOffset, next) // below the first offset: retention removed them
				}
			}
			out[topic][p] = max(end[topic][p]-next, 0)
		}
	}
	return out, nil
}

// listOffsets returns the first (kafka.FirstOffset) or end (kafka.LastOffset) offset of every
// partition.
func listOffsets(ctx context.Context, client *kafka.Client, partitions map[string][]int, which int64) (map[string]map[int]int64, error) {
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for topic, ps := range partitions {
		for _, p := range ps {
			req.Topics[topic] = append(req.Topics[topic], kafka.OffsetRequest{Partition: p, Timestamp: which})
		}
	}
	resp, err := client.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("list offsets: %w", err)
	}
	out := map[string]map[int]int64{}
	for topic, ps := range partitions {
		out[topic] = map[int]int64{}
		for _, po := range resp.Topics[topic] {
			if po.Error != nil {
				return nil, fmt.Errorf("offsets of %s/%d: %w", topic, po.Partition, po.Error)
			}
			if which == kafka.FirstOffset {
				out[topic][po.Partition] = po.FirstOffset
			} else {
				out[topic][po.Partition] = po.LastOffset
			}
		}
		for _, p := range ps {
			if _, ok := out[topic][p]; !ok {
				return nil, fmt.Errorf("offsets of %s/%d: %w", topic, p, errNoOffset)
			}
		}
	}
	return out, nil
}

var errNoOffset = errors.New("the broker returned no offset")
