package stream

import (
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// Dead-letter record headers. The value and key of a dead-letter record are the original
// record's, byte for byte.
const (
	HeaderReason          = "reason"
	HeaderDetail          = "detail"
	HeaderSourceTopic     = "source_topic"
	HeaderSourcePartition = "source_partition"
	HeaderSourceOffset    = "source_offset"
	HeaderFeed            = "feed"
	HeaderDeadLetteredAt  = "dead_lettered_at"
)

// DeadLetter is a refused feed record and why.
type DeadLetter struct {
	Reason string // one of Reasons
	Detail string // for people; never a resident ID number in the clear
	Feed   string
	Source Source
	Key    []byte // original record key
	Value  []byte // original record value
}

// Message returns the dead-letter record for topic, stamped at.
func (d DeadLetter) Message(topic string, at time.Time) kafka.Message {
	return kafka.Message{
		Topic: topic,
		Key:   d.Key,
		Value: d.Value,
		Headers: []kafka.Header{
			{Key: HeaderReason, Value: []byte(d.Reason)},
			{Key: HeaderDetail, Value: []byte(scrubIDs(d.Detail))},
			{Key: HeaderSourceTopic, Value: []byte(d.Source.Topic)},
			{Key: HeaderSourcePartition, Value: strconv.AppendInt(nil, int64(d.Source.Partition), 10)},
			{Key: HeaderSourceOffset, Value: strconv.AppendInt(nil, d.Source.Offset, 10)},
			{Key: HeaderFeed, Value: []byte(d.Feed)},
			{Key: HeaderDeadLetteredAt, Value: []byte(at.UTC().Format(time.RFC3339Nano))},
		},
	}
}

// newWriter returns a writer that waits for all in-sync replicas, partitions by key with
// HouseholdBalancer (kafka.go), and sends within milliseconds. Messages name their topic.
func newWriter(brokers []string, d *kafka.Dialer) *kafka.Writer {
	w := &kafka.Writer{
		Addr:         kafka.TCP(brokers...),
		Balancer:     HouseholdBalancer(),
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 5 * time.Millisecond,
		BatchSize:    1000,
		BatchBytes:   8 << 20,
		MaxAttempts:  3,
		WriteTimeout: 30 * time.Second,
	}
	if d != nil {
		w.Transport = &kafka.Transport{
			Dial:        d.DialFunc,
			DialTimeout: d.Timeout,
			ClientID:    d.ClientID,
			TLS:         d.TLS,
			SASL:        d.SASLMechanism,
		}
	}
	return w
}
