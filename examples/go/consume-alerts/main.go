// Command consume-alerts is a case-management system's subscriber written with kafka-go: it
// reads safetynet's alerts (docs/alerts.md, docs/schemas/alert.schema.json) and prints them.
//
//	go run ./examples/go/consume-alerts -brokers kafka-1:9092 -group case-system
//	go run ./examples/go/consume-alerts -household H-DEMO-1 -until-level warning -timeout 60s
//
// safetynet may publish an alert again after a crash, with the same alert_id: deduplicate by it
// (here in memory; a real system keeps the ids it has handled next to the cases it opened).
// Offsets are committed after an alert has been handled, so a restart resumes where it stopped.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// Alert holds the fields this subscriber uses; the topic's messages have more.
type Alert struct {
	AlertID     string  `json:"alert_id"`
	HouseholdID string  `json:"household_id"`
	Status      string  `json:"status"`
	Level       string  `json:"level"`
	Score       float64 `json:"score"`
	Episode     int     `json:"episode"`
	Summary     string  `json:"summary"`
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func main() {
	brokers := flag.String("brokers", env("SAFETYNET_KAFKA_BROKERS", "localhost:9092"), "comma-separated bootstrap brokers (env SAFETYNET_KAFKA_BROKERS)")
	topic := flag.String("topic", env("SAFETYNET_TOPIC_ALERTS", "safetynet.alerts"), "the alert topic (env SAFETYNET_TOPIC_ALERTS)")
	group := flag.String("group", "case-system", "consumer group id")
	household := flag.String("household", "", "print only this household's alerts")
	exitAfter := flag.Int("exit-after", 0, "stop after this many alerts (0: run until interrupted)")
	untilLevel := flag.String("until-level", "", "stop once an alert puts a household at this level (watch, warning, urgent)")
	timeout := flag.Duration("timeout", 0, "give up after this long (exit status 2)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:     strings.Split(*brokers, ","),
		Topic:       *topic,
		GroupID:     *group,
		StartOffset: kafka.FirstOffset, // a new group starts from the oldest alert kept
		// kafka-go asks the broker to hold an empty fetch for MaxWait less 1 s and times the
		// read out at MaxWait: 1.5 s holds it 500 ms and gives a busy broker a second to answer.
		// (Below 1 s the broker holds three quarters of MaxWait, and an answer later than the
		// last quarter fails the read, which kafka-go asks again from the same offset.)
		MaxWait: 1500 * time.Millisecond,
	})
	defer r.Close()

	seen := map[string]bool{}
	for handled := 0; *exitAfter == 0 || handled < *exitAfter; {
		// FetchMessage does not commit: the offset is committed once the alert is handled.
		m, err := r.FetchMessage(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			fmt.Fprintf(os.Stderr, "no alert within %s\n", *timeout)
			os.Exit(2)
		}
		if errors.Is(err, context.Canceled) {
			return
		}
		if err != nil {
			log.Fatalf("read alerts: %v", err)
		}
		var a Alert
		if err := json.Unmarshal(m.Value, &a); err != nil {
			log.Printf("skip a message that is not an alert at %s/%d@%d: %v", m.Topic, m.Partition, m.Offset, err)
		} else if !seen[a.AlertID] && (*household == "" || a.HouseholdID == *household) {
			seen[a.AlertID] = true
			handle(a)
			handled++
		}
		if err := r.CommitMessages(ctx, m); err != nil {
			log.Fatalf("commit: %v", err)
		}
		if *untilLevel != "" && a.Level == *untilLevel && (*household == "" || a.HouseholdID == *household) {
			return
		}
	}
}

// handle is what a case system would do: open or update the household's case. Here: print it.
func handle(a Alert) {
	level := a.Level
	if level == "" {
		level = "-"
	}
	fmt.Printf("%s %s %s level=%s score=%.1f episode=%d\n  %s\n", a.AlertID, a.HouseholdID, a.Status, level, a.Score, a.Episode, a.Summary)
}
