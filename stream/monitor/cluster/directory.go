package cluster

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"safetynet/stream/kafkaio"
)

// Directory is every instance's view of the monitor group: which member (by advertised URL)
// owns which household-events partition. It polls DescribeGroups every second, and at once
// when asked for a partition it does not know an owner for.
type Directory struct {
	kafka   kafkaio.Kafka
	group   string
	topic   string
	self    string
	logger  *slog.Logger
	refresh chan struct{}

	mu         sync.Mutex
	partitions int            // of the household-events topic
	owners     map[int]string // partition → owner URL, only while the group is stable
	members    []string       // URLs of the members, sorted
}

// NewDirectory returns the directory of the monitor group groupID over topic; self is this
// instance's advertised URL.
func NewDirectory(k kafkaio.Kafka, groupID, topic, self string, logger *slog.Logger) *Directory {
	return &Directory{kafka: k, group: groupID, topic: topic, self: self, logger: logger.With("stage", "directory"),
		refresh: make(chan struct{}, 1), owners: map[int]string{}}
}

// Self is this instance's advertised URL.
func (d *Directory) Self() string { return d.self }

// Run keeps the directory current until ctx ends.
func (d *Directory) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		d.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.refresh:
		}
	}
}

func (d *Directory) poll(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	client := d.kafka.Client()
	if d.Partitions() == 0 {
		meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{d.topic}})
		if err == nil && len(meta.Topics) == 1 && meta.Topics[0].Error == nil {
			d.mu.Lock()
			d.partitions = len(meta.Topics[0].Partitions)
			d.mu.Unlock()
		}
	}
	resp, err := client.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{d.group}})
	owners, members := map[int]string{}, []string(nil)
	if err != nil || len(resp.Groups) != 1 || resp.Groups[0].Error != nil {
		if ctx.Err() == nil {
			d.logger.Debug("describe the monitor group", "err", err)
		}
	} else if g := resp.Groups[0]; g.GroupState == "Stable" {
		for _, m := range g.Members {
			url := string(m.MemberMetadata.UserData)
			if url == "" {
				continue
			}
			members = append(members, url)
			for _, t := range m.MemberAssignments.Topics {
				if t.Topic != d.topic {
					continue
				}
				for _, p := range t.Partitions {
					owners[p] = url
				}
			}
		}
	}
	sort.Strings(members)
	d.mu.Lock()
	d.owners, d.members = owners, members
	d.mu.Unlock()
}

// Partitions is the number of household-events partitions (0 until known).
func (d *Directory) Partitions() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.partitions
}

// Owner is the URL of the member that owns partition p, "" while none is known (rebalancing).
func (d *Directory) Owner(p int) string {
	d.mu.Lock()
	u := d.owners[p]
	d.mu.Unlock()
	if u == "" {
		select {
		case d.refresh <- struct{}{}:
		default:
		}
	}
	return u
}

// view is the owners of the partitions and the members, nil while the group rebalances.
func (d *Directory) view() (map[int]string, []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.owners, d.members
}

// Members lists the URLs of the group's members (sorted); nil while the group rebalances.
func (d *Directory) Members() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.members...)
}

// PartitionOf is the household-events partition of a household: the producers' hash balancer
// (kafkaio.HouseholdBalancer) over n partitions.
func PartitionOf(householdID string, n int) int {
	parts := make([]int, n)
	for i := range parts {
		parts[i] = i
	}
	return kafkaio.HouseholdBalancer().Balance(kafka.Message{Key: []byte(householdID)}, parts...)
}
