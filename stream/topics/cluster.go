package topics

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/segmentio/kafka-go"
)

// Difference is one way a cluster differs from the plan.
type Difference struct {
	Topic string // the topic name
	Role  string
	What  string // e.g. "missing", "partitions 4, want 6 (the same as safetynet.household-events)"
}

func (d Difference) String() string { return d.Topic + " (" + d.Role + "): " + d.What }

// Create creates the topics of plan that the cluster lacks, each with its partitions,
// replication and configs, and returns the names it created. Existing topics are left as they
// are: Check reports how they differ.
func Create(ctx context.Context, client *kafka.Client, plan []Topic) ([]string, error) {
	existing, err := describe(ctx, client, plan)
	if err != nil {
		return nil, err
	}
	var req kafka.CreateTopicsRequest
	for _, t := range plan {
		if _, ok := existing[t.Name]; ok {
			continue
		}
		tc := kafka.TopicConfig{Topic: t.Name, NumPartitions: t.Partitions, ReplicationFactor: t.ReplicationFactor}
		for _, k := range sortedKeys(t.Configs) {
			tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: k, ConfigValue: t.Configs[k]})
		}
		req.Topics = append(req.Topics, tc)
	}
	if len(req.Topics) == 0 {
		return nil, nil
	}
	resp, err := client.CreateTopics(ctx, &req)
	if err != nil {
		return nil, fmt.Errorf("create topics: %w", err)
	}
	var created []string
	var errs []error
	for _, tc := range req.Topics {
		switch err := resp.Errors[tc.Topic]; {
		case err == nil:
			created = append(created, tc.Topic)
		case errors.Is(err, kafka.TopicAlreadyExists): // made meanwhile, by another create
		default:
			errs = append(errs, fmt.Errorf("create topic %s: %w", tc.Topic, err))
		}
	}
	return created, errors.Join(errs...)
}

// Check compares the cluster's topics with plan and returns every difference: a missing topic,
// a co-partitioned topic whose partition count is not the plan's (strict) or not its peers', a
// replication factor, a config value. With strict false the co-partitioned topics need only
// agree with each other, whatever their count.
func Check(ctx context.Context, client *kafka.Client, plan []Topic, strict bool) ([]Difference, error) {
	existing, err := describe(ctx, client, plan)
	if err != nil {
		return nil, err
	}
	var diffs []Difference
	// The co-partitioned topics' reference count without strict: household-events', or the
	// first existing co-partitioned topic's.
	var ref *Topic
	refCount := 0
	for i, t := range plan {
		if e, ok := existing[t.Name]; ok && t.CoPartitioned && (ref == nil || t.Role == "household-events") {
			ref, refCount = &plan[i], e.partitions
		}
	}
	configs, err := describeConfigs(ctx, client, plan, existing)
	if err != nil {
		return nil, err
	}
	for _, t := range plan {
		e, ok := existing[t.Name]
		if !ok {
			diffs = append(diffs, Difference{t.Name, t.Role, fmt.Sprintf("missing (want %d partitions, replication %d, %s)", t.Partitions, t.ReplicationFactor, configText(t.Configs))})
			continue
		}
		if t.CoPartitioned {
			switch {
			case strict && e.partitions != t.Partitions:
				diffs = append(diffs, Difference{t.Name, t.Role, fmt.Sprintf("partitions %d, want %d (co-partitioned topics must all have the same count)", e.partitions, t.Partitions)})
			case !strict && e.partitions != refCount:
				diffs = append(diffs, Difference{t.Name, t.Role, fmt.Sprintf("partitions %d, want %d, the same as %s (co-partitioned)", e.partitions, refCount, ref.Name)})
			}
		}
		if e.replication != t.ReplicationFactor {
			diffs = append(diffs, Difference{t.Name, t.Role, fmt.Sprintf("replication factor %d, want %d", e.replication, t.ReplicationFactor)})
		}
		for _, k := range sortedKeys(t.Configs) {
			got, set := configs[t.Name][k]
			switch {
			case !set:
				diffs = append(diffs, Difference{t.Name, t.Role, fmt.Sprintf("%s not reported by the broker, want %s", k, t.Configs[k])})
			case got != t.Configs[k]:
				diffs = append(diffs, Difference{t.Name, t.Role, fmt.Sprintf("%s=%s, want %s", k, got, t.Configs[k])})
			}
		}
	}
	return diffs, nil
}

type topicState struct {
	partitions  int
	replication int // the fewest replicas of any partition
}

// describe returns the partition count and replication factor of the plan's topics that exist.
func describe(ctx context.Context, client *kafka.Client, plan []Topic) (map[string]topicState, error) {
	names := make([]string, len(plan))
	for i, t := range plan {
		names[i] = t.Name
	}
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: names})
	if err != nil {
		return nil, fmt.Errorf("topic metadata: %w", err)
	}
	out := map[string]topicState{}
	for _, t := range meta.Topics {
		switch {
		case errors.Is(t.Error, kafka.UnknownTopicOrPartition):
			continue
		case t.Error != nil:
			return nil, fmt.Errorf("topic %s: %w", t.Name, t.Error)
		case len(t.Partitions) == 0:
			continue
		}
		s := topicState{partitions: len(t.Partitions), replication: len(t.Partitions[0].Replicas)}
		for _, p := range t.Partitions {
			s.replication = min(s.replication, len(p.Replicas))
		}
		out[t.Name] = s
	}
	return out, nil
}

// describeConfigs returns the planned config keys of the existing topics as the brokers report them.
func describeConfigs(ctx context.Context, client *kafka.Client, plan []Topic, existing map[string]topicState) (map[string]map[string]string, error) {
	var req kafka.DescribeConfigsRequest
	for _, t := range plan {
		if _, ok := existing[t.Name]; ok {
			req.Resources = append(req.Resources, kafka.DescribeConfigRequestResource{
				ResourceType: kafka.ResourceTypeTopic, ResourceName: t.Name, ConfigNames: sortedKeys(t.Configs),
			})
		}
	}
	out := map[string]map[string]string{}
	if len(req.Resources) == 0 {
		return out, nil
	}
	resp, err := client.DescribeConfigs(ctx, &req)
	if err != nil {
		return nil, fmt.Errorf("describe topic configs: %w", err)
	}
	for _, r := range resp.Resources {
		if r.Error != nil {
			return nil, fmt.Errorf("describe configs of topic %s: %w", r.ResourceName, r.Error)
		}
		m := map[string]string{}
		for _, e := range r.ConfigEntries {
			m[e.ConfigName] = e.ConfigValue
		}
		out[r.ResourceName] = m
	}
	return out, nil
}

func configText(c map[string]string) string {
	var parts []string
	for _, k := range sortedKeys(c) {
		parts = append(parts, k+"="+c[k])
	}
	return strings.Join(parts, " ")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
