package intake

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"safetynet/stream/kafkaio"
)

// tableView keeps a table in the store as a view of a whole topic: the person table of the
// registry topic, the parked table of the parked topic. Every instance reads every partition
// (one reader per partition, no consumer group) from the offset stored in Badger beside the
// rows, and apply folds each batch into the table with the partition's next offset in the same
// transaction. The view is caught up once every partition has been read to the end offset it
// had when the view started.
type tableView struct {
	what  string // "registry", "parked": the stage in log lines, and the topic in messages
	topic string
	batch int // the most records in one batch
	// apply folds a batch of partition p into the table, with p's next offset, in one transaction.
	apply func(ctx context.Context, p int, batch []kafka.Message) error
	// caughtUp is called once, when every partition has been read to its end offset at start,
	// with the log of the partition read last (of the topic if it has none).
	caughtUp func(log *slog.Logger)
	// Optional: reading is logged with the number of partitions once they are known;
	// partitionCaughtUp is called as each partition reaches its end offset at start; lag gives
	// the gauge of a partition's lag behind the topic's end.
	reading           string
	partitionCaughtUp func(log *slog.Logger)
	lag               func(p int) prometheus.Gauge
}

// run reads every partition of the topic into the table until ctx ends.
func (v tableView) run(ctx context.Context, i *Intake) error {
	log := i.log.With("stage", v.what, "topic", v.topic)
	var ends map[int]int64
	err := kafkaio.Retry(ctx, log, "look up the "+v.what+" topic's partitions and end offsets", func() error {
		var err error
		ends, err = kafkaio.TopicOffsets(ctx, i.cfg.Kafka.Client(), v.topic, kafka.LastOffset)
		return err
	})
	if err != nil {
		return nil // ctx ended
	}
	var pending atomic.Int64
	pending.Store(int64(len(ends)))
	if len(ends) == 0 {
		v.caughtUp(log)
	}
	if v.reading != "" {
		log.Info(v.reading, "partitions", len(ends))
	}
	partitionCaughtUp := func(log *slog.Logger) {
		if v.partitionCaughtUp != nil {
			v.partitionCaughtUp(log)
		}
		if pending.Add(-1) == 0 {
			v.caughtUp(log)
		}
	}
	g, ctx := errgroup.WithContext(ctx)
	for p, end := range ends {
		g.Go(func() error { return v.readPartition(ctx, i, log.With("partition", p), p, end, partitionCaughtUp) })
	}
	return g.Wait()
}

func (v tableView) readPartition(ctx context.Context, i *Intake, log *slog.Logger, p int, end int64, caughtUp func(*slog.Logger)) error {
	next, ok, err := i.store.Offset(v.topic, p)
	if err != nil {
		return err
	}
	if !ok {
		next = kafka.FirstOffset
	}
	caught := end == 0 || (ok && next >= end)
	if caught {
		caughtUp(log)
	}
	rc := i.cfg.Kafka.PartitionReader(v.topic, p, 250*time.Millisecond, 10<<20)
	rc.ErrorLogger = kafkaio.Logger(log, i.cfg.ReadTimeouts.WithLabelValues("intake"))
	r := kafka.NewReader(rc)
	defer r.Close()
	if err := r.SetOffset(next); err != nil {
		return fmt.Errorf("%s %s/%d: start at offset %d: %w", v.what, v.topic, p, next, err)
	}
	var lag prometheus.Gauge
	if v.lag != nil {
		lag = v.lag(p)
		lag.Set(float64(end - max(next, 0)))
	}
	return kafkaio.Consume(ctx, r, batchWindow, v.batch, log, "the "+v.what+" partition", func(ctx context.Context, batch []kafka.Message) error {
		if err := v.apply(ctx, p, batch); err != nil {
			return err
		}
		if lag != nil {
			lag.Set(float64(max(r.Lag(), 0)))
		}
		if !caught && batch[len(batch)-1].Offset+1 >= end {
			caught = true
			caughtUp(log)
		}
		return nil
	})
}
