package produce_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"safetynet/stream/feed"
	"safetynet/stream/feedgen"
	"safetynet/stream/feedgen/produce"
	"safetynet/stream/kafkatest"
)

var testStart = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

func testTopics() map[string]string {
	m := map[string]string{}
	for _, f := range feed.Feeds {
		m[f] = "test.feed." + f
	}
	return m
}

func TestProduce(t *testing.T) {
	topics := testTopics()
	var names []string
	for _, n := range topics {
		names = append(names, n)
	}
	const partitions = 3
	_, addr := kafkatest.Broker(t, partitions, names...)

	cfg := feedgen.Config{Seed: 9, Households: 300, Start: testStart, MalformedRate: 0.02, DuplicateRate: 0.02}
	const limit = 3000
	var logs strings.Builder
	var acked int
	err := produce.Run(context.Background(), []string{addr}, topics, feedgen.New(cfg), produce.Options{
		Limit:      limit,
		Logger:     slog.New(slog.NewTextHandler(&logs, nil)),
		OnProduced: func(n int) { acked = n },
	})
	if err != nil {
		t.Fatalf("Produce: %v", err)
	}

	// The same Config gives the same events: the expected contents of each topic.
	g := feedgen.New(cfg)
	reg := g.Registry()
	want := map[string]map[string]int{} // topic → key|value → count
	count := func(ev feedgen.Event) {
		topic := topics[ev.Feed]
		if want[topic] == nil {
			want[topic] = map[string]int{}
		}
		want[topic][string(ev.Key)+"|"+string(ev.Value)]++
	}
	for _, ev := range reg {
		count(ev)
	}
	for range limit {
		count(g.Next())
	}
	if got, w := acked, len(reg)+limit; got != w {
		t.Errorf("OnProduced last reported %d, want %d", got, w)
	}
	for _, topic := range names {
		n := 0
		for _, c := range want[topic] {
			n += c
		}
		got := map[string]int{}
		msgs := kafkatest.ReadTopic(t, addr, topic)
		if len(msgs) != n {
			t.Fatalf("%s holds %d records, want %d", topic, len(msgs), n)
		}
		for _, m := range msgs {
			got[string(m.Key)+"|"+string(m.Value)]++
		}
		for kv, c := range want[topic] {
			if got[kv] != c {
				t.Fatalf("%s: record %q appears %d times, want %d", topic, kv, got[kv], c)
			}
		}
	}
	// Progress logs name counts, never people.
	for _, ev := range reg[:50] {
		if strings.Contains(logs.String(), string(ev.Key)) {
			t.Fatalf("a resident ID number appears in the logs")
		}
	}
	if !strings.Contains(logs.String(), "feedgen progress") {
		t.Errorf("no progress in the logs: %s", logs.String())
	}
}

func TestProduceRateAndCancel(t *testing.T) {
	topics := testTopics()
	var names []string
	for _, n := range topics {
		names = append(names, n)
	}
	_, addr := kafkatest.Broker(t, 1, names...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var acked int
	// No limit: Produce goes on at its rate until the context ends.
	err := produce.Run(ctx, []string{addr}, topics, feedgen.New(feedgen.Config{Seed: 1, Households: 50, Start: testStart}), produce.Options{
		Rate:         200,
		SkipRegistry: true,
		OnProduced: func(n int) {
			acked = n
			if n >= 20 {
				cancel()
			}
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Produce after cancel: %v, want context.Canceled", err)
	}
	if acked < 20 {
		t.Errorf("acknowledged %d events before cancel, want at least 20", acked)
	}
}

func TestProduceNeedsEveryTopic(t *testing.T) {
	topics := testTopics()
	delete(topics, feed.Disability)
	err := produce.Run(context.Background(), []string{"127.0.0.1:1"}, topics, feedgen.New(feedgen.Config{Seed: 1, Households: 10, Start: testStart}), produce.Options{Limit: 1})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", feed.Disability)) {
		t.Errorf("Produce without a disability topic: %v", err)
	}
}

func TestProduceUntil(t *testing.T) {
	topics := testTopics()
	var names []string
	for _, n := range topics {
		names = append(names, n)
	}
	_, addr := kafkatest.Broker(t, 1, names...)
	cfg := feedgen.Config{Seed: 4, Households: 200, Start: testStart}
	var acked int
	err := produce.Run(context.Background(), []string{addr}, topics, feedgen.New(cfg), produce.Options{
		Until: testStart, SkipRegistry: true, OnProduced: func(n int) { acked = n },
	})
	if err != nil {
		t.Fatalf("Produce: %v", err)
	}
	// Count the events a generator gives before its clock reaches Start.
	g := feedgen.New(cfg)
	want := 0
	for g.Now().Before(testStart) {
		g.Next()
		want++
	}
	if acked != want {
		t.Errorf("produced %d events, want %d: those up to the clock reaching Start", acked, want)
	}
}
