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
	// HeaderOmitted says the original value was left out (too big to repeat under the broker's
	// record size limit) and how big it was; read it from the source topic at the source offset.
	HeaderOmitted = "omitted"
)

// MaxDeadLetterBytes bounds the original key and value a dead letter repeats. Above it the value
// is left out (HeaderOmitted) and the key clipped, so that no dead letter can exceed the broker's
// record size limit (1 MiB by default) whatever the feed topics accept.
const MaxDeadLetterBytes = 512 << 10

// maxOmittedKey is how much of the key a dead letter whose value was left out keeps.
const maxOmittedKey = 1 << 10

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
	var omitted []kafka.Header
	if len(d.Key)+len(d.Value) > MaxDeadLetterBytes {
		omitted = []kafka.Header{{Key: HeaderOmitted, Value: []byte("value of " + strconv.Itoa(len(d.Value)) +
			" bytes and key of " + strconv.Itoa(len(d.Key)) + " bytes: too large to repeat; read the source record")}}
		d.Value = nil
		if len(d.Key) > maxOmittedKey {
			d.Key = d.Key[:maxOmittedKey]
		}
	}
	m := kafka.Message{
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
	m.Headers = append(m.Headers, omitted...)
	return m
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
