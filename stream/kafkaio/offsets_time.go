package kafkaio

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// OffsetsAt returns, for every partition named, the offset of the first record whose timestamp
// is at or after t (the broker's time index, as ListOffsets with a timestamp answers it), or the
// partition's end offset when no record is that late. A t before 1970 is the first offset.
func OffsetsAt(ctx context.Context, client *kafka.Client, partitions map[string][]int, t time.Time) (map[string]map[int]int64, error) {
	if t.UnixMilli() <= 0 {
		return ListOffsets(ctx, client, partitions, kafka.FirstOffset)
	}
	ends, err := ListOffsets(ctx, client, partitions, kafka.LastOffset)
	if err != nil {
		return nil, err
	}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for topic, ps := range partitions {
		for _, p := range ps {
			req.Topics[topic] = append(req.Topics[topic], kafka.OffsetRequest{Partition: p, Timestamp: t.UnixMilli()})
		}
	}
	resp, err := client.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("list offsets at %s: %w", t.Format(time.RFC3339), err)
	}
	out := map[string]map[int]int64{}
	for topic := range partitions {
		out[topic] = map[int]int64{}
		for _, po := range resp.Topics[topic] {
			if po.Error != nil {
				return nil, fmt.Errorf("offsets of %s/%d at %s: %w", topic, po.Partition, t.Format(time.RFC3339), po.Error)
			}
			// kafka-go files the answer under the record's timestamp; a broker that found no
			// record answers offset -1 with timestamp -1, which kafka-go reads as LastOffset.
			for off := range po.Offsets {
				out[topic][po.Partition] = off
			}
		}
		for p, end := range ends[topic] {
			if off, ok := out[topic][p]; !ok || off < 0 || off > end {
				out[topic][p] = end
			}
		}
	}
	return out, nil
}
