package backtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/segmentio/kafka-go"

	"safetynet/internal/backtest"
	"safetynet/internal/backtest/report"
	"safetynet/internal/testshot"
	"safetynet/scorer"
	"safetynet/stream/feed"
	"safetynet/stream/feedgen"
	"safetynet/stream/household"
	"safetynet/stream/kafkaio"
	"safetynet/stream/kafkatest"
	"safetynet/stream/monitor/episode"
)

const replayTopic = "safetynet.household-events"

// replayFeed is a synthetic population's clean feed up to testAt as intake writes it to the
// household-events topic (decoded, pseudonymised, household resolved), each event with the
// record timestamp it gets: when it was ingested, never earlier than the one before.
type replayRecord struct {
	e  feed.HouseholdEvent
	at time.Time
}

func replayFeed(t testing.TB, n int) []replayRecord {
	t.Helper()
	g := feedgen.New(feedgen.Config{Seed: 53, Households: n, Start: testAt, MalformedRate: -1, DuplicateRate: -1, UnknownPersonRate: -1})
	ps, err := feed.NewPseudonymizer([]byte("5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d"))
	if err != nil {
		t.Fatal(err)
	}
	home := map[string]string{}
	var out []replayRecord
	var clock time.Time
	add := func(ev feedgen.Event) {
		raw, derr := feed.Decode(ev.Feed, ev.Value, feed.DefaultMaxEventBytes, 1000*time.Hour, testAt)
		if derr != nil {
			t.Fatalf("decode %s: %v", ev.Value, derr)
		}
		e := ps.Apply(raw)
		if e.Feed == feed.Registry && e.HouseholdID != "" {
			home[e.PersonKey] = e.HouseholdID
		}
		if e.HouseholdID = home[e.PersonKey]; e.HouseholdID == "" {
			return
		}
		if e.OccurredAt.After(clock) {
			clock = e.OccurredAt
		}
		e.IngestedAt = clock
		out = append(out, replayRecord{e, clock})
	}
	for _, ev := range g.Registry() {
		add(ev)
	}
	for g.Now().Before(testAt) {
		add(g.Next())
	}
	return out
}

