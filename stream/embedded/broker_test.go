package embedded_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"

	"safetynet/stream/embedded"
	"safetynet/stream/kafkaio"
)

// TestDeadJoinerLeavesTheGroup: a consumer that sends JoinGroup and dies before the broker
// answers it (a process SIGKILLed while it joins, as the kill tests do) is a member of the next
// generation and is assigned partitions, but never heartbeats. Like Kafka, the broker must expire
// it after its session timeout: then the live member holds every partition again and reads the
// records produced to all of them. (kfake alone arms a member's session timer only when it
// delivers the join answer, so such a member held its partitions for ever: the kill test's intake
// group stopped reading half the feed partitions.)
func TestDeadJoinerLeavesTheGroup(t *testing.T) {
	const (
		topic, group = "t", "g"
		partitions   = 4
		session      = 6 * time.Second // kfake's least session timeout
	)
	b, err := embedded.Start("127.0.0.1:0", partitions, topic)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	addr := b.Addrs()[0]
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: topic, Balancer: &kafka.RoundRobin{}, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
	t.Cleanup(func() { w.Close() })
	produce := func(wave string) {
		t.Helper()
		msgs := make([]kafka.Message, 2*partitions)
		for n := range msgs {
			msgs[n] = kafka.Message{Value: fmt.Appendf(nil, "%s-%d", wave, n)}
		}
		if err := w.WriteMessages(context.Background(), msgs...); err != nil {
			t.Fatal(err)
		}
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: []string{addr}, GroupID: group, Topic: topic, StartOffset: kafka.FirstOffset,
		SessionTimeout: session, RebalanceTimeout: session, HeartbeatInterval: 500 * time.Millisecond,
		JoinGroupBackoff: 100 * time.Millisecond, MaxWait: kafkaio.FetchWait(100 * time.Millisecond),
	})
	t.Cleanup(func() { r.Close() })
	// read reads n records within d and reports the partitions they came from.
	read := func(n int, d time.Duration) (map[int]int, error) {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		got := map[int]int{}
		for range n {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				return got, err
			}
			got[m.Partition]++
			if err := r.CommitMessages(ctx, m); err != nil {
				return got, err
			}
		}
		return got, nil
	}
	produce("before")
	if got, err := read(2*partitions, 30*time.Second); err != nil {
		t.Fatalf("the live member read %v before the dead joiner came: %v", got, err)
	}

	// The dead joiner: JoinGroup as kafka-go sends it (v2, no member id yet), and the connection
	// closed before the answer.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = []string{topic}
	join := kmsg.NewPtrJoinGroupRequest()
	join.Version = 2
	join.Group = group
	join.SessionTimeoutMillis = int32(session / time.Millisecond)
	join.RebalanceTimeoutMillis = int32(session / time.Millisecond)
	join.ProtocolType = "consumer"
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: meta.AppendTo(nil)}}
	if _, err := conn.Write(kmsg.NewRequestFormatter(kmsg.FormatterClientID("dead")).AppendRequest(nil, join, 1)); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	joined := time.Now()

	// The live member rejoins at its next heartbeat; the generation it makes holds the dead joiner.
	deadline := time.Now().Add(20 * time.Second)
	for {
		gi := b.Cluster().GroupInfo(group)
		if gi != nil && gi.State == "Stable" && len(gi.Members) == 2 {
			t.Logf("generation %d: %d members, %v and %v partitions", gi.Epoch, len(gi.Members), gi.Members[0].NumAssigned(), gi.Members[1].NumAssigned())
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dead joiner never became a member: %+v", gi)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Records on every partition: the live member must read them all once the dead one's session
	// has run out (and the group has rebalanced).
	produce("after")
	got, err := read(2*partitions, 4*session)
	gi := b.Cluster().GroupInfo(group)
	if err != nil {
		t.Fatalf("the live member read %v of the records produced to %d partitions in %s after the dead joiner joined: %v; group %s, %d members",
			got, partitions, time.Since(joined).Round(time.Second), err, gi.State, len(gi.Members))
	}
	t.Logf("the live member read every partition's records %s after the dead joiner joined", time.Since(joined).Round(100*time.Millisecond))
	if len(gi.Members) != 1 || gi.Members[0].NumAssigned() != partitions {
		t.Errorf("group %s: %d members, want the live one alone with all %d partitions", gi.State, len(gi.Members), partitions)
	}
}
