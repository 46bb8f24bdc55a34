package kafkaio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
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

// LatencyBuckets are the buckets of every seconds-scale latency histogram of a record's way
// through the stages (feed record timestamp → acknowledged output).
var LatencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// NewLagGauge creates and registers safetynet_consumer_lag{topic, partition}: the feeds' lag is
// set by RunGroupLag, the household-events topic's by the monitor's workers.
func NewLagGauge(reg prometheus.Registerer) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "safetynet_consumer_lag", Help: "Messages between the broker's end offset and the next offset to process, by topic and partition.",
	}, []string{"topic", "partition"})
	reg.MustRegister(g)
	return g
}

// RunGroupLag sets lag{topic, partition} for the group's topics every interval, from
// the broker's offsets: kafka-go's reader reports no lag for a consumer group, and a partition
// this instance does not own still lags. It returns nil when ctx ends. Broker errors are logged
// and the gauges keep their last value until the next good reading.
func RunGroupLag(ctx context.Context, cfg GroupLagConfig, lag *prometheus.GaugeVec, logger *slog.Logger) error {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultLagInterval
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	log := logger.With("component", "lag", "group", cfg.GroupID)
	client := cfg.Kafka.Client()
	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	failing := false
	for {
		lags, err := GroupLag(ctx, client, cfg.GroupID, cfg.Topics)
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
			for topic, parts := range lags {
				for p, n := range parts {
					lag.WithLabelValues(topic, strconv.Itoa(p)).Set(float64(n))
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
	partitions, err := Partitions(ctx, client, topics...)
	if err != nil {
		return nil, err
	}
	// Kafka refuses a ListOffsets request naming a partition twice: first and end offsets are
	// two requests.
	first, err := ListOffsets(ctx, client, partitions, kafka.FirstOffset)
	if err != nil {
		return nil, err
	}
	end, err := ListOffsets(ctx, client, partitions, kafka.LastOffset)
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

// Partitions returns the partition ids of every topic, from the brokers' metadata. A topic that
// does not exist or has no partitions is an error.
func Partitions(ctx context.Context, client *kafka.Client, topics ...string) (map[string][]int, error) {
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
	for _, t := range topics {
		if len(partitions[t]) == 0 {
			return nil, fmt.Errorf("topic %s has no partitions (does it exist?)", t)
		}
	}
	return partitions, nil
}

// TopicOffsets returns the first (kafka.FirstOffset) or end (kafka.LastOffset) offset of every
// partition of topic.
func TopicOffsets(ctx context.Context, client *kafka.Client, topic string, which int64) (map[int]int64, error) {
	partitions, err := Partitions(ctx, client, topic)
	if err != nil {
		return nil, err
	}
	offs, err := ListOffsets(ctx, client, partitions, which)
	if err != nil {
		return nil, err
	}
	return offs[topic], nil
}

// ListOffsets returns the first (kafka.FirstOffset) or end (kafka.LastOffset) offset of every
// partition named. It is the one place safetynet asks the brokers for offsets (lag, the
// registry's end, a restore's range, the bench).
func ListOffsets(ctx context.Context, client *kafka.Client, partitions map[string][]int, which int64) (map[string]map[int]int64, error) {
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