// produceReplay writes the events to the topic keyed by household, as intake does.
func produceReplay(t testing.TB, addr string, events []replayRecord) {
	t.Helper()
	w := kafkaio.Kafka{Brokers: []string{addr}}.Writer(replayTopic, kafkaio.HouseholdBalancer())
	msgs := make([]kafka.Message, 0, len(events))
	for _, re := range events {
		v, err := feed.AppendHouseholdEvent(nil, &re.e)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, kafka.Message{Key: []byte(re.e.HouseholdID), Value: v, Time: re.at})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// directWeeks is the replay computed here, without Kafka: every event in the order produced
// (one household's events keep their order on its partition), its household's due timers first,
// then the same steps the monitor takes; alerts from from to until counted by ISO week of UTC.
func directWeeks(events []replayRecord, m *scorer.Model, from, until time.Time) map[string]backtest.ReplayCounts {
	hs := map[string]*household.Household{}
	out := map[string]backtest.ReplayCounts{}
	count := func(al *household.Alert, at time.Time) {
		if al == nil || at.Before(from) || at.After(until) {
			return
		}
		y, w := at.UTC().ISOWeek()
		k := fmt.Sprintf("%04d-W%02d", y, w)
		c := out[k]
		switch al.Status {
		case household.StatusRaised:
			c.Raised++
		case household.StatusEscalated:
			c.Escalated++
		default:
			return
		}
		out[k] = c
	}
	fire := func(h *household.Household, to time.Time) {
		for !h.NextCheck.IsZero() && !h.NextCheck.After(to) {
			due := h.NextCheck
			count(episode.Assess(m, h, due, household.Cause{Kind: "timer"}, due), due)
			if !h.NextCheck.After(due) {
				break
			}
		}
	}
	for _, re := range events {
		e := re.e
		h := hs[e.HouseholdID]
		if h == nil {
			h = household.New(e.HouseholdID, 0)
			hs[e.HouseholdID] = h
		}
		fire(h, re.at)
		if changed, err := h.Apply(&e); err == nil && changed {
			count(episode.Assess(m, h, re.at, household.Cause{Kind: "event"}, e.OccurredAt), re.at)
		}
	}
	for _, h := range hs {
		fire(h, until)
	}
	return out
}

// A stricter and a looser model replayed from the topic of a real broker: the per-week counts of
// both equal the direct computation, every week from -replay-from's to the end is listed, the
// records before -replay-from are counted as warm-up, the stricter model raises fewer alerts than
// the looser, and the baseline against itself gives the same series twice.
func TestReplayCountsPerWeekEqualDirectComputation(t *testing.T) {
	events := replayFeed(t, 1500)
	_, addr := kafkatest.Broker(t, 3, replayTopic)
	produceReplay(t, addr, events)
	from := testAt.AddDate(0, 0, -7*12).Add(-36 * time.Hour) // a Friday: a partial first week
	until := testAt.AddDate(0, 0, 10)
	var warm int64
	for _, re := range events {
		if re.at.Before(from) {
			warm++
		}
	}
	def := scorer.Default()
	stricter := variant(t, "stricter-1", 40, 55, 75)
	looser := variant(t, "looser-1", 25, 38, 55)
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	totals := map[string]int{}
	for _, m := range []*scorer.Model{def, stricter, looser} {
		t.Run(m.Version, func(t *testing.T) {
			var calls int
			r, err := backtest.RunReplay(ctx, backtest.ReplayOptions{Kafka: kafkaio.Kafka{Brokers: []string{addr}}, Topic: replayTopic,
				Baseline: def, Model: m, From: from, Until: until, Progress: func(done, total int64) { calls++ }})
			if err != nil {
				t.Fatal(err)
			}
			if r.Records != int64(len(events)) || r.WarmUp != warm || r.Skipped != 0 || calls == 0 {
				t.Errorf("records %d, warm-up %d, skipped %d, progress calls %d; want %d, %d, 0, some", r.Records, r.WarmUp, r.Skipped, calls, len(events), warm)
			}
			if !r.RetainedFrom.Equal(events[0].at) {
				t.Errorf("retained from %s, want the first record's time %s", r.RetainedFrom, events[0].at)
			}
			// Every week from from's to until's, Mondays 7 days apart, names as ISO weeks.
			// from is Friday 2025-03-07 (2025-W10), until Wednesday 2025-06-11 (2025-W24).
			if len(r.Weeks) != 15 || r.Weeks[0].Week != "2025-W10" || r.Weeks[14].Week != "2025-W24" {
				t.Errorf("%d weeks listed (%v … %v), want 15, 2025-W10 to 2025-W24", len(r.Weeks), r.Weeks[0], r.Weeks[len(r.Weeks)-1])
			}
			for i, w := range r.Weeks {
				y, n := w.Start.ISOWeek()
				if w.Start.Weekday() != time.Monday || w.Week != fmt.Sprintf("%04d-W%02d", y, n) {
					t.Errorf("week %d: %s starting %s", i, w.Week, w.Start)
				}
				if i > 0 && !w.Start.Equal(r.Weeks[i-1].Start.AddDate(0, 0, 7)) {
					t.Errorf("week %d starts %s, not a week after %s", i, w.Start, r.Weeks[i-1].Start)
				}
			}
			for side, want := range map[string]map[string]backtest.ReplayCounts{"baseline": directWeeks(events, def, from, until), "model": directWeeks(events, m, from, until)} {
				got := map[string]backtest.ReplayCounts{}
				var sum backtest.ReplayCounts
				for _, w := range r.Weeks {
					c := w.Baseline
					if side == "model" {
						c = w.Model
					}
					if c != (backtest.ReplayCounts{}) {
						got[w.Week] = c
					}
					sum.Raised += c.Raised
					sum.Escalated += c.Escalated
				}
				if !maps.Equal(got, want) {
					t.Errorf("%s per week:\n got %v\nwant %v", side, got, want)
				}
				total := r.Baseline
				if side == "model" {
					total = r.Model
				}
				if total != sum {
					t.Errorf("%s total %+v, weeks sum to %+v", side, total, sum)
				}
			}
			busy := 0
			for _, w := range r.Weeks {
				if w.Baseline.Alerts() > 0 {
					busy++
				}
			}
			if busy < 8 {
				t.Errorf("alerts in only %d of %d weeks: the feed is too thin to test per-week counts", busy, len(r.Weeks))
			}
			totals[m.Version] = r.Model.Alerts()
			if m == def && !slices.Equal(r.Weeks, sameSides(r.Weeks)) {
				t.Errorf("the baseline against itself gives two different series")
			}
			if m == looser {
				checkReplayReport(t, r)
			}
			t.Logf("%s: %d records (%d warm-up), %d households; alerts baseline %+v, model %+v", m.Version, r.Records, r.WarmUp, r.Households, r.Baseline, r.Model)
		})
	}
	if !(totals["stricter-1"] < totals[def.Version] && totals[def.Version] < totals["looser-1"]) {
		t.Errorf("alerts: stricter %d, baseline %d, looser %d; want increasing", totals["stricter-1"], totals[def.Version], totals["looser-1"])
	}
}

func sameSides(ws []backtest.ReplayWeek) []backtest.ReplayWeek {
	out := slices.Clone(ws)
	for i := range out {
		out[i].Model = out[i].Baseline
	}
	return out
}

func TestWeekOf(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	for _, tc := range []struct {
		name   string
		at     time.Time
		loc    *time.Location
		week   string
		monday time.Time
	}{
		{"midweek", time.Date(2025, 6, 4, 12, 0, 0, 0, time.UTC), time.UTC, "2025-W23", time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC)},
		{"monday midnight", time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC), time.UTC, "2025-W23", time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC)},
		{"sunday night", time.Date(2025, 6, 8, 23, 59, 0, 0, time.UTC), time.UTC, "2025-W23", time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC)},
		{"sunday night UTC is monday in Beijing", time.Date(2025, 6, 8, 17, 0, 0, 0, time.UTC), cst, "2025-W24", time.Date(2025, 6, 9, 0, 0, 0, 0, cst)},
		{"ISO year before the calendar year", time.Date(2024, 12, 30, 9, 0, 0, 0, time.UTC), time.UTC, "2025-W01", time.Date(2024, 12, 30, 0, 0, 0, 0, time.UTC)},
		{"ISO year after the calendar year", time.Date(2021, 1, 2, 9, 0, 0, 0, time.UTC), time.UTC, "2020-W53", time.Date(2020, 12, 28, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			week, monday := backtest.WeekOf(tc.at, tc.loc)
			if week != tc.week || !monday.Equal(tc.monday) {
				t.Errorf("WeekOf(%s) = %s %s, want %s %s", tc.at, week, monday, tc.week, tc.monday)
			}
		})
	}
}

