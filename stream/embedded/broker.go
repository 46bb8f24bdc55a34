// Package embedded runs an in-process Kafka-protocol broker (kfake) for the demo and tests.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Broker is an in-process server of the Kafka wire protocol (kfake), for the demo and
// for tests. Production runs against a real Kafka cluster.
type Broker struct {
	cluster *kfake.Cluster
	groups  *groupNames
	stop    context.CancelFunc
	done    chan struct{}
}

// Start listens on addr ("127.0.0.1:0" for any free port) and creates every
// topic with the given number of partitions.
func Start(addr string, partitions int, topics ...string) (*Broker, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("broker address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("broker address %q: port: %w", addr, err)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.SeedTopics(int32(partitions), topics...),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(host, strconv.Itoa(port)))
		}),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(partitions),
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded broker on %s: %w", addr, err)
	}
	b := &Broker{cluster: c, groups: &groupNames{m: map[string]bool{}}, done: make(chan struct{})}
	// The group names, from the joins (this function only looks; kfake handles the request).
	c.ControlKey(kmsg.JoinGroup.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if j, ok := req.(*kmsg.JoinGroupRequest); ok {
			b.groups.add(j.Group)
		}
		return nil, nil, false
	})
	var ctx context.Context
	ctx, b.stop = context.WithCancel(context.Background())
	go func() {
		defer close(b.done)
		b.armSessions(ctx)
	}()
	return b, nil
}

// Addrs returns the addresses the broker listens on.
func (b *Broker) Addrs() []string { return b.cluster.ListenAddrs() }

// Cluster exposes the kfake cluster, for fault injection in tests.
func (b *Broker) Cluster() *kfake.Cluster { return b.cluster }

// Close stops the broker.
func (b *Broker) Close() {
	b.stop()
	<-b.done
	b.cluster.Close()
}

// groupNames are the consumer groups members have joined.
type groupNames struct {
	mu sync.Mutex
	m  map[string]bool
}

func (g *groupNames) add(name string) {
	g.mu.Lock()
	g.m[name] = true
	g.mu.Unlock()
}

func (g *groupNames) list() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]string, 0, len(g.m))
	for n := range g.m {
		out = append(out, n)
	}
	return out
}

// sessionArmInterval is how often armSessions looks for members without a session timer.
const sessionArmInterval = time.Second

// armSessions makes up for a gap in kfake's consumer groups: kfake arms a member's session timer
// when it delivers the member's JoinGroup answer, and not when the delivery fails. A member that
// joined and died before the answer (a process killed while it joins, its connection closed)
// is nevertheless a member of the new generation, is assigned partitions by the leader, and,
// never heartbeating and never timed, keeps them for ever: nobody reads those partitions again.
// Kafka arms every member's timer when the join completes, so such a member expires after its
// session timeout. armSessions does the same from outside: it sends one heartbeat on behalf of
// every member of a stable group it has not armed yet, which starts kfake's own session timer for
// that member (with the member's session timeout). A live member's heartbeats go on resetting
// that timer, so to it the extra heartbeat is one more of its own; a dead member expires, and the
// group rebalances without it.
func (b *Broker) armSessions(ctx context.Context) {
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(b.Addrs()...), Timeout: 5 * time.Second, Transport: tr}
	armed := map[string]map[string]bool{} // group → member id → armed
	t := time.NewTicker(sessionArmInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, group := range b.groups.list() {
			gi := b.cluster.GroupInfo(group)
			if gi == nil || gi.State != "Stable" {
				continue // a rebalance: every member is answered (or fails to be) before Stable
			}
			was := armed[group]
			now := make(map[string]bool, len(gi.Members))
			for _, m := range gi.Members {
				if was[m.MemberID] {
					now[m.MemberID] = true
					continue
				}
				resp, err := client.Heartbeat(ctx, &kafka.HeartbeatRequest{GroupID: group, GenerationID: gi.Epoch, MemberID: m.MemberID})
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					continue // the broker is failing (fault injection): next tick
				}
				// A rebalance under way also starts the timer; a new generation (illegal
				// generation) or a member gone is for the next tick.
				if resp.Error == nil || errors.Is(resp.Error, kafka.RebalanceInProgress) {
					now[m.MemberID] = true
				}
			}
			armed[group] = now // members no longer in the group are forgotten
		}
	}
}
