package kafkaio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"
)

// Group consumes the partitions a consumer group gives this member in micro-batches, one
// generation at a time (intake's group). It does what a kafka-go Reader with a GroupID does,
// with the generation kept beside the records read in it.
//
// Why not the Reader: its CommitMessages hands the offsets to whichever generation's commit
// loop runs when they arrive. A batch fetched before a rebalance and handled after it was
// committed in the new generation, for partitions another member then owned and had already
// read further: the group's committed offset went back, and stayed back until the next
// rebalance (the records between were read and forwarded again, and the group's lag never
// cleared; TestScaleOut caught it as a group that did not catch up).
//
// Here every generation reads its partitions from the offsets the group gave it, and commits
// what it handled with that generation only: at most every CommitEvery while it lasts, and once
// more when it ends, before this member rejoins. The broker accepts that last commit while the
// group prepares the rebalance, so the partition's next owner starts where this member stopped;
// a commit after the next generation has formed is refused (illegal generation), and the next
// owner reads those records again (intake drops them as resends).
type Group struct {
	// Config is the group: ID, Brokers, Dialer, Topics, StartOffset, the heartbeat, session
	// and rebalance timeouts, ErrorLogger.
	Config kafka.ConsumerGroupConfig
	// Reader is how one assigned partition is read (Kafka.PartitionReader and what the caller
	// adds); its offset is the group's.
	Reader func(topic string, partition int) kafka.ReaderConfig
	// A batch is its first record and whatever else arrives within Window of it, up to Max.
	Window time.Duration
	Max    int
	// CommitEvery bounds how often offsets are committed while records flow (a crash reads up
	// to that much again).
	CommitEvery time.Duration
	Log         *slog.Logger
}

// handleFailed carries handle's error out of the generation that met it.
type handleFailed struct{ err error }

func (h handleFailed) Error() string { return h.err.Error() }

// Consume joins the group and hands every batch to handle until ctx ends (it returns nil) or
// handle fails (it returns that error, which ends the loop: handle retries what it can retry
// itself). handle gets ctx, not the generation's: a batch under way when a rebalance starts is
// finished and committed, which holds the rebalance back for as long as one batch takes (the
// group's RebalanceTimeout bounds it: after that the broker drops the member and refuses its
// commit).
func (g Group) Consume(ctx context.Context, handle func(ctx context.Context, batch []kafka.Message) error) error {
	group, err := kafka.NewConsumerGroup(g.Config)
	if err != nil {
		return fmt.Errorf("consumer group %s: %w", g.Config.ID, err)
	}
	defer CloseWithin(group, GroupCloseTimeout, "the "+g.Config.ID+" consumer group", g.Log)
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	ended := func() error { // nil, or handle's error that ended ctx
		if failed, ok := errors.AsType[handleFailed](context.Cause(ctx)); ok {
			return failed.err
		}
		return nil
	}
	backoff := NewBackoff()
	for {
		gen, err := group.Next(ctx)
		if ctx.Err() != nil {
			return ended()
		}
		if err != nil {
			d := backoff.Next()
			g.Log.Warn("cannot join the consumer group; retrying — check that the brokers are reachable", "err", err, "retry_in", d)
			if !Sleep(ctx, d) {
				return ended()
			}
			continue
		}
		backoff.Reset()
		records := make(chan kafka.Message, 256)
		var held []string
		for topic, parts := range gen.Assignments {
			for _, a := range parts {
				held = append(held, fmt.Sprintf("%s/%d", topic, a.ID))
				gen.Start(func(gctx context.Context) { g.read(gctx, topic, a.ID, a.Offset, records) })
			}
		}
		slices.Sort(held)
		g.Log.Info("joined the consumer group", "generation", gen.ID, "partitions", len(held), "held", held)
		gen.Start(func(gctx context.Context) {
			if err := g.batches(ctx, gctx, gen, records, handle); err != nil {
				stop(handleFailed{err})
			}
		})
	}
}

// read sends the records of one partition, from offset, until the generation ends.
func (g Group) read(gctx context.Context, topic string, partition int, offset int64, out chan<- kafka.Message) {
	r := kafka.NewReader(g.Reader(topic, partition))
	defer r.Close()
	if err := r.SetOffset(offset); err != nil {
		g.Log.Error("cannot start reading a partition at the group's offset", "topic", topic, "partition", partition, "offset", offset, "err", err)
		return // ends the generation: the member rejoins and tries again
	}
	backoff := NewBackoff()
	for {
		m, err := r.FetchMessage(gctx)
		if gctx.Err() != nil {
			return
		}
		if err != nil {
			d := backoff.Next()
			g.Log.Warn("cannot read a partition; retrying (check that the brokers are reachable and the topic exists)",
				"topic", topic, "partition", partition, "err", err, "retry_in", d)
			if !Sleep(gctx, d) {
				return
			}
			continue
		}
		backoff.Reset()
		select {
		case out <- m:
		case <-gctx.Done():
			return
		}
	}
}

// batches gathers the generation's records into batches, hands them to handle and commits
// their offsets with the generation, until it ends.
func (g Group) batches(ctx, gctx context.Context, gen *kafka.Generation, records <-chan kafka.Message,
	handle func(ctx context.Context, batch []kafka.Message) error) error {
	handled := map[string]map[int]int64{} // next offset per topic and partition, not yet committed
	lastCommit := time.Now()
	due := time.NewTimer(time.Hour) // the next commit of what is handled, while no batch comes
	due.Stop()
	defer due.Stop()
	commit := func() {
		if len(handled) == 0 {
			return
		}
		if err := gen.CommitOffsets(handled); err != nil {
			g.Log.Warn("cannot commit the group's offsets; the partitions' next reader reads those records again",
				"generation", gen.ID, "err", err)
			if gctx.Err() == nil {
				due.Reset(g.CommitEvery) // kept for the next commit
				return
			}
		}
		clear(handled)
		lastCommit = time.Now()
	}
	defer commit()          // the generation's last: before this member rejoins
	for gctx.Err() == nil { // not another batch once the generation has ended
		var first kafka.Message
		select {
		case <-gctx.Done():
			return nil
		case <-due.C:
			commit()
			continue
		case first = <-records:
		}
		batch := []kafka.Message{first}
		window := time.NewTimer(g.Window)
	gather:
		for len(batch) < g.Max {
			select {
			case m := <-records:
				batch = append(batch, m)
			case <-window.C:
				break gather
			case <-gctx.Done():
				break gather
			}
		}
		window.Stop()
		if err := handle(ctx, batch); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for _, m := range batch {
			if handled[m.Topic] == nil {
				handled[m.Topic] = map[int]int64{}
			}
			handled[m.Topic][m.Partition] = max(handled[m.Topic][m.Partition], m.Offset+1)
		}
		if wait := g.CommitEvery - time.Since(lastCommit); wait > 0 {
			due.Reset(wait)
		} else {
			commit()
		}
	}
	return nil
}