// checkReplayReport writes the replay into report.json and report.html: the JSON reads back the
// same, the summary lists every week, and headless Chromium draws a line and a point per week
// for each model and shows the totals. The screenshot goes to docs/ui/backtest-replay.png with SAFETYNET_UPDATE_SCREENSHOTS=1.
func checkReplayReport(t *testing.T, r *backtest.Replay) {
	out := t.TempDir()
	rep := &backtest.Report{At: r.Until, BaselineVersion: "default-2025.1", ModelVersion: "looser-1", Replay: r,
		ByLevel: map[string]map[string]int{"baseline": backtest.LevelCounts(), "model": backtest.LevelCounts()}}
	if err := report.WriteDir(out, rep); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got backtest.Report
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Replay == nil || !slices.EqualFunc(got.Replay.Weeks, r.Weeks, func(a, b backtest.ReplayWeek) bool {
		return a.Week == b.Week && a.Start.Equal(b.Start) && a.Baseline == b.Baseline && a.Model == b.Model
	}) || got.Replay.Model != r.Model {
		t.Errorf("report.json replay does not read back: %s", b)
	}
	var sum strings.Builder
	report.Summary(&sum, rep, 5)
	for _, w := range r.Weeks {
		if !strings.Contains(sum.String(), w.Week+" ") {
			t.Errorf("summary lacks week %s:\n%s", w.Week, sum.String())
		}
	}

	chrome := kafkatest.Tool(t, "chromium", "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox,
		chromedp.WindowSize(1200, 900), chromedp.Flag("headless", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel2 := chromedp.NewContext(actx)
	defer cancel2()
	ctx, cancel3 := context.WithTimeout(ctx, 60*time.Second)
	defer cancel3()
	abs, _ := filepath.Abs(filepath.Join(out, "report.html"))
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+abs), chromedp.WaitReady("body")); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("replay-model").textContent`))
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	if strings.TrimSpace(shown) != strconv.Itoa(r.Model.Alerts()) {
		t.Errorf("page shows %q model alerts, want %d", shown, r.Model.Alerts())
	}
	for _, side := range []string{"baseline", "model"} {
		lines, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#replay polyline.`+side+`").length`))
		if err != nil {
			t.Fatalf("chromium: %v", err)
		}
		points, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#replay circle.`+side+`").length`))
		if err != nil {
			t.Fatalf("chromium: %v", err)
		}
		if lines != 1 || points != len(r.Weeks) {
			t.Errorf("%s: %d lines and %d points drawn, want 1 and %d", side, lines, points, len(r.Weeks))
		}
	}
	// The highest point of the model's line is the busiest week's.
	top, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`Math.min(...[...document.querySelectorAll("#replay circle.model")].map(c => +c.getAttribute("cy")))`))
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	if top != 28 { // the chart's top edge
		t.Errorf("the busiest week's point is at y=%g, want the top of the chart (28)", top)
	}
	png, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.ID("replay-section")))
	if err != nil {
		t.Fatalf("chromium screenshot: %v", err)
	}
	testshot.Save(t, "../../docs/ui", "backtest-replay.png", png)
}

// BenchmarkReplay replays a synthetic population's household events from a real broker through
// both models; it reports household events per second.
func BenchmarkReplay(b *testing.B) {
	events := replayFeed(b, 10000)
	_, addr := kafkatest.Broker(b, 4, replayTopic)
	produceReplay(b, addr, events)
	looser := variant(b, "looser-1", 25, 38, 55)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r, err := backtest.RunReplay(b.Context(), backtest.ReplayOptions{Kafka: kafkaio.Kafka{Brokers: []string{addr}}, Topic: replayTopic,
			Baseline: scorer.Default(), Model: looser, From: testAt.AddDate(0, -3, 0), Until: testAt})
		if err != nil || r.Records != int64(len(events)) {
			b.Fatalf("replay: %v, %d records of %d", err, r.Records, len(events))
		}
	}
	b.ReportMetric(float64(len(events))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
