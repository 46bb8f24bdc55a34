package api

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"safetynet/state"
	"safetynet/stream/feed"
	"safetynet/stream/household"
)

// Precision of the alerts, as casework finds it: how many cases opened, how many were visited
// and what the visits found, how long a visit took, how many wait past their due time. The same
// figures are metrics with bounded labels (level, outcome).

// Figures are the casework figures of one group of cases.
type Figures struct {
	Opened      int `json:"opened"`
	Visited     int `json:"visited"`
	Confirmed   int `json:"confirmed"` // aid_granted or referred
	NotNeeded   int `json:"not_needed"`
	Unreachable int `json:"unreachable"`
	Declined    int `json:"declined"`
	Overdue     int `json:"overdue"` // open or assigned past the due time, now
	// MedianDaysToVisit is the median of opened → visited in days over the visited cases; null
	// when none was visited.
	MedianDaysToVisit *float64 `json:"median_days_to_visit"`

	// Days are the visit durations behind the median: sent only in an instance's part of a
	// fanned-out answer (fanout.go); finish takes the median and drops them.
	Days []float64 `json:"days,omitempty"`
}

func (f *Figures) add(s *household.CaseSummary, now time.Time) {
	f.Opened++
	if !s.VisitedAt.IsZero() {
		f.Visited++
		f.Days = append(f.Days, s.VisitedAt.Sub(s.OpenedAt).Hours()/24)
	}
	switch s.Outcome {
	case feed.OutcomeAidGranted, feed.OutcomeReferred:
		f.Confirmed++
	case feed.OutcomeNotNeeded:
		f.NotNeeded++
	case feed.OutcomeUnreachable:
		f.Unreachable++
	case feed.OutcomeDeclined:
		f.Declined++
	}
	if s.Overdue(now) {
		f.Overdue++
	}
}

// merge adds another part's figures of the same group.
func (f *Figures) merge(o *Figures) {
	f.Opened += o.Opened
	f.Visited += o.Visited
	f.Confirmed += o.Confirmed
	f.NotNeeded += o.NotNeeded
	f.Unreachable += o.Unreachable
	f.Declined += o.Declined
	f.Overdue += o.Overdue
	f.Days = append(f.Days, o.Days...)
}

func (f *Figures) finish() {
	days := f.Days
	f.Days = nil
	if len(days) == 0 {
		return
	}
	days = slices.Clone(days)
	slices.Sort(days)
	n := len(days)
	m := days[n/2]
	if n%2 == 0 {
		m = (days[n/2-1] + days[n/2]) / 2
	}
	m = float64(int(m*10+0.5)) / 10
	f.MedianDaysToVisit = &m
}

// Group is the figures of one level, trigger code or area prefix.
type Group struct {
	Key string `json:"key"`
	Figures
}

// CaseStats are the casework figures of GET /v1/stats.
type CaseStats struct {
	At               time.Time `json:"at"`
	AreaPrefixLength int       `json:"area_prefix_length"`
	Total            Figures   `json:"total"`
	ByLevel          []Group   `json:"by_level"`
	ByTrigger        []Group   `json:"by_trigger"` // cases opened with a trigger, by its code; "none" without
	ByArea           []Group   `json:"by_area"`    // by the first area_prefix_length characters of the area code; "unknown" without
}

// statsAcc gathers the casework figures of the cases it is given; a fanned-out /v1/stats
// merges the accumulators of every instance's part before taking the medians.
type statsAcc struct {
	At        time.Time                      `json:"at"`
	PrefixLen int                            `json:"area_prefix_length"`
	Total     Figures                        `json:"total"`
	Groups    map[string]map[string]*Figures `json:"groups"` // dimension (level, trigger, area) → key
}

func newStatsAcc() *statsAcc {
	acc := &statsAcc{Groups: map[string]map[string]*Figures{"level": {}, "trigger": {}, "area": {}}}
	for _, l := range []string{"watch", "warning", "urgent"} {
		acc.get("level", l)
	}
	return acc
}

func (acc *statsAcc) get(dim, key string) *Figures {
	if acc.Groups[dim] == nil {
		acc.Groups[dim] = map[string]*Figures{}
	}
	f := acc.Groups[dim][key]
	if f == nil {
		f = &Figures{}
		acc.Groups[dim][key] = f
	}
	return f
}

func (acc *statsAcc) add(s *household.CaseSummary) {
	now := acc.At
	acc.Total.add(s, now)
	acc.get("level", s.Level).add(s, now)
	trig := s.Triggers
	if len(trig) == 0 {
		trig = []string{"none"}
	}
	for _, t := range trig {
		acc.get("trigger", t).add(s, now)
	}
	area := s.Area
	if len(area) > acc.PrefixLen {
		area = area[:acc.PrefixLen]
	}
	if area == "" {
		area = "unknown"
	}
	acc.get("area", area).add(s, now)
}

// merge adds another instance's figures.
func (acc *statsAcc) merge(o *statsAcc) {
	acc.Total.merge(&o.Total)
	for dim, keys := range o.Groups {
		for k, f := range keys {
			if f != nil {
				acc.get(dim, k).merge(f)
			}
		}
	}
}

// result is the answer: groups sorted, medians taken.
func (acc *statsAcc) result() *CaseStats {
	st := &CaseStats{At: acc.At, AreaPrefixLength: acc.PrefixLen, Total: acc.Total}
	st.Total.finish()
	list := func(dim string) []Group {
		out := []Group{}
		for k, f := range acc.Groups[dim] {
			g := Group{Key: k, Figures: *f}
			g.finish()
			out = append(out, g)
		}
		slices.SortFunc(out, func(a, b Group) int {
			if dim == "level" {
				return levelOrder(a.Key) - levelOrder(b.Key)
			}
			return strings.Compare(a.Key, b.Key)
		})
		return out
	}
	st.ByLevel, st.ByTrigger, st.ByArea = list("level"), list("trigger"), list("area")
	return st
}

