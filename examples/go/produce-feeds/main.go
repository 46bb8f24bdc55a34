// Command produce-feeds is a partner agency's producer written with kafka-go: it sends one
// household's events to every safetynet feed. It registers two people in a household (the
// civil-affairs registry), then reports a pension, a job loss, a disability certificate and a
// leukaemia admission (ICD-10 C92.0, a critical illness), which raises the household to
// `warning`; read the alert with consume-alerts.
//
//	go run ./examples/go/produce-feeds -brokers kafka-1:9092 -household H-DEMO-1
//
// Every record is keyed by the person's resident ID number and written with RequiredAcks: all.
// The feed formats are in docs/feeds.md and docs/schemas/feeds/. Brokers and topics come from
// flags, defaulting to the environment variables safetynet itself reads.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

var feeds = []string{"registry", "hospital", "pension", "employment", "disability", "applications", "assets"}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// event is one feed record: the fields of every event and the type-specific ones.
type event map[string]any

func newEvent(typ, person string, at time.Time, fields event) event {
	// event_id is the idempotency key: a resend of the same event must carry the same id.
	e := event{"event_id": newUUID(), "type": typ, "person_id": person, "occurred_at": at.UTC().Format(time.RFC3339)}
	for k, v := range fields {
		e[k] = v
	}
	return e
}

// newUUID is a random (version 4) UUID, as the Python example's uuid.uuid4(). Its dashes matter:
// 32 hex digits in a row hold a run of exactly 15 or 18 decimal digits about once in 300 ids, and safetynet
// dead-letters an identifier shaped like a resident ID number (docs/feeds.md, event_id).
func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func main() {
	brokers := flag.String("brokers", env("SAFETYNET_KAFKA_BROKERS", "localhost:9092"), "comma-separated bootstrap brokers (env SAFETYNET_KAFKA_BROKERS)")
	topics := map[string]*string{}
	for _, f := range feeds {
		name := "SAFETYNET_TOPIC_" + strings.ToUpper(f)
		topics[f] = flag.String(f+"-topic", env(name, "safetynet.feed."+f), "the "+f+" feed's topic (env "+name+")")
	}
	household := flag.String("household", "H-DEMO-1", "the household's registry id")
	head := flag.String("head", "11010519491231002X", "resident ID number of the head of the household (made up; valid check character)")
	child := flag.String("child", "110105201203150011", "resident ID number of a child in the household")
	flag.Parse()

	w := &kafka.Writer{
		Addr:         kafka.TCP(strings.Split(*brokers, ",")...),
		RequiredAcks: kafka.RequireAll,         // every in-sync replica has it before it counts
		Balancer:     &kafka.Murmur2Balancer{}, // by key, as the Java client partitions
		BatchTimeout: 5 * time.Millisecond,     // the default (1 s) delays every record
	}
	defer w.Close()

	now := time.Now()
	day := 24 * time.Hour
	story := []struct {
		feed string
		ev   event
	}{
		{"registry", newEvent("member_joined", *head, now.Add(-400*day), event{"household_id": *household, "birth_date": "1949-12-31", "sex": "F", "relation": "head"})},
		{"registry", newEvent("member_joined", *child, now.Add(-400*day), event{"household_id": *household, "relation": "child"})},
		{"pension", newEvent("started", *head, now.Add(-300*day), event{"monthly_amount": 1450})},
		{"employment", newEvent("unemployed", *head, now.Add(-200*day), event{"registered": true})},
		{"disability", newEvent("registered", *child, now.Add(-100*day), event{"grade": 3, "kind": "hearing"})},
		{"hospital", newEvent("admitted", *child, now.Add(-2*day), event{"admission_id": "ZY-" + *household + "-1", "icd10": "C92.0", "critical_illness": true})},
		{"assets", newEvent("deposits_reported", *head, now.Add(-30*day), event{"balance": 4200})},
		// An application for dibao with the applicant's declaration (告知承诺制): the monitor
		// checks it against the records and publishes the result on safetynet.verifications.
		{"applications", newEvent("submitted", *head, now.Add(-time.Hour), event{"household_id": *household, "application_id": "DB-" + *household,
			"program": "dibao", "commitment_signed": true, "declared": event{
				"members":  []event{{"person_id": *head, "monthly_income": 1450}, {"person_id": *child, "monthly_income": 0}},
				"vehicles": 0, "properties": 0, "financial_assets": 4000, "business_owner": false}})},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, s := range story {
		value, err := json.Marshal(s.ev)
		if err != nil {
			log.Fatal(err)
		}
		// Keyed by the person's ID number: one person's events stay in order on one partition.
		// One write per record keeps the story in order across topics (the registry first).
		msg := kafka.Message{Topic: *topics[s.feed], Key: []byte(s.ev["person_id"].(string)), Value: value}
		if err := w.WriteMessages(ctx, msg); err != nil {
			log.Fatalf("send %s/%s: %v", s.feed, s.ev["type"], err)
		}
		fmt.Printf("sent %s/%s %s\n", s.feed, s.ev["type"], s.ev["event_id"])
	}
}
