package backtest

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"safetynet/scorer"
	"safetynet/stream/feed"
	"safetynet/stream/household"
	"safetynet/stream/kafkaio"
	"safetynet/stream/monitor/episode"
)

// Replay over time: the household-events topic, as far back as the brokers retain it, read
// through two in-memory monitors, one per model, counting the alerts each would have raised per
// week. State before From matters (a household already in an episode does not raise again), so
// the replay always starts at the topic's first retained record and only counts from From.

// ReplayOptions configure a replay.
type ReplayOptions struct {
	Kafka kafkaio.Kafka
	// Topic is the household-events topic.
	Topic           string
	Baseline, Model *scorer.Model
	// From is the first instant whose alerts are counted; the records before it build state only.
	From time.Time
	// Until is where the replay ends: timers due up to it fire (default: now). Records produced
	// after the replay started are not read.
	Until time.Time
	// MaxMembers is the monitor's household member cap (SAFETYNET_MAX_HOUSEHOLD_MEMBERS): an
	// event that would add a person beyond it is not applied, as the monitor dead-letters it
	// (default household.DefaultMaxMembers).
	MaxMembers int
	// Progress, when set, is called now and then with the records read and the total to read.
	Progress func(done, total int64)
}

// Replay is report.json's "replay" section.
type Replay struct {
	From  time.Time `json:"from"`
	Until time.Time `json:"until"`
	// RetainedFrom is the timestamp of the oldest record read: households' history before it is
	// gone from the topic.
	RetainedFrom time.Time `json:"retained_from,omitzero"`
	Records      int64     `json:"records"`
	// WarmUp is how many of the records lie before From (by the brokers' time index): they build
	// state, their alerts are not counted.
	WarmUp int64 `json:"warm_up_records"`
	// Skipped are records the monitor would not apply (undecodable, refused, over the member cap).
	Skipped    int64 `json:"skipped_records"`
	Households int   `json:"households"`
	// Weeks are the ISO weeks from From's to Until's, in From's time zone, every one listed.
	Weeks    []ReplayWeek `json:"weeks"`
	Baseline ReplayCounts `json:"baseline"` // totals over the weeks
	Model    ReplayCounts `json:"model"`
	Notes    []string     `json:"notes,omitempty"`
}

// ReplayWeek is one ISO week's alerts under both models.
type ReplayWeek struct {
	Week     string       `json:"week"`  // "2025-W23"
	Start    time.Time    `json:"start"` // its Monday, 00:00
	Baseline ReplayCounts `json:"baseline"`
	Model    ReplayCounts `json:"model"`
}

// ReplayCounts counts the alerts that put a household in front of a caseworker: a new episode
// (raised) and a higher level within one (escalated).
type ReplayCounts struct {
	Raised    int `json:"raised"`
	Escalated int `json:"escalated"`
}

// Alerts is raised plus escalated.
func (c ReplayCounts) Alerts() int { return c.Raised + c.Escalated }

func (c *ReplayCounts) add(status string) {
	switch status {
	case household.StatusRaised:
		c.Raised++
	case household.StatusEscalated:
		c.Escalated++
	}
}

// WeekOf is the ISO week of t in loc: its name ("2025-W23") and its Monday at 00:00.
func WeekOf(t time.Time, loc *time.Location) (string, time.Time) {
	t = t.In(loc)
	y, w := t.ISOWeek()
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	monday := day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
	return fmt.Sprintf("%04d-W%02d", y, w), monday
}

// replaySide is one model's view: its own copy of every household (the facts are the same on
// both sides; the episodes, levels, timers and cases differ).
type replaySide struct {
	model  *scorer.Model
	hs     map[string]*household.Household
	counts map[string]*ReplayCounts // by week
}

