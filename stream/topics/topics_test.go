package topics

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"safetynet/stream/kafkatest"
)

// kfake answers Metadata with every partition's replicas and DescribeConfigs with the topic
// keys the plan sets (cleanup.policy, retention.ms, min.insync.replicas), so Check is tested on
// all of them; it refuses a replication factor above its broker count, as Kafka does.

func client(addr string) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second}
}

func testOptions(partitions, replication int) Options {
	o := DefaultOptions()
	o.Partitions, o.ReplicationFactor, o.MinInSyncReplicas = partitions, replication, min(2, replication)
	return o
}

// TestCreateThenCheck: on an empty three-broker cluster Create makes every topic of the plan,
// Check then finds no difference, and a second Create makes nothing.
func TestCreateThenCheck(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.ListenFn(func(network, _ string) (net.Listener, error) {
		return net.Listen(network, "127.0.0.1:0")
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cl := client(c.ListenAddrs()[0])
	plan, err := Plan(testOptions(6, 3))
	if err != nil {
		t.Fatal(err)
	}
	created, err := Create(ctx, cl, plan)
	if err != nil {
		t.Fatal(err)
	}
	if len(created) != len(specs) {
		t.Errorf("created %d topics %v, want all %d of the plan", len(created), created, len(specs))
	}
	diffs, err := Check(ctx, cl, plan, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) != 0 {
		t.Errorf("check after create: %v, want no difference", diffs)
	}
	again, err := Create(ctx, cl, plan)
	if err != nil || len(again) != 0 {
		t.Errorf("second create: created %v, err %v; want nothing", again, err)
	}
	// The topics are what the plan says, read back independently of Check.
	meta, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{"safetynet.changelog", "safetynet.household-events"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range meta.Topics {
		if len(tp.Partitions) != 6 || len(tp.Partitions[0].Replicas) != 3 {
			t.Errorf("%s: %d partitions, %d replicas; want 6 and 3", tp.Name, len(tp.Partitions), len(tp.Partitions[0].Replicas))
		}
	}
}

// TestCheckNamesEachDifference: a cluster with a missing topic, a changelog with more partitions
// than household-events and not compacted, and a registry that deletes by age; Check names each.
func TestCheckNamesEachDifference(t *testing.T) {
	_, addr := kafkatest.Broker(t, 4, "safetynet.household-events")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cl := client(addr)
	plan, err := Plan(testOptions(4, 1))
	if err != nil {
		t.Fatal(err)
	}
	// Everything as planned but three topics, made by hand the wrong way.
	var good []Topic
	for _, tp := range plan {
		switch tp.Role {
		case "changelog", "registry", "dlq":
		default:
			good = append(good, tp)
		}
	}
	if _, err := Create(ctx, cl, good); err != nil {
		t.Fatal(err)
	}
	resp, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		{Topic: "safetynet.changelog", NumPartitions: 6, ReplicationFactor: 1},
		{Topic: "safetynet.feed.registry", NumPartitions: 4, ReplicationFactor: 1,
			ConfigEntries: []kafka.ConfigEntry{{ConfigName: "retention.ms", ConfigValue: "604800000"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for topic, err := range resp.Errors {
		if err != nil {
			t.Fatalf("create %s: %v", topic, err)
		}
	}

	for _, strict := range []bool{false, true} {
		diffs, err := Check(ctx, cl, plan, strict)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range diffs {
			got = append(got, d.String())
		}
		want := []string{
			"safetynet.feed.registry (registry): retention.ms=604800000, want -1",
			"safetynet.changelog (changelog): partitions 6, want 4",
			"safetynet.changelog (changelog): cleanup.policy=delete, want compact",
			"safetynet.dlq (dlq): missing",
		}
		for _, w := range want {
			if !slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, w) }) {
				t.Errorf("strict %v: no difference %q in:\n%s", strict, w, strings.Join(got, "\n"))
			}
		}
		if len(got) != len(want) {
			t.Errorf("strict %v: %d differences, want %d:\n%s", strict, len(got), len(want), strings.Join(got, "\n"))
		}
	}
}

func TestPlan(t *testing.T) {
	plan, err := Plan(testOptions(8, 3))
	if err != nil {
		t.Fatal(err)
	}
	byRole := map[string]Topic{}
	for _, tp := range plan {
		byRole[tp.Role] = tp
	}
	for _, tc := range []struct {
		role, key, want string
	}{
		{"registry", "retention.ms", "-1"},
		{"changelog", "cleanup.policy", "compact"},
		{"dlq", "retention.ms", "2592000000"},
		{"audit", "retention.ms", "-1"},
		{"alerts", "min.insync.replicas", "2"},
	} {
		if got := byRole[tc.role].Configs[tc.key]; got != tc.want {
			t.Errorf("%s %s = %q, want %q", tc.role, tc.key, got, tc.want)
		}
	}
	if _, ok := byRole["changelog"].Configs["retention.ms"]; ok {
		t.Error("the changelog has a time retention; it must keep every household's latest record")
	}
	if !byRole["changelog"].CoPartitioned || !byRole["household-events"].CoPartitioned {
		t.Error("household-events and the changelog must be co-partitioned")
	}

	o := testOptions(8, 3)
	o.AuditRetention = 24 * 365 * time.Hour
	o.Names = map[string]string{"alerts": "district-7.alerts"}
	plan, err = Plan(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range plan {
		if tp.Role == "audit" && tp.Configs["retention.ms"] != "31536000000" {
			t.Errorf("audit retention.ms %q, want 31536000000 (the configured year)", tp.Configs["retention.ms"])
		}
		if tp.Role == "alerts" && tp.Name != "district-7.alerts" {
			t.Errorf("alerts topic %q, want the configured name", tp.Name)
		}
	}

	for _, tc := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"zero partitions", func(o *Options) { o.Partitions = 0 }, "partitions 0"},
		{"min insync above replication", func(o *Options) { o.MinInSyncReplicas = 4 }, "min in-sync replicas 4"},
		{"unknown role", func(o *Options) { o.Names = map[string]string{"alert": "x"} }, `"alert"`},
		{"shared name", func(o *Options) { o.Names = map[string]string{"dlq": "safetynet.alerts"} }, "both"},
		{"short feed retention", func(o *Options) { o.FeedRetention = time.Minute }, "feed retention"},
	} {
		o := testOptions(8, 3)
		tc.edit(&o)
		if _, err := Plan(o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want one naming %s", tc.name, err, tc.want)
		}
	}
}
