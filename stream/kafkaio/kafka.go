// Package kafkaio is how every stage talks to Kafka: connection settings (TLS, SASL), writers
// that wait for acknowledgement, the micro-batch fetch, offsets and lag, and the retry backoff.
// It knows nothing of feeds, households or alerts.
package kafkaio

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
)

// Kafka is how to reach the cluster: brokers, and optionally TLS and SASL.
type Kafka struct {
	Brokers []string
	TLS     *tls.Config
	SASL    sasl.Mechanism
}

// Dialer is for readers and consumer groups.
func (k Kafka) Dialer() *kafka.Dialer {
	return &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true, TLS: k.TLS, SASLMechanism: k.SASL}
}

// Client is for admin requests: metadata, offsets, group offsets.
func (k Kafka) Client() *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(k.Brokers...), Transport: k.Transport(), Timeout: 10 * time.Second}
}

// Transport is for writers and admin requests.
func (k Kafka) Transport() *kafka.Transport {
	return &kafka.Transport{DialTimeout: 10 * time.Second, TLS: k.TLS, SASL: k.SASL, IdleTimeout: time.Minute}
}

// MaxBatchBytes bounds the records a writer sends to one partition in one request. Kafka refuses
// a record batch above the topic's max.message.bytes (1 MiB by default); kafka-go estimates a
// record's size a few bytes short of its encoded size, so the bound leaves 48 KiB for that and
// the batch header. Every record safetynet writes is smaller (docs/operations.md, "Record sizes").
const MaxBatchBytes = 1_000_000

// WriterBatchSize is the most records a writer sends to one partition in one request. kafka-go
// allocates that many message slots (about 150 bytes each) for every request it starts, however
// few records go in it: at 1,000 the writers allocated a fifth of the service's bytes (mostly
// for requests of a few alerts or household events). A monitor batch's changelog (up to 500
// records in one partition) goes out as a few requests in a row instead of one.
const WriterBatchSize = 128

// ReadBackoffMin is the ReadBackoffMin of the readers on the event-to-alert path: intake's
// consumer group, the monitor's partitions and the bench's alert readers. After a failed read
// (an i/o timeout: see FetchWait; kafka-go issues #726 and #998) the reader drops the
// connection, sleeps ReadBackoffMin and dials again while the records that arrived wait.
// kafka-go's default, 100 ms, put a 100 ms step into the bench's event-to-alert tail. The sleep
// grows with the square of the failed attempts up to ReadBackoffMax, so a broker that is down is
// not hammered.
const ReadBackoffMin = 5 * time.Millisecond

// FetchWait is the MaxWait to give a kafka-go Reader whose empty fetches the broker should hold
// for poll. kafka-go times every fetch out at MaxWait and asks the broker to hold an empty one
// for MaxWait less 1 s (from 1 s up; below it, for three quarters of MaxWait), so a MaxWait of
// 1 s + poll leaves a second for the answer to arrive. A MaxWait of 100 ms left 25 ms: a broker
// that took longer to answer (busy, behind a slow link, or sending megabytes to a reader that
// fell behind) failed every read with an i/o timeout, and the reader dropped the connection and
// asked again from the same offset, never getting its records. Reader.Close waits for the fetch
// in flight, which the broker holds for at most poll when there is nothing to send.
func FetchWait(poll time.Duration) time.Duration { return time.Second + poll }

// ToEndHold is the broker's hold (FetchWait's poll) for a reader that reads up to an end offset
// it knows and then closes: restore, catch-up, the audit log, backtests. It never waits for
// records that are not there yet; only the fetch after the last record is held, and Close waits
// for it, so that wait is kept short (at 200 ms each partition of an audit query took 200 ms).
const ToEndHold = 10 * time.Millisecond

// ToEndBytes is the MaxBytes of those readers (with ToEndHold). The embedded broker builds a
// fetch's whole answer before it sends any of it, so the first record waits for all of it, and
// the service waits idle meanwhile: at 64 MiB a restore of 1,000,000 households on the bench's
// broker had its first changelog record 3.4–7.6 s after it asked; at 8 MiB the first progress
// line, at 2 s, already counted 55,000 records, and the slowest partition's restore took 13.8
// and 22.3 s against 21.8 and 25.4 s (docs/performance.md, twenty-third round). 8 MiB is still
// thousands of records per request.
const ToEndBytes = 8 << 20

// PartitionReader is the configuration of a kafka-go Reader of one partition as every reader of
// the service has it: MinBytes 1 (the broker answers as soon as a record is there), maxBytes per
// fetch, and MaxWait FetchWait(hold). Callers add what is theirs (queue size, error logger,
// backoff) before kafka.NewReader.
func (k Kafka) PartitionReader(topic string, partition int, hold time.Duration, maxBytes int) kafka.ReaderConfig {
	return kafka.ReaderConfig{
		Brokers: k.Brokers, Dialer: k.Dialer(), Topic: topic, Partition: partition,
		MinBytes: 1, MaxBytes: maxBytes, MaxWait: FetchWait(hold),
	}
}

