package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"safetynet/stream/kafkaio"
)

// AuditRecord is one line of the audit trail: who did what to which household (or with which
// query), when, with what result. It names the caller, never its token, and holds no personal
// data: household ids are the agencies' household numbers, members are never named.
type AuditRecord struct {
	At          time.Time `json:"at"`
	Caller      string    `json:"caller"`
	Role        string    `json:"role"`
	Action      string    `json:"action"` // household.read, alerts.list, stats.read, audit.read
	HouseholdID string    `json:"household_id,omitempty"`
	Query       string    `json:"query,omitempty"` // the URL query of a list, as sent
	Result      int       `json:"result"`          // HTTP status answered
	// Reason says why a read was refused where the status alone does not: "outside_area" for a
	// household the caller's area does not cover (answered 404 like an unknown one), "role".
	Reason    string `json:"reason,omitempty"`
	RequestID string `json:"request_id"`
}

// Audit actions.
const (
	ActionHouseholdRead = "household.read"
	ActionAlertsList    = "alerts.list"
	ActionStatsRead     = "stats.read"
	ActionAuditRead     = "audit.read"
	ActionCasesList     = "cases.list"
	ActionCaseRead      = "case.read"
	ActionCaseAssign    = "case.assign"
	ActionCaseVisit     = "case.visit"
	ActionCaseClose     = "case.close"
)

// Auditor keeps the audit trail. Record returns once the record is durable (for Kafka:
// acknowledged by all in-sync replicas); the API answers only after it returns nil.
type Auditor interface {
	Record(ctx context.Context, rec AuditRecord) error
}

// AuditQuery selects audit records: all of its non-zero fields must match.
type AuditQuery struct {
	Caller      string
	HouseholdID string
	From, To    time.Time // From inclusive, To exclusive; zero for open
}

// AuditTrail reads the audit trail back, oldest first.
type AuditTrail interface {
	Audit(ctx context.Context, q AuditQuery, each func(AuditRecord) bool) error
}

// KafkaAudit writes the audit trail to a Kafka topic (one JSON record per message, keyed by the
// caller name) and reads it back for GET /v1/audit by scanning the topic from the first offset
// at or after the query's From time. The scan reads every record of the time range on every
// request: fine for the trail of one agency's staff (thousands of records a day), not for a
// search engine.
type KafkaAudit struct {
	kafka  kafkaio.Kafka
	topic  string
	writer *kafka.Writer
	once   sync.Once
}

var (
	_ Auditor    = (*KafkaAudit)(nil)
	_ AuditTrail = (*KafkaAudit)(nil)
)

// NewKafkaAudit returns the audit trail on topic. Close it when done.
func NewKafkaAudit(k kafkaio.Kafka, topic string) *KafkaAudit {
	w := k.Writer(topic, &kafka.Hash{})
	w.BatchTimeout = time.Millisecond
	return &KafkaAudit{kafka: k, topic: topic, writer: w}
}

// Record writes rec and waits for all in-sync replicas to acknowledge it.
func (a *KafkaAudit) Record(ctx context.Context, rec AuditRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := a.writer.WriteMessages(ctx, kafka.Message{Key: []byte(rec.Caller), Value: b, Time: rec.At}); err != nil {
		return fmt.Errorf("write audit record to %s: %w", a.topic, err)
	}
	return nil
}

// Close flushes and closes the writer.
func (a *KafkaAudit) Close() error {
	var err error
	a.once.Do(func() { err = a.writer.Close() })
	return err
}

// Audit calls each for the records matching q, oldest first (by time, then request id), until
// each returns false. It reads every partition from the first offset at or after q.From up to
// the end offsets at the time of the call.
func (a *KafkaAudit) Audit(ctx context.Context, q AuditQuery, each func(AuditRecord) bool) error {
	client := a.kafka.Client()
	parts, err := kafkaio.Partitions(ctx, client, a.topic)
	if err != nil {
		return fmt.Errorf("audit topic %s: %w", a.topic, err)
	}
	if len(parts[a.topic]) == 0 {
		return fmt.Errorf("audit topic %s: %w", a.topic, errNoAuditTopic)
	}
	ends, err := kafkaio.TopicOffsets(ctx, client, a.topic, kafka.LastOffset)
	if err != nil {
		return fmt.Errorf("audit topic %s end offsets: %w", a.topic, err)
	}
	starts, err := a.startOffsets(ctx, client, parts[a.topic], q.From)
	if err != nil {
		return err
	}
	var recs []AuditRecord
	for _, p := range parts[a.topic] {
		start, end := starts[p], ends[p]
		if start < 0 || start >= end {
			continue
		}
		if err := a.readPartition(ctx, p, start, end, func(r AuditRecord) {
			if q.matches(r) {
				recs = append(recs, r)
			}
		}); err != nil {
			return err
		}
	}
	sort.SliceStable(recs, func(i, j int) bool {
		if !recs[i].At.Equal(recs[j].At) {
			return recs[i].At.Before(recs[j].At)
		}
		return recs[i].RequestID < recs[j].RequestID
	})
	for _, r := range recs {
		if !each(r) {
			break
		}
	}
	return nil
}

var errNoAuditTopic = errors.New("no such topic (create it: safetynet topics create)")

func (q AuditQuery) matches(r AuditRecord) bool {
	return (q.Caller == "" || r.Caller == q.Caller) &&
		(q.HouseholdID == "" || r.HouseholdID == q.HouseholdID) &&
		(q.From.IsZero() || !r.At.Before(q.From)) &&
		(q.To.IsZero() || r.At.Before(q.To))
}

// startOffsets finds, per partition, the first offset whose timestamp is at or after from (the
// first offset when from is zero). A partition with nothing that late gets its end offset.
func (a *KafkaAudit) startOffsets(ctx context.Context, client *kafka.Client, parts []int, from time.Time) (map[int]int64, error) {
	req := make([]kafka.OffsetRequest, len(parts))
	for i, p := range parts {
		req[i] = kafka.FirstOffsetOf(p)
		if !from.IsZero() {
			req[i] = kafka.TimeOffsetOf(p, from)
		}
	}
	res, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{a.topic: req}})
	if err != nil {
		return nil, fmt.Errorf("audit topic %s offsets: %w", a.topic, err)
	}
	out := map[int]int64{}
	for _, po := range res.Topics[a.topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("audit topic %s partition %d offsets: %w", a.topic, po.Partition, po.Error)
		}
		off := po.FirstOffset
		if !from.IsZero() {
			off = -1 // -1: nothing at or after from
			for o := range po.Offsets {
				if o >= 0 && (off < 0 || o < off) {
					off = o
				}
			}
		}
		out[po.Partition] = off
	}
	return out, nil
}

func (a *KafkaAudit) readPartition(ctx context.Context, partition int, start, end int64, fn func(AuditRecord)) error {
	r := kafka.NewReader(a.kafka.PartitionReader(a.topic, partition, kafkaio.ToEndHold, kafkaio.ToEndBytes))
	defer r.Close()
	if err := r.SetOffset(start); err != nil {
		return err
	}
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return fmt.Errorf("read audit topic %s partition %d: %w", a.topic, partition, err)
		}
		var rec AuditRecord
		if json.Unmarshal(m.Value, &rec) == nil {
			fn(rec)
		}
		if m.Offset+1 >= end {
			return nil
		}
	}
}
