package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/segmentio/kafka-go"

	"safetynet/stream/topics"
)

const topicsUsage = `usage: safetynet topics create|check|plan [flags]

  create   create every topic of the plan the cluster lacks, then check the cluster
  check    compare the cluster's topics with the plan; name each difference, exit 1 if any
  plan     print the plan (no broker needed)

Topic names come from the SAFETYNET_TOPIC_* variables, TLS and SASL from SAFETYNET_KAFKA_*
(as for safetynet run). Flags:
`

// topicsCmd creates or checks safetynet's topics on a cluster (stream/topics holds the plan).
func topicsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "create" && args[0] != "check" && args[0] != "plan") {
		fmt.Fprint(stderr, topicsUsage)
		return errUsage
	}
	action := args[0]
	def := topics.DefaultOptions()
	fs := flag.NewFlagSet("topics "+action, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, topicsUsage); fs.PrintDefaults() }
	brokers := fs.String("brokers", "", "comma-separated bootstrap brokers (default SAFETYNET_KAFKA_BROKERS)")
	partitions := fs.Int("partitions", def.Partitions, "partitions of every topic created; household-events, the changelog and casework must all have this many (check: only when given, else they must agree with each other)")
	replication := fs.Int("replication", def.ReplicationFactor, "replication factor of every topic")
	minInsync := fs.Int("min-insync", def.MinInSyncReplicas, "min.insync.replicas of every topic (at most -replication)")
	feedRetention := fs.Duration("feed-retention", def.FeedRetention, "retention of the feeds (registry excepted: kept forever) and household-events")
	alertRetention := fs.Duration("alert-retention", def.AlertRetention, "retention of the alert and verification topics")
	auditRetention := fs.Duration("audit-retention", def.AuditRetention, "retention of the audit trail; 0 keeps it forever")
	timeout := fs.Duration("timeout", 30*time.Second, "give up on the brokers after this long")
	if err := fs.Parse(args[1:]); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "safetynet topics %s: unexpected argument %q\n", action, fs.Arg(0))
		return errUsage
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })

	environ := environMap(os.Environ())
	names, err := topicsFromEnv(os.Environ())
	if err != nil {
		return err
	}
	opts := topics.Options{
		Names:      topicNames(names),
		Partitions: *partitions, ReplicationFactor: *replication, MinInSyncReplicas: *minInsync,
		FeedRetention: *feedRetention, AlertRetention: *alertRetention, AuditRetention: *auditRetention,
	}
	plan, err := topics.Plan(opts)
	if err != nil {
		return fmt.Errorf("topics: %w", err)
	}
	if action == "plan" {
		printPlan(stdout, plan)
		return nil
	}

	environ[envPrefix+"PSEUDONYM_KEY"] = "not-needed-for-topics"
	if *brokers != "" {
		environ[envPrefix+"KAFKA_BROKERS"] = *brokers
	}
	var c config
	if err := parseEnv(&c, environ); err != nil {
		return err
	}
	if err := c.validate(); err != nil {
		return err
	}
	kc, err := c.kafka()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	client := &kafka.Client{Addr: kafka.TCP(kc.Brokers...), Transport: kc.Transport(), Timeout: *timeout}

	if action == "create" {
		created, err := topics.Create(ctx, client, plan)
		for _, name := range created {
			fmt.Fprintf(stdout, "created %s\n", name)
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
		fmt.Fprintln(stdout, d)
	}
	if len(diffs) > 0 {
		return fmt.Errorf("topics: %d difference(s) from the plan on %s", len(diffs), strings.Join(kc.Brokers, ","))
	}
	fmt.Fprintf(stdout, "all %d topics as planned on %s\n", len(plan), strings.Join(kc.Brokers, ","))
	return nil
}

// topicNames maps the configured topic names to the plan's roles.
func topicNames(t topics.Topics) map[string]string {
	return map[string]string{
		"registry": t.Registry, "hospital": t.Hospital, "pension": t.Pension,
		"employment": t.Employment, "disability": t.Disability,
		"household-events": t.HouseholdEvents, "dlq": t.DLQ, "alerts": t.Alerts, "changelog": t.Changelog,
	}
}

func printPlan(w io.Writer, plan []topics.Topic) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITIONS\tREPLICATION\tCONFIGS\tWHAT")
	for _, t := range plan {
		parts := fmt.Sprint(t.Partitions)
		if t.CoPartitioned {
			parts += " (co-partitioned)"
		}
		var cfg []string
		for _, k := range []string{"cleanup.policy", "retention.ms", "min.insync.replicas"} {
			if v, ok := t.Configs[k]; ok {
				cfg = append(cfg, k+"="+v)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", t.Name, parts, t.ReplicationFactor, strings.Join(cfg, " "), t.Description)
	}
	tw.Flush()
}
