package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"safetynet/stream/embedded"
	"safetynet/stream/topics"
)

// brokerCmd runs an embedded Kafka-protocol broker with every safetynet topic created, until
// stopped. It is for the demo, tests and trying things out; production uses a real cluster.
func brokerCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:9092", "address to listen on")
	partitions := fs.Int("partitions", 4, "partitions of every topic")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *partitions < 1 || *partitions > 1024 {
		return fmt.Errorf("broker: -partitions %d is out of range 1–1024", *partitions)
	}
	topics, err := topicsFromEnv(os.Environ())
	if err != nil {
		return err
	}
	b, err := embedded.Start(*addr, *partitions, allTopics(topics)...)
	if err != nil {
		return err
	}
	defer b.Close()
	fmt.Fprintf(stdout, "embedded Kafka-protocol broker listening on %s with %d partitions per topic; stop with Ctrl-C\n", b.Addrs()[0], *partitions)
	<-ctx.Done()
	return nil
}

// topicsFromEnv reads the SAFETYNET_TOPIC_* variables (defaults for those unset).
func topicsFromEnv(environ []string) (topics.Topics, error) {
	m := environMap(environ)
	m[envPrefix+"PSEUDONYM_KEY"] = "5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d" // not used: only topic names are read
	var c config
	if err := parseEnv(&c, m); err != nil {
		return topics.Topics{}, err
	}
	return c.Topics, c.Topics.Validate()
}

// allTopics lists every topic safetynet reads or writes.
func allTopics(t topics.Topics) []string {
	return append(t.FeedTopics(), t.HouseholdEvents, t.DLQ, t.Alerts, t.Changelog)
}
