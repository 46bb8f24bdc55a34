// Package visits simulates casework for the demo: a share of the cases that raised alerts
// open are assigned to a caseworker and, a while later, visited, with an outcome drawn from a
// plausible distribution (about 35 % aid granted, 10 % referred, 35 % no need, 15 %
// unreachable, 5 % declined), so that the statistics (precision per level and area, cases per
// week) have something to show. The records go to the casework topic like a caseworker's,
// keyed by household.
//
// It reacts to alerts only: it reads no state and writes to no broker itself (Run hands each
// record to a write function).
package visits

import (
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"safetynet/stream/feed"
	hh "safetynet/stream/household"
)

// Config configures the simulated visits.
type Config struct {
	// Share of the cases opened by raised alerts that are visited (0 to 1).
	Share float64
	// Delay is the mean wait from the alert to the assignment and again to the visit (each drawn
	// between half and one and a half times it).
	Delay time.Duration
	Seed  uint64
	// Caseworkers are the names visits are made under (default three).
	Caseworkers []string
	// MaxPending bounds the records waiting for their time; beyond it alerts are not visited.
	MaxPending int
}

// Outcome shares of a simulated visit, in the order of feed.Outcomes.
var visitOutcomeShares = []float64{0.35, 0.10, 0.35, 0.15, 0.05}

// notNeededShares are the shares of feed.NotNeededReasons.
var notNeededShares = []float64{0.40, 0.30, 0.10, 0.10, 0.10}

// programsByLevel are the programmes an aid_granted visit grants at each level, with their
// shares: the most serious cases get the standing programmes.
var programsByLevel = map[string]struct {
	programs []string
	shares   []float64
}{
	"urgent":  {[]string{"tekun", "dibao", "medical"}, []float64{0.3, 0.5, 0.2}},
	"warning": {[]string{"dibao", "medical", "temporary"}, []float64{0.5, 0.3, 0.2}},
	"watch":   {[]string{"temporary", "dibao", "other"}, []float64{0.6, 0.3, 0.1}},
}

// Planned is a casework record to produce After the alert that planned it.
type Planned struct {
	After      time.Duration
	Key, Value []byte
}

// Visits plans and produces the simulated casework. It is safe for concurrent use.
type Visits struct {
	cfg Config

	mu      sync.Mutex
	rng     *rand.Rand
	pending pendingHeap
	wake    chan struct{}
	seq     int
	skipped int
}

// New returns the simulated visits.
func New(cfg Config) *Visits {
	if cfg.Delay <= 0 {
		cfg.Delay = 20 * time.Second
	}
	if len(cfg.Caseworkers) == 0 {
		cfg.Caseworkers = []string{"demo-caseworker", "caseworker-2", "caseworker-3"}
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 100000
	}
	return &Visits{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x7151_75)), wake: make(chan struct{}, 1)}
}

// Plan returns the records for an alert: for a raised alert chosen by Share, an assign and a
// visit (in that order, the visit later); nothing otherwise. now is the wall-clock time the
// records are stamped from.
func (v *Visits) Plan(a hh.Alert, now time.Time) []Planned {
	if a.Status != hh.StatusRaised || a.Episode <= 0 || a.HouseholdID == "" {
		return nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.rng.Float64() >= v.cfg.Share {
		return nil
	}
	wait := func() time.Duration { return time.Duration((0.5 + v.rng.Float64()) * float64(v.cfg.Delay)) }
	assignAfter := wait()
	visitAfter := assignAfter + wait()
	worker := v.cfg.Caseworkers[v.rng.IntN(len(v.cfg.Caseworkers))]
	caseID := feed.CaseID(a.HouseholdID, a.Episode)
	assign := feed.CaseworkRecord{EventID: v.eventID(), Type: feed.CaseAssign, HouseholdID: a.HouseholdID, CaseID: caseID,
		OccurredAt: now.Add(assignAfter).UTC(), Actor: worker, Assignee: worker}
	visitedAt := now.Add(visitAfter).UTC()
	visit := feed.CaseworkRecord{EventID: v.eventID(), Type: feed.CaseVisit, HouseholdID: a.HouseholdID, CaseID: caseID,
		OccurredAt: visitedAt, Actor: worker, VisitedAt: &visitedAt,
		Outcome: feed.Outcomes[pick(v.rng.Float64(), visitOutcomeShares)]}
	switch visit.Outcome {
	case feed.OutcomeAidGranted:
		p, ok := programsByLevel[a.Level]
		if !ok {
			p = programsByLevel["watch"]
		}
		visit.Program = p.programs[pick(v.rng.Float64(), p.shares)]
	case feed.OutcomeNotNeeded:
		visit.Reason = feed.NotNeededReasons[pick(v.rng.Float64(), notNeededShares)]
	}
	return []Planned{{After: assignAfter, Key: []byte(a.HouseholdID), Value: mustJSON(assign)},
		{After: visitAfter, Key: []byte(a.HouseholdID), Value: mustJSON(visit)}}
}

func (v *Visits) eventID() string {
	v.seq++
	return fmt.Sprintf("sim-visit-%d-%08x", v.seq, v.rng.Uint32())
}

func mustJSON(r feed.CaseworkRecord) []byte {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // a struct of strings and times always encodes
	}
	return b
}

// Alert plans the records of an alert and queues them (the demo's OnAlert).
func (v *Visits) Alert(a hh.Alert) {
	now := time.Now()
	planned := v.Plan(a, now)
	if len(planned) == 0 {
		return
	}
	v.mu.Lock()
	if len(v.pending)+len(planned) > v.cfg.MaxPending {
		v.skipped++
		v.mu.Unlock()
		return
	}
	for _, p := range planned {
		heap.Push(&v.pending, pending{due: now.Add(p.After), Planned: p})
	}
	v.mu.Unlock()
	select {
	case v.wake <- struct{}{}:
	default:
	}
}

// Skipped is how many chosen alerts were not visited because MaxPending records were waiting.
func (v *Visits) Skipped() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.skipped
}

// Run produces the queued records when they are due, until ctx ends or write fails.
func (v *Visits) Run(ctx context.Context, write func(ctx context.Context, key, value []byte) error) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		v.mu.Lock()
		var next *pending
		if len(v.pending) > 0 {
			p := v.pending[0]
			next = &p
		}
		v.mu.Unlock()
		if next != nil && !time.Now().Before(next.due) {
			if err := write(ctx, next.Key, next.Value); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("simulated visits: %w", err)
			}
			v.mu.Lock()
			heap.Pop(&v.pending)
			v.mu.Unlock()
			continue
		}
		wait := time.Hour
		if next != nil {
			wait = time.Until(next.due)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-v.wake:
		case <-timer.C:
		}
	}
}

type pending struct {
	due time.Time
	Planned
}

type pendingHeap []pending

func (h pendingHeap) Len() int           { return len(h) }
func (h pendingHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h pendingHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *pendingHeap) Push(x any)        { *h = append(*h, x.(pending)) }
func (h *pendingHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// pick returns the index i with probability shares[i] (shares sum to 1).
func pick(u float64, shares []float64) int {
	for i, s := range shares {
		if u < s {
			return i
		}
		u -= s
	}
	return len(shares) - 1
}
