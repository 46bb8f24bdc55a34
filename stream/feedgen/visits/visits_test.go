package visits

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"safetynet/stream/feed"
	hh "safetynet/stream/household"
)

// The simulated visits: the share of raised alerts visited, the outcome distribution, records
// that intake accepts (assign before visit, programme by level, reason for no need), nothing for
// other alerts, and produced in due order.
func TestVisitsPlan(t *testing.T) {
	v := New(Config{Share: 0.6, Delay: time.Minute, Seed: 7})
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	const n = 20000
	visited, outcomes := 0, map[string]int{}
	levels := []string{"watch", "warning", "urgent"}
	for i := range n {
		a := hh.Alert{AlertID: fmt.Sprint(i), HouseholdID: fmt.Sprintf("H-%d", i), Status: hh.StatusRaised, Level: levels[i%3], Episode: 1 + i%2}
		plan := v.Plan(a, now)
		if len(plan) == 0 {
			continue
		}
		visited++
		if len(plan) != 2 || plan[0].After >= plan[1].After || plan[0].After < 30*time.Second || plan[1].After > 3*time.Minute {
			t.Fatalf("plan of %d records, delays %v", len(plan), plan)
		}
		var recs [2]feed.CaseworkRecord
		for j, p := range plan {
			if string(p.Key) != a.HouseholdID {
				t.Fatalf("key %q, want the household", p.Key)
			}
			// Intake's own check, at the time the record is produced.
			if _, derr := feed.DecodeCasework(p.Value, feed.DefaultMaxEventBytes, feed.DefaultMaxFutureSkew, now.Add(p.After)); derr != nil {
				t.Fatalf("record %s refused: %v", p.Value, derr)
			}
			if err := json.Unmarshal(p.Value, &recs[j]); err != nil {
				t.Fatal(err)
			}
		}
		if recs[0].Type != feed.CaseAssign || recs[1].Type != feed.CaseVisit || recs[1].CaseID != feed.CaseID(a.HouseholdID, a.Episode) {
			t.Fatalf("records %+v", recs)
		}
		o := recs[1].Outcome
		outcomes[o]++
		if o == feed.OutcomeAidGranted && a.Level == "urgent" && recs[1].Program == "temporary" {
			t.Errorf("an urgent case granted only temporary aid")
		}
	}
	if got := float64(visited) / n; math.Abs(got-0.6) > 0.02 {
		t.Errorf("visited share %.3f, want 0.6", got)
	}
	for i, o := range feed.Outcomes {
		if got := float64(outcomes[o]) / float64(visited); math.Abs(got-visitOutcomeShares[i]) > 0.02 {
			t.Errorf("outcome %s: share %.3f, want %.2f", o, got, visitOutcomeShares[i])
		}
	}
	for _, st := range []string{hh.StatusEscalated, hh.StatusDeescalated, hh.StatusResolved} {
		if p := New(Config{Share: 1}).Plan(hh.Alert{HouseholdID: "H-1", Status: st, Level: "urgent", Episode: 1}, now); p != nil {
			t.Errorf("%s alert planned %d records", st, len(p))
		}
	}
}

func TestVisitsRun(t *testing.T) {
	v := New(Config{Share: 1, Delay: 40 * time.Millisecond, Seed: 1})
	var mu sync.Mutex
	var got []feed.CaseworkRecord
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- v.Run(ctx, func(_ context.Context, _, value []byte) error {
			var r feed.CaseworkRecord
			if err := json.Unmarshal(value, &r); err != nil {
				return err
			}
			mu.Lock()
			got = append(got, r)
			mu.Unlock()
			return nil
		})
	}()
	for i := range 5 {
		v.Alert(hh.Alert{HouseholdID: fmt.Sprintf("H-%d", i), Status: hh.StatusRaised, Level: "warning", Episode: 1})
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 10 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(got) != 10 {
		t.Fatalf("%d records produced, want 10", len(got))
	}
	seen := map[string]bool{}
	for _, r := range got {
		if r.Type == feed.CaseVisit && !seen[r.CaseID] {
			t.Errorf("visit of %s produced before its assign", r.CaseID)
		}
		seen[r.CaseID] = true
	}
}