// RunReplay reads every partition of the topic from its first retained record to the end offset
// it has when the replay starts, and applies each event to both sides as the monitor would
// (household.Apply, casework, the member cap), assessing at the record's timestamp — when the
// monitor would have seen it. A household's timer fires, at its due time, before its next event
// and, at the end, up to Until. Alerts at or after From are counted per week.
func RunReplay(ctx context.Context, o ReplayOptions) (*Replay, error) {
	if o.Model == nil || o.Baseline == nil {
		return nil, fmt.Errorf("replay: a model and a baseline are required")
	}
	if o.Until.IsZero() {
		o.Until = time.Now()
	}
	if o.From.IsZero() || !o.From.Before(o.Until) {
		return nil, fmt.Errorf("replay: -replay-from %s must be before the end of the replay %s", o.From.Format(time.RFC3339), o.Until.Format(time.RFC3339))
	}
	if o.MaxMembers <= 0 {
		o.MaxMembers = household.DefaultMaxMembers
	}
	client := o.Kafka.Client()
	parts, err := kafkaio.Partitions(ctx, client, o.Topic)
	if err != nil {
		return nil, fmt.Errorf("replay %s: %w", o.Topic, err)
	}
	firsts, err := kafkaio.ListOffsets(ctx, client, parts, kafka.FirstOffset)
	if err != nil {
		return nil, fmt.Errorf("replay %s offsets: %w", o.Topic, err)
	}
	ends, err := kafkaio.ListOffsets(ctx, client, parts, kafka.LastOffset)
	if err != nil {
		return nil, fmt.Errorf("replay %s offsets: %w", o.Topic, err)
	}
	ats, err := kafkaio.OffsetsAt(ctx, client, parts, o.From)
	if err != nil {
		return nil, fmt.Errorf("replay %s offsets at -replay-from: %w", o.Topic, err)
	}
	loc := o.From.Location()
	r := &Replay{From: o.From, Until: o.Until}
	var total int64
	for _, p := range parts[o.Topic] {
		first, end := firsts[o.Topic][p], ends[o.Topic][p]
		total += max(end-first, 0)
		r.WarmUp += min(max(ats[o.Topic][p]-first, 0), max(end-first, 0))
	}
	sides := [2]*replaySide{
		{model: o.Baseline, hs: map[string]*household.Household{}, counts: map[string]*ReplayCounts{}},
		{model: o.Model, hs: map[string]*household.Household{}, counts: map[string]*ReplayCounts{}},
	}
	count := func(s *replaySide, al *household.Alert, at time.Time) {
		if al == nil || at.Before(o.From) || at.After(o.Until) {
			return
		}
		week, _ := WeekOf(at, loc)
		c := s.counts[week]
		if c == nil {
			c = &ReplayCounts{}
			s.counts[week] = c
		}
		c.add(al.Status)
	}
	// fireUntil fires a household's timers due up to t, each at its due time.
	fireUntil := func(s *replaySide, h *household.Household, t time.Time) {
		for range 1000 { // a bound: every assessment moves NextCheck past its own instant
			due := h.NextCheck
			if due.IsZero() || due.After(t) {
				return
			}
			count(s, episode.Assess(s.model, h, due, household.Cause{Kind: household.CauseTimer}, due), due)
			if !h.NextCheck.After(due) {
				return
			}
		}
	}

	var done int64
	last := time.Now()
	for _, p := range parts[o.Topic] {
		first, end := firsts[o.Topic][p], ends[o.Topic][p]
		if end <= first {
			continue
		}
		rd := kafka.NewReader(o.Kafka.PartitionReader(o.Topic, p, kafkaio.ToEndHold, kafkaio.ToEndBytes))
		if err := rd.SetOffset(first); err != nil {
			rd.Close()
			return nil, fmt.Errorf("replay %s partition %d: %w", o.Topic, p, err)
		}
		for {
			msg, err := rd.FetchMessage(ctx)
			if err != nil {
				rd.Close()
				return nil, fmt.Errorf("replay %s partition %d: %w", o.Topic, p, err)
			}
			done++
			var e feed.HouseholdEvent
			if err := feed.DecodeHouseholdEvent(msg.Value, &e); err != nil || e.V != feed.EventVersion || e.HouseholdID == "" {
				r.Skipped++
			} else {
				at := recordTime(msg, &e)
				if r.RetainedFrom.IsZero() || at.Before(r.RetainedFrom) {
					r.RetainedFrom = at
				}
				applied := false
				for _, s := range sides {
					h := s.hs[e.HouseholdID]
					if h == nil {
						h = household.New(e.HouseholdID, p)
						s.hs[e.HouseholdID] = h
					}
					fireUntil(s, h, at)
					ok, al := replayEvent(s.model, h, &e, at, o.MaxMembers)
					applied = applied || ok
					count(s, al, at)
				}
				if !applied {
					r.Skipped++
				}
			}
			if o.Progress != nil && time.Since(last) > 500*time.Millisecond {
				last = time.Now()
				o.Progress(done, total)
			}
			if msg.Offset+1 >= end {
				break
			}
		}
		rd.Close()
	}
	for _, s := range sides {
		for _, h := range s.hs {
			fireUntil(s, h, o.Until)
		}
	}
	if o.Progress != nil {
		o.Progress(done, total)
	}
	r.Records = done
	r.Households = len(sides[0].hs)
	for w, end := o.From.In(loc), o.Until.In(loc); ; w = w.AddDate(0, 0, 7) {
		name, monday := WeekOf(w, loc)
		if monday.After(end) {
			break
		}
		week := ReplayWeek{Week: name, Start: monday}
		if c := sides[0].counts[name]; c != nil {
			week.Baseline = *c
		}
		if c := sides[1].counts[name]; c != nil {
			week.Model = *c
		}
		r.Baseline.Raised += week.Baseline.Raised
		r.Baseline.Escalated += week.Baseline.Escalated
		r.Model.Raised += week.Model.Raised
		r.Model.Escalated += week.Model.Escalated
		r.Weeks = append(r.Weeks, week)
	}
	switch {
	case done == 0:
		r.Notes = append(r.Notes, "the topic holds no records: nothing to replay")
	case r.RetainedFrom.After(o.From):
		r.Notes = append(r.Notes, fmt.Sprintf("the oldest retained record is from %s, after -replay-from: the weeks before it count nothing, and households whose history began earlier start from the facts retained",
			r.RetainedFrom.In(loc).Format(time.RFC3339)))
	default:
		r.Notes = append(r.Notes, fmt.Sprintf("state is built from the oldest retained record (%s): a household whose history began before it starts from the facts retained",
			r.RetainedFrom.In(loc).Format(time.RFC3339)))
	}
	return r, nil
}

