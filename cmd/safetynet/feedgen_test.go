package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"safetynet/stream/feedgen"
	"safetynet/stream/kafkatest"
	"safetynet/stream/topics"
)

// topicCount returns the number of records in every partition of topic.
func topicCount(t *testing.T, addr, topic string, partitions int) int {
	t.Helper()
	n := 0
	for p := range partitions {
		conn, err := kafka.DialLeader(context.Background(), "tcp", addr, topic, p)
		if err != nil {
			t.Fatalf("dial %s/%d: %v", topic, p, err)
		}
		first, last, err := conn.ReadOffsets()
		conn.Close()
		if err != nil {
			t.Fatalf("offsets of %s/%d: %v", topic, p, err)
		}
		n += int(last - first)
	}
	return n
}

func TestFeedgenCmd(t *testing.T) {
	t.Setenv("SAFETYNET_TOPIC_HOSPITAL", "agency.hospital")
	topics := topics.Default()
	topics.Hospital = "agency.hospital"
	_, addr := kafkatest.Broker(t, 2, topics.FeedTopics()...)
	t.Setenv("SAFETYNET_KAFKA_BROKERS", addr)

	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := []string{"-households", "150", "-seed", "3", "-limit", "700", "-start", "2025-03-01", "-malformed", "0.01"}
	if err := dispatch(ctx, append([]string{"feedgen"}, args...), &stdout, &stderr); err != nil {
		t.Fatalf("feedgen: %v\n%s", err, stderr.String())
	}

	// The same settings give the same events: count what each topic must hold.
	g := feedgen.New(feedgen.Config{Seed: 3, Households: 150, Start: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC),
		MalformedRate: 0.01, DuplicateRate: feedgen.DefaultDuplicateRate, UnknownPersonRate: feedgen.DefaultUnknownPersonRate})
	want := map[string]int{}
	reg := g.Registry()
	for _, ev := range reg {
		want[topics.Feed(ev.Feed)]++
	}
	for range 700 {
		want[topics.Feed(g.Next().Feed)]++
	}
	for _, topic := range topics.FeedTopics() {
		if got := topicCount(t, addr, topic, 2); got != want[topic] {
			t.Errorf("%s holds %d events, want %d", topic, got, want[topic])
		}
	}
	if !strings.Contains(stdout.String(), "events acknowledged") {
		t.Errorf("stdout: %s", stdout.String())
	}
	for _, ev := range reg[:20] {
		if strings.Contains(stdout.String()+stderr.String(), string(ev.Key)) {
			t.Fatal("a resident ID number appears in the output")
		}
	}
}

func TestFeedgenCmdBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"start not a date", []string{"-start", "yesterday"}, "-start"},
		{"malformed out of range", []string{"-malformed", "2"}, "-malformed"},
		{"no brokers", []string{"-brokers", " , "}, "no brokers"},
		{"extra argument", []string{"now"}, "unexpected"},
		{"negative rate", []string{"-rate", "-5"}, "-rate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := dispatch(context.Background(), append([]string{"feedgen"}, tt.args...), &out, &out)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("feedgen %v: error %v, want one mentioning %q", tt.args, err, tt.want)
			}
		})
	}
}