// Writer returns a writer to topic that waits for all in-sync replicas, flushes within half a
// millisecond (a monitor batch waits for its acknowledgements, so the linger is on the
// event-to-alert path; a full batch goes at once), and places messages with balancer. (A
// kafka-go Writer literal would ask for no acknowledgement, ignore keys and wait a second
// before sending.)
func (k Kafka) Writer(topic string, balancer kafka.Balancer) *kafka.Writer {
	return &kafka.Writer{
		Addr:                   kafka.TCP(k.Brokers...),
		Topic:                  topic,
		Balancer:               balancer,
		RequiredAcks:           kafka.RequireAll,
		BatchTimeout:           500 * time.Microsecond,
		BatchSize:              WriterBatchSize,
		BatchBytes:             MaxBatchBytes,
		MaxAttempts:            3,
		WriteBackoffMin:        50 * time.Millisecond,
		WriteBackoffMax:        time.Second,
		AllowAutoTopicCreation: false,
		Transport:              &writerTransport{RoundTripper: k.Transport()},
	}
}

// HouseholdBalancer places household-keyed messages: the household-events topic and the
// changelog share it, so a household's events and its state live in partitions of the same
// number.
func HouseholdBalancer() kafka.Balancer { return &kafka.Hash{} }

// samePartition places a message in the partition set on it: the changelog record of a
// household goes to the partition of the household-events topic it was built from.
type SamePartition struct{}

func (SamePartition) Balance(msg kafka.Message, partitions ...int) int { return msg.Partition }

// Logger routes kafka-go's error log to slog: a reader or group stopped on purpose ("context
// canceled") at debug, anything else as a warning an operator may need to act on. An "i/o
// timeout" was routine while readers' MaxWait left the broker 25 ms to answer (it was logged at
// debug, and a partition that never got its records logged nothing); with FetchWait it means the
// broker was more than a second late, and the warning says where to look.
// Each i/o timeout also counts in timeouts (NewReadTimeouts; nil counts nothing).
func Logger(log *slog.Logger, timeouts prometheus.Counter) kafka.Logger {
	return kafka.LoggerFunc(func(msg string, args ...any) {
		text := "kafka: " + fmt.Sprintf(msg, args...)
		switch {
		case strings.Contains(text, "context canceled"):
			log.Debug(text)
		case strings.Contains(text, "i/o timeout"):
			if timeouts != nil {
				timeouts.Inc()
			}
			log.Warn(text + " — the broker did not answer in time (a fetch: a second after its hold); the client dials again and resumes where it was: check the broker's load and the network to it")
		default:
			log.Warn(text)
		}
	})
}

// FetchBatch is the micro-batch of every consuming loop: it waits for a first message (at most
// firstWait; 0 waits until ctx ends), then takes whatever else arrives within window of it, up
// to max. A firstWait that passes with nothing gives an empty batch and no error. A fetch error
// after the first message ends the batch early and is returned with it.
func FetchBatch(ctx context.Context, r *kafka.Reader, firstWait, window time.Duration, max int) ([]kafka.Message, error) {
	fctx, cancel := ctx, context.CancelFunc(func() {})
	if firstWait > 0 {
		fctx, cancel = context.WithTimeout(ctx, firstWait)
	}
	m, err := r.FetchMessage(fctx)
	cancel()
	if err != nil {
		if firstWait > 0 && errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return nil, nil
		}
		return nil, err
	}
	batch := []kafka.Message{m}
	bctx, cancel := context.WithTimeout(ctx, window)
	defer cancel()
	for len(batch) < max {
		m, err := r.FetchMessage(bctx)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return batch, nil
			}
			return batch, err
		}
		batch = append(batch, m)
	}
	return batch, nil
}

// Consume is the consuming loop of a reader of one partition that handles records in
// micro-batches (the registry and parked-table readers; a consumer group's is Group): it fetches a batch (FetchBatch, window and max), hands it
// to handle, and backs off while the brokers fail. It returns nil when ctx ends, or the error of
// handle, which ends the loop: handle retries what it can retry itself.
func Consume(ctx context.Context, r *kafka.Reader, window time.Duration, max int, log *slog.Logger, what string,
	handle func(ctx context.Context, batch []kafka.Message) error) error {
	backoff := NewBackoff()
	for {
		batch, ferr := FetchBatch(ctx, r, 0, window, max)
		if ctx.Err() != nil {
			return nil
		}
		if len(batch) > 0 {
			if err := handle(ctx, batch); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			backoff.Reset()
		}
		if ferr != nil {
			d := backoff.Next()
			log.Warn("cannot read "+what+"; retrying (check that the brokers are reachable and the topics exist)", "err", ferr, "retry_in", d)
			if !Sleep(ctx, d) {
				return nil
			}
		}
	}
}

// NewReadTimeouts registers the counter of the Kafka clients' reads that timed out, by stage
// (intake, monitor): each is a broker more than a second late (FetchWait), a dropped connection
// and a request asked again.
func NewReadTimeouts(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "safetynet_kafka_read_timeouts_total",
		Help: "Kafka reads (fetches, consumer-group requests) the broker did not answer in time, by stage; each drops the connection and asks again.",
	}, []string{"stage"})
	for _, stage := range []string{"intake", "monitor"} {
		c.WithLabelValues(stage)
	}
	reg.MustRegister(c)
	return c
}
