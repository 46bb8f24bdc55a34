package feed

import (
	"strconv"
	"strings"
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
			{Key: HeaderDetail, Value: []byte(ScrubIDs(d.Detail))},
			{Key: HeaderSourceTopic, Value: []byte(d.Source.Topic)},
			{Key: HeaderSourcePartition, Value: strconv.AppendInt(nil, int64(d.Source.Partition), 10)},
			{Key: HeaderSourceOffset, Value: strconv.AppendInt(nil, d.Source.Offset, 10)},
			{Key: HeaderFeed, Value: []byte(d.Feed)},
			{Key: HeaderDeadLetteredAt, Value: []byte(at.UTC().Format(time.RFC3339Nano))},
		},
	}
}

// Redact replaces every run shaped like a resident ID number in b by its person key and masked
// form ("<person key>/<mask>"), for dead letters kept without ID numbers in the clear. The
// person key lets an operator with the key find the person's other records.
func (p *Pseudonymizer) Redact(b []byte) []byte {
	if !idRun.Match(b) {
		return b
	}
	return idRun.ReplaceAllFunc(b, func(m []byte) []byte {
		id := strings.ToUpper(string(m))
		return []byte(p.Key(id) + "/" + Mask(id))
	})
}

// Redacted returns the dead letter with its key and value redacted (Pseudonymizer.Redact).
func (d DeadLetter) Redacted(p *Pseudonymizer) DeadLetter {
	d.Key, d.Value = p.Redact(d.Key), p.Redact(d.Value)
	return d
}
