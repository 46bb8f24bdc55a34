package kafkaio_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	. "safetynet/stream/kafkaio"
	"safetynet/stream/kafkatest"
)

// takeover is a group balancer that gives every partition to the member whose user data is
// "B" once it has joined (before that, to the first member): which member owns the partition
// after the rebalance is then known.
type takeover struct{ me string }

func (takeover) ProtocolName() string        { return "takeover" }
func (b takeover) UserData() ([]byte, error) { return []byte(b.me), nil }
func (takeover) AssignGroups(members []kafka.GroupMember, partitions []kafka.Partition) kafka.GroupMemberAssignments {
	to := members[0].ID
	out := kafka.GroupMemberAssignments{}
	for _, m := range members {
		out[m.ID] = map[string][]int{}
		if string(m.UserData) == "B" {
			to = m.ID
		}
	}
	for _, p := range partitions {
		out[to][p.Topic] = append(out[to][p.Topic], p.ID)
	}
	return out
}

// seen is what one member handled, by offset.
type seen struct {
	mu      sync.Mutex
	offsets []int64
}

func (s *seen) add(batch []kafka.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range batch {
		s.offsets = append(s.offsets, m.Offset)
	}
}

func (s *seen) get() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.offsets)
}

// TestGroupCommitsWithTheGenerationItReadIn: member A is handling a batch when member B joins
// and takes the partition over. A's batch is committed before B starts (the rebalance waits for
// it), B reads on from there, and once B has handled everything the group's offset is at the
// end and stays there. With kafka-go's group Reader (which intake used), B read the partition
// from the start while A was still handling, committed the end, and A's commit of its batch,
// made afterwards in the new generation, took the group's offset back to where A's batch ended:
// a lag of the ten records B had read, which never cleared.
func TestGroupCommitsWithTheGenerationItReadIn(t *testing.T) {
	const topic, group = "feed", "the-group"
	_, addr := kafkatest.Broker(t, 1, topic)
	k := Kafka{Brokers: []string{addr}}
	produce := func(from, n int) {
		t.Helper()
		w := k.Writer(topic, SamePartition{})
		defer w.Close()
		msgs := make([]kafka.Message, n)
		for j := range msgs {
			msgs[j] = kafka.Message{Value: fmt.Appendf(nil, "record %d", from+j)}
		}
		if err := w.WriteMessages(t.Context(), msgs...); err != nil {
			t.Fatal(err)
		}
	}
	member := func(name string) Group {
		return Group{
			Config: kafka.ConsumerGroupConfig{
				ID: group, Brokers: k.Brokers, Dialer: k.Dialer(), Topics: []string{topic}, StartOffset: kafka.FirstOffset,
				HeartbeatInterval: 100 * time.Millisecond, SessionTimeout: 6 * time.Second, RebalanceTimeout: 6 * time.Second,
				JoinGroupBackoff: 100 * time.Millisecond, GroupBalancers: []kafka.GroupBalancer{takeover{name}},
			},
			Reader: func(topic string, partition int) kafka.ReaderConfig {
				return k.PartitionReader(topic, partition, 20*time.Millisecond, 1<<20)
			},
			Window: 10 * time.Millisecond, Max: 100, CommitEvery: 20 * time.Millisecond,
			Log: slog.New(slog.DiscardHandler).With("member", name),
		}
	}
	run := func(g Group, handle func(ctx context.Context, batch []kafka.Message) error) {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- g.Consume(ctx, handle) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Consume: %v", err)
			}
		})
	}
	within := func(d time.Duration, what string, ok func() bool) {
		t.Helper()
		for end := time.Now().Add(d); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("%s: not within %s", what, d)
			}
		}
	}
	lag := func() int64 {
		l, err := GroupLag(t.Context(), k.Client(), group, []string{topic})
		if err != nil {
			return -1
		}
		return l[topic][0]
	}

	produce(0, 10)
	var a, b seen
	busy, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	run(member("A"), func(ctx context.Context, batch []kafka.Message) error {
		once.Do(func() {
			close(busy)
			<-release // A is still handling its first batch when B joins
		})
		a.add(batch)
		return nil
	})
	select {
	case <-busy:
	case <-time.After(30 * time.Second):
		t.Fatal("member A handled nothing within 30 s")
	}
	run(member("B"), func(ctx context.Context, batch []kafka.Message) error { b.add(batch); return nil })
	produce(10, 10)
	time.Sleep(time.Second) // B has joined; the rebalance is under way
	close(release)
	within(30*time.Second, "member B handles the partition to its end", func() bool { return slices.Contains(b.get(), 19) })
	within(10*time.Second, "the group's offset at the end", func() bool { return lag() == 0 })
	time.Sleep(300 * time.Millisecond) // many commit intervals of both members
	if l := lag(); l != 0 {
		t.Fatalf("the group's offset went back: lag %d after both members committed (A handled %v, B handled %v)", l, a.get(), b.get())
	}
	aSeen := a.get()
	if len(aSeen) == 0 {
		t.Fatal("A handled nothing")
	}
	for _, o := range b.get() {
		if o <= slices.Max(aSeen) {
			t.Errorf("B handled offset %d again: A's batch %v was not committed before B started", o, aSeen)
		}
	}
}

// TestGroupReturnsHandleError: an error handle returns ends Consume with that error (intake
// stops and the service exits, rather than committing past records it could not handle).
func TestGroupReturnsHandleError(t *testing.T) {
	const topic = "feed"
	_, addr := kafkatest.Broker(t, 2, topic)
	k := Kafka{Brokers: []string{addr}}
	w := k.Writer(topic, SamePartition{})
	if err := w.WriteMessages(t.Context(), kafka.Message{Value: []byte("a")}, kafka.Message{Partition: 1, Value: []byte("b")}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	g := Group{
		Config: kafka.ConsumerGroupConfig{
			ID: "failing", Brokers: k.Brokers, Dialer: k.Dialer(), Topics: []string{topic}, StartOffset: kafka.FirstOffset,
			HeartbeatInterval: 100 * time.Millisecond, JoinGroupBackoff: 100 * time.Millisecond,
		},
		Reader: func(topic string, p int) kafka.ReaderConfig {
			return k.PartitionReader(topic, p, 20*time.Millisecond, 1<<20)
		},
		Window: 10 * time.Millisecond, Max: 10, CommitEvery: 20 * time.Millisecond,
		Log: slog.New(slog.DiscardHandler),
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	failure := fmt.Errorf("the store is full")
	err := g.Consume(ctx, func(context.Context, []kafka.Message) error { return failure })
	if err != failure {
		t.Fatalf("Consume returned %v, want handle's error %q", err, failure)
	}
	lag, lerr := GroupLag(t.Context(), k.Client(), "failing", []string{topic})
	if lerr != nil {
		t.Fatal(lerr)
	}
	if lag[topic][0]+lag[topic][1] != 2 {
		t.Errorf("lag after a failed batch = %v, want both records uncommitted", lag)
	}
}
