package main

import (
	"fmt"
	"os"

	"safetynet/internal/app"
	"safetynet/stream/embedded"
	"safetynet/stream/topics"
)

// brokerCmd runs an embedded Kafka-protocol broker with every safetynet topic created, until
// stopped. It is for the demo, tests and trying things out; production uses a real cluster.
func brokerCmd(c *call) error {
	fs := c.flags()
	addr := fs.String("addr", "127.0.0.1:9092", "address to listen on")
	partitions := fs.Int("partitions", 4, "partitions of every topic")
	if err := c.parse(fs, 0, 0); err != nil {
		return err
	}
	if *partitions < 1 || *partitions > 1024 {
		return c.badFlag("-partitions %d is out of range 1–1024", *partitions)
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
	fmt.Fprintf(c.stdout, "embedded Kafka-protocol broker listening on %s with %d partitions per topic; stop with Ctrl-C\n", b.Addrs()[0], *partitions)
	<-c.ctx.Done()
	return nil
}

// topicsFromEnv reads the SAFETYNET_TOPIC_* variables (defaults for those unset).
func topicsFromEnv(environ []string) (topics.Topics, error) {
	var c app.Config
	if err := app.ParseEnv(&c, app.EnvironMap(environ)); err != nil {
		return topics.Topics{}, err
	}
	return c.Topics, c.Topics.Validate()
}

// allTopics lists every topic safetynet reads or writes.
func allTopics(t topics.Topics) []string {
	return append(t.FeedTopics(), t.HouseholdEvents, t.DLQ, t.Alerts, t.Changelog, t.Audit, t.Parked)
}
