package monitor

import (
	"slices"
	"strconv"
	"testing"

	"github.com/segmentio/kafka-go"

	"safetynet/stream/feed"
	"safetynet/stream/household"
	"safetynet/stream/kafkatest"
	"safetynet/stream/monitor/episode"
)

// TestAssessReplaysTheBatch: folding the household-events topic through household.Apply and
// Assess, at the pipeline's clock, makes exactly the alerts the running monitor published —
// same ids, statuses, levels and scores — so a replay outside the service decides as it does.
func TestAssessReplaysTheBatch(t *testing.T) {
	w := newWorld(11, 80)
	now := date(2025, 12, 31)
	addr := newBroker(t)
	p := startPipeline(t, addr, t.TempDir(), &clock{now: now})
	p.waitReady()
	for _, wave := range w.waves {
		w.send(t, p, wave)
	}
	waitApplied(t, addr, p.store, p.topics.HouseholdEvents)
	key := func(a household.Alert) string {
		return a.AlertID + " " + a.Status + " " + a.Level + " " + strconv.FormatFloat(a.Score, 'f', 1, 64)
	}
	var want []string
	for _, a := range allAlerts(t, addr) {
		want = append(want, key(a))
	}
	if len(want) < 5 {
		t.Fatalf("the pipeline published %d alerts: too few to compare", len(want))
	}

	hs := map[string]*household.Household{}
	var got []string
	kafkatest.EachRecord(t, addr, p.topics.HouseholdEvents, func(msg kafka.Message) {
		var e feed.HouseholdEvent
		if err := feed.DecodeHouseholdEvent(msg.Value, &e); err != nil {
			t.Fatal(err)
		}
		h := hs[e.HouseholdID]
		if h == nil {
			h = household.New(e.HouseholdID, msg.Partition)
			hs[e.HouseholdID] = h
		}
		changed, err := h.Apply(&e)
		if err != nil {
			t.Fatal(err)
		}
		if changed {
			if al := episode.Assess(p.monitor.Model(), h, now, household.Cause{Kind: "event"}, e.OccurredAt); al != nil {
				got = append(got, key(*al))
			}
		}
	})
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("replayed alerts differ from the published ones:\n got %d %v\nwant %d %v", len(got), got, len(want), want)
	}
	t.Logf("%d households, %d alerts published and replayed", len(hs), len(got))
}