// replayEvent applies one event to h as the monitor's batch does and assesses h when it changed;
// ok is false when the monitor would not apply it (it would dead-letter it).
func replayEvent(m *scorer.Model, h *household.Household, e *feed.HouseholdEvent, at time.Time, maxMembers int) (ok bool, al *household.Alert) {
	if e.Feed == feed.Casework {
		if _, err := h.ApplyCase(e, episode.CaseContext(m, h, e, at)); err != nil {
			return false, nil
		}
		return true, nil
	}
	if _, held := h.Persons[e.PersonKey]; !held && len(h.Persons) >= maxMembers {
		return false, nil
	}
	changed, err := h.Apply(e)
	if err != nil {
		return false, nil
	}
	if !changed {
		return true, nil
	}
	cause := household.Cause{Kind: household.CauseEvent, EventID: e.EventID, Feed: e.Feed, Topic: e.Source.Topic,
		Partition: e.Source.Partition, Offset: e.Source.Offset, Produced: e.ProducedAt}
	return true, episode.Assess(m, h, at, cause, e.OccurredAt)
}

// recordTime is when the monitor would have seen the event: the record's timestamp, else when
// intake accepted it, else when it occurred.
func recordTime(msg kafka.Message, e *feed.HouseholdEvent) time.Time {
	switch {
	case !msg.Time.IsZero() && msg.Time.Unix() > 0:
		return msg.Time
	case !e.IngestedAt.IsZero():
		return e.IngestedAt
	}
	return e.OccurredAt
}