// collectStats gathers the figures of the cases of the index the filter admits.
func collectStats(store *state.Store, now time.Time, prefixLen int, admit func(*household.CaseSummary) bool) (*statsAcc, error) {
	acc := newStatsAcc()
	acc.At, acc.PrefixLen = now, prefixLen
	err := store.Cases(nil, func(_, v []byte) bool {
		var s household.CaseSummary
		if json.Unmarshal(v, &s) != nil || !admit(&s) {
			return true
		}
		acc.add(&s)
		return true
	})
	if err != nil {
		return nil, err
	}
	return acc, nil
}

// computeStats counts the cases of the index the filter admits.
func computeStats(store *state.Store, now time.Time, prefixLen int, admit func(*household.CaseSummary) bool) (*CaseStats, error) {
	acc, err := collectStats(store, now, prefixLen, admit)
	if err != nil {
		return nil, err
	}
	return acc.result(), nil
}

func levelOrder(l string) int {
	return slices.Index([]string{"watch", "warning", "urgent"}, l)
}

// CaseCollector exposes the casework figures of the case index as metrics, computed at each
// scrape: safetynet_cases{level,status}, safetynet_cases_overdue{level} and
// safetynet_case_outcomes{level,outcome}. Every series exists from the start. Counting walks
// the whole case index (about 0.4 CPU s per 100,000 cases), so a count serves the scrapes of
// the next caseCountTTL: Prometheus scrapes every 15–30 s, and one walk per scrape was 1.3% of
// the service's CPU in the benchmark (docs/performance.md) and grows with the province's cases.
type CaseCollector struct {
	store    *state.Store
	now      func() time.Time
	mu       sync.Mutex
	counted  time.Time // when last counted (the collector's clock); zero before the first count
	last     caseCounts
	cases    *prometheus.Desc
	overdue  *prometheus.Desc
	outcomes *prometheus.Desc
	errors   prometheus.Counter
}

// NewCaseCollector returns the collector of the casework metrics over store.
func NewCaseCollector(store *state.Store, now func() time.Time) *CaseCollector {
	if now == nil {
		now = time.Now
	}
	return &CaseCollector{store: store, now: now,
		cases: prometheus.NewDesc("safetynet_cases", "Cases in this instance's state, by level and status (open, assigned, closed).",
			[]string{"level", "status"}, nil),
		overdue: prometheus.NewDesc("safetynet_cases_overdue", "Open or assigned cases past their visit deadline, by level.",
			[]string{"level"}, nil),
		outcomes: prometheus.NewDesc("safetynet_case_outcomes", "Visited cases in this instance's state, by level and visit outcome.",
			[]string{"level", "outcome"}, nil),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "safetynet_case_metrics_errors_total",
			Help: "Scrapes whose casework metrics could not be read from the state store."}),
	}
}

func (cc *CaseCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- cc.cases
	ch <- cc.overdue
	ch <- cc.outcomes
	cc.errors.Describe(ch)
}

// caseCountTTL is how long a count of the case index serves scrapes.
const caseCountTTL = 30 * time.Second

type caseKey struct{ a, b string }

type caseCounts struct {
	cases, outcomes map[caseKey]int
	overdue         map[string]int
}

var caseLevels = []string{"watch", "warning", "urgent"}

// count walks the case index.
func (cc *CaseCollector) count(now time.Time) (caseCounts, error) {
	c := caseCounts{cases: map[caseKey]int{}, outcomes: map[caseKey]int{}, overdue: map[string]int{}}
	err := cc.store.Cases(nil, func(_, v []byte) bool {
		var s household.CaseSummary
		if json.Unmarshal(v, &s) != nil || !slices.Contains(caseLevels, s.Level) {
			return true
		}
		c.cases[caseKey{s.Level, s.Status}]++
		if s.Overdue(now) {
			c.overdue[s.Level]++
		}
		if s.Outcome != "" {
			c.outcomes[caseKey{s.Level, s.Outcome}]++
		}
		return true
	})
	return c, err
}

func (cc *CaseCollector) Collect(ch chan<- prometheus.Metric) {
	statuses := []string{household.CaseOpen, household.CaseAssigned, household.CaseClosed}
	cc.mu.Lock()
	now := cc.now()
	if cc.counted.IsZero() || now.Sub(cc.counted) >= caseCountTTL || now.Before(cc.counted) {
		c, err := cc.count(now)
		if err != nil {
			cc.errors.Inc()
		} else {
			cc.last, cc.counted = c, now
		}
	}
	last := cc.last // a count is never changed once made
	cc.mu.Unlock()
	for _, l := range caseLevels {
		for _, st := range statuses {
			ch <- prometheus.MustNewConstMetric(cc.cases, prometheus.GaugeValue, float64(last.cases[caseKey{l, st}]), l, st)
		}
		ch <- prometheus.MustNewConstMetric(cc.overdue, prometheus.GaugeValue, float64(last.overdue[l]), l)
		for _, o := range feed.Outcomes {
			ch <- prometheus.MustNewConstMetric(cc.outcomes, prometheus.GaugeValue, float64(last.outcomes[caseKey{l, o}]), l, o)
		}
	}
	cc.errors.Collect(ch)
}
