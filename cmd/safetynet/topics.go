package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"safetynet/internal/app"
	"safetynet/internal/cli"
	"safetynet/stream/topics"
)

// topicsCmd creates, checks or prints safetynet's topics (stream/topics holds the plan). Topic
// names come from the SAFETYNET_TOPIC_* variables, TLS and SASL from SAFETYNET_KAFKA_* (as for
// safetynet run).
func topicsCmd(c *cli.Call) error {
	action := strings.TrimPrefix(c.Cmd.Name, "topics ")
	def := topics.DefaultOptions()
	fs := c.Flags()
	brokers := fs.String("brokers", "", "comma-separated bootstrap brokers (default SAFETYNET_KAFKA_BROKERS)")
	partitions := fs.Int("partitions", def.Partitions, "partitions of every topic created; household-events, the changelog and casework must all have this many (check: only when given, else they must agree with each other)")
	replication := fs.Int("replication", def.ReplicationFactor, "replication factor of every topic")
	minInsync := fs.Int("min-insync", def.MinInSyncReplicas, "min.insync.replicas of every topic (at most -replication)")
	feedRetention := fs.Duration("feed-retention", def.FeedRetention, "retention of the feeds (registry excepted: kept forever) and household-events")
	alertRetention := fs.Duration("alert-retention", def.AlertRetention, "retention of the alert and verification topics")
	auditRetention := fs.Duration("audit-retention", def.AuditRetention, "retention of the audit trail; 0 keeps it forever")
	timeout := fs.Duration("timeout", 30*time.Second, "give up on the brokers after this long")
	if err := c.Parse(fs, 0, 0); err != nil {
		return err
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })

	environ := app.EnvironMap(os.Environ())
	if *brokers != "" {
		environ[app.EnvPrefix+"KAFKA_BROKERS"] = *brokers
	}
	var cfg app.Config
	if err := app.ParseEnv(&cfg, environ); err != nil {
		return err
	}
	if err := cfg.Topics.Validate(); err != nil {
		return err
	}
	opts := topics.Options{
		Names:      cfg.Topics.ByRole(),
		Partitions: *partitions, ReplicationFactor: *replication, MinInSyncReplicas: *minInsync,
		FeedRetention: *feedRetention, AlertRetention: *alertRetention, AuditRetention: *auditRetention,
	}
	plan, err := topics.Plan(opts)
	if err != nil {
		return c.BadFlag("%v", err)
	}
	if action == "plan" {
		topics.WriteTable(c.Stdout, plan)
		return nil
	}
	kc, err := cfg.Kafka()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Ctx, *timeout)
	defer cancel()
	client := &kafka.Client{Addr: kafka.TCP(kc.Brokers...), Transport: kc.Transport(), Timeout: *timeout}

	if action == "create" {
		created, err := topics.Create(ctx, client, plan)
		for _, name := range created {
			fmt.Fprintf(c.Stdout, "created %s\n", name)
		}
		if err != nil {
			return err
		}
	}
	// After create, the co-partitioned topics that existed before must match -partitions too.
	diffs, err := topics.Check(ctx, client, plan, action == "create" || explicit["partitions"])
	if err != nil {
		return err
	}
	for _, d := range diffs {
		fmt.Fprintln(c.Stdout, d)
	}
	if len(diffs) > 0 {
		return fmt.Errorf("topics: %d difference(s) from the plan on %s", len(diffs), strings.Join(kc.Brokers, ","))
	}
	fmt.Fprintf(c.Stdout, "all %d topics as planned on %s\n", len(plan), strings.Join(kc.Brokers, ","))
	return nil
}
