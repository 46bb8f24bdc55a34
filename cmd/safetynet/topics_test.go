package main

import (
	"bytes"
	"strings"
	"testing"

	"safetynet/internal/demo"
	"safetynet/stream/kafkatest"
	"safetynet/stream/topics"
)

// TestTopicsCommand: `topics create` on an empty broker makes every topic and `topics check`
// then passes; on a broker whose changelog is not compacted both name the difference and fail.
func TestTopicsCommand(t *testing.T) {
	_, empty := kafkatest.Broker(t, 1)
	flags := []string{"-brokers", empty, "-partitions", "3", "-replication", "1", "-min-insync", "1"}
	var out bytes.Buffer
	if err := dispatch(t.Context(), append([]string{"topics", "create"}, flags...), &out, &out); err != nil {
		t.Fatalf("topics create: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "created safetynet.changelog") || !strings.Contains(out.String(), "all 15 topics as planned") {
		t.Errorf("topics create output:\n%s", out.String())
	}
	out.Reset()
	if err := dispatch(t.Context(), append([]string{"topics", "check"}, flags...), &out, &out); err != nil {
		t.Fatalf("topics check after create: %v\n%s", err, out.String())
	}

	// The embedded broker of `safetynet broker` creates its topics without configs.
	_, seeded := kafkatest.Broker(t, 3, demo.Topics(mustTopics(t))...)
	flags[1] = seeded
	for _, action := range []string{"check", "create"} {
		out.Reset()
		err := dispatch(t.Context(), append([]string{"topics", action}, flags...), &out, &out)
		if err == nil || !strings.Contains(err.Error(), "difference") {
			t.Errorf("topics %s on a non-compacted changelog: err %v, want differences\n%s", action, err, out.String())
		}
		if !strings.Contains(out.String(), "safetynet.changelog (changelog): cleanup.policy=delete, want compact") {
			t.Errorf("topics %s does not name the changelog's cleanup policy:\n%s", action, out.String())
		}
	}
	if err := dispatch(t.Context(), []string{"topics", "check", "-brokers", seeded, "-replication", "1", "-min-insync", "2"}, &out, &out); err == nil || !strings.Contains(err.Error(), "min in-sync replicas 2") {
		t.Errorf("topics check -min-insync 2 -replication 1: err %v, want one naming the option", err)
	}
}

func mustTopics(t *testing.T) topics.Topics {
	t.Helper()
	tp, err := topicsFromEnv(nil)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}
