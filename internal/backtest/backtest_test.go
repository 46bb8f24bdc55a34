package backtest_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"safetynet/internal/backtest"
	"safetynet/internal/backtest/report"
	"safetynet/internal/testshot"
	"safetynet/scorer"
	"safetynet/state"
	"safetynet/stream/feed"
	"safetynet/stream/feedgen"
	"safetynet/stream/household"
	"safetynet/stream/kafkatest"
)

var testAt = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// buildState folds a synthetic population's clean feed up to testAt into households the way
// intake and the monitor do (decode, pseudonymise, resolve the household, household.Apply),
// gives each the level the default model puts it at, and writes them through the state API into
// a real Badger directory. It returns the directory and the households written.
func buildState(t testing.TB, n int) (string, map[string]*household.Household) {
	t.Helper()
	g := feedgen.New(feedgen.Config{Seed: 41, Households: n, Start: testAt, MalformedRate: -1, DuplicateRate: -1, UnknownPersonRate: -1})
	ps, err := feed.NewPseudonymizer([]byte("5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d"))
	if err != nil {
		t.Fatal(err)
	}
	hhs := map[string]*household.Household{}
	home := map[string]string{}
	apply := func(ev feedgen.Event) {
		raw, derr := feed.Decode(ev.Feed, ev.Value, feed.DefaultMaxEventBytes, 1000*time.Hour, testAt)
		if derr != nil {
			t.Fatalf("decode %s: %v", ev.Value, derr)
		}
		e := ps.Apply(raw)
		if e.Feed == feed.Registry && e.HouseholdID != "" {
			home[e.PersonKey] = e.HouseholdID
		}
		id := home[e.PersonKey]
		if id == "" {
			return
		}
		e.HouseholdID = id
		h := hhs[id]
		if h == nil {
			h = household.New(id, 0)
			hhs[id] = h
		}
		if _, err := h.Apply(&e); err != nil {
			t.Fatal(err)
		}
	}
	for _, ev := range g.Registry() {
		apply(ev)
	}
	for g.Now().Before(testAt) {
		apply(g.Next())
	}
	def := scorer.Default()
	dir := t.TempDir()
	st, err := state.Open(state.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	wb := st.NewBatch()
	for id, h := range hhs {
		a := scorer.Score(def, h.Scorer(), testAt)
		h.Level, h.Score, h.ModelVersion = def.Classify(a, ""), a.Total, a.ModelVersion
		v, err := household.Encode(h)
		if err != nil {
			t.Fatal(err)
		}
		if err := wb.PutHousehold(id, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, hhs
}

// variant is the default model with other level thresholds.
func variant(t testing.TB, version string, watch, warning, urgent int) *scorer.Model {
	t.Helper()
	y := string(scorer.DefaultYAML())
	y = strings.Replace(y, "version: default-2025.1", "version: "+version, 1)
	for _, r := range [][2]string{{"watch, threshold: 30", "watch, threshold: " + strconv.Itoa(watch)},
		{"warning, threshold: 45", "warning, threshold: " + strconv.Itoa(warning)}, {"urgent, threshold: 65", "urgent, threshold: " + strconv.Itoa(urgent)}} {
		if !strings.Contains(y, r[0]) {
			t.Fatalf("default model has no %q", r[0])
		}
		y = strings.Replace(y, r[0], r[1], 1)
	}
	m, err := scorer.Parse([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func openRO(t testing.TB, dir string) *state.Store {
	t.Helper()
	st, err := state.Open(state.Options{Dir: dir, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// A stricter and a looser model against the synthetic population: report.json's counts equal a
// re-assessment computed here, and the baseline against itself changes nothing.
func TestBacktestCountsEqualDirectAssessment(t *testing.T) {
	dir, hhs := buildState(t, 4000)
	st := openRO(t, dir)
	def := scorer.Default()
	stricter := variant(t, "stricter-1", 40, 55, 75)
	looser := variant(t, "looser-1", 25, 38, 55)

	for _, m := range []*scorer.Model{stricter, looser, def} {
		t.Run(m.Version, func(t *testing.T) {
			out := t.TempDir()
			r, err := backtest.Run(st, backtest.Options{Baseline: def, Model: m, At: testAt})
			if err != nil {
				t.Fatal(err)
			}
			if err := report.WriteDir(out, r); err != nil {
				t.Fatal(err)
			}
			var got backtest.Report
			b, err := os.ReadFile(filepath.Join(out, "report.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			// Independently: every household under both models, classified from its stored level.
			want := map[string]map[string]int{"baseline": {}, "model": {}}
			trans := map[[2]string]int{}
			changed := 0
			for _, h := range hhs {
				sh := h.Scorer()
				lb := def.Classify(scorer.Assess(def, sh, testAt), h.Level)
				lm := m.Classify(scorer.Assess(m, sh, testAt), h.Level)
				want["baseline"][household.LevelLabel(lb)]++
				want["model"][household.LevelLabel(lm)]++
				trans[[2]string{household.LevelLabel(lb), household.LevelLabel(lm)}]++
				if lb != lm {
					changed++
				}
			}
			if got.Households != len(hhs) || got.Changed != changed || len(got.Changes) != changed {
				t.Errorf("households %d changed %d (%d listed), want %d and %d", got.Households, got.Changed, len(got.Changes), len(hhs), changed)
			}
			for side, levels := range want {
				for _, l := range backtest.LevelLabels {
					if got.ByLevel[side][l] != levels[l] {
						t.Errorf("by_level[%s][%s] = %d, want %d", side, l, got.ByLevel[side][l], levels[l])
					}
				}
			}
			for _, from := range backtest.LevelLabels {
				for _, to := range backtest.LevelLabels {
					if got.Transitions[from][to] != trans[[2]string{from, to}] {
						t.Errorf("transitions[%s][%s] = %d, want %d", from, to, got.Transitions[from][to], trans[[2]string{from, to}])
					}
				}
			}
			atLevel := len(hhs) - want["model"]["none"]
			t.Logf("%s: %d households, %d change level; model at a level %d; by level %v", m.Version, got.Households, got.Changed, atLevel, got.ByLevel["model"])
			switch m {
			case def:
				if got.Changed != 0 || len(got.Changes) != 0 {
					t.Errorf("the baseline against itself: %d changes", got.Changed)
				}
			case stricter:
				if got.Changed == 0 || atLevel >= len(hhs)-want["baseline"]["none"] {
					t.Errorf("stricter model: %d changes, %d at a level (baseline %d)", got.Changed, atLevel, len(hhs)-want["baseline"]["none"])
				}
			case looser:
				if got.Changed == 0 || atLevel <= len(hhs)-want["baseline"]["none"] {
					t.Errorf("looser model: %d changes, %d at a level", got.Changed, atLevel)
				}
			}
			for i, c := range got.Changes {
				if c.From == c.To {
					t.Errorf("change %d: %s → %s is no change", i, c.From, c.To)
				}
				if i > 0 {
					p := got.Changes[i-1]
					if backtest.Abs(backtest.Rank(p.To)-backtest.Rank(p.From)) < backtest.Abs(backtest.Rank(c.To)-backtest.Rank(c.From)) {
						t.Errorf("changes not biggest first at %d", i)
					}
				}
			}
			var sum int
			for _, c := range got.ByGroup {
				if c.Dimension == "size" {
					sum += c.Households
				}
			}
			if sum > len(hhs) || sum < len(hhs)-5*10 {
				t.Errorf("size breakdown covers %d of %d households", sum, len(hhs))
			}
			if got.Outcomes.Available || got.Outcomes.Note != backtest.NoOutcomesNote {
				t.Errorf("outcomes: %+v", got.Outcomes)
			}
			if m == stricter {
				renderHTML(t, filepath.Join(out, "report.html"), got.Changed)
			}
		})
	}
}

// renderHTML opens the report in headless Chromium, checks what it shows, and writes the
// screenshot to docs/ui/backtest.png (with SAFETYNET_UPDATE_SCREENSHOTS=1).
func renderHTML(t *testing.T, path string, changed int) {
	chrome := kafkatest.Tool(t, "chromium", "chromium")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	for _, want := range []string{`<meta charset="utf-8">`, "<svg", "各等级户数 Households per level"} {
		if !strings.Contains(html, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	for _, bad := range []string{"http://", "https://"} {
		if i := strings.Index(strings.ReplaceAll(html, `xmlns="http://www.w3.org/2000/svg"`, ""), bad); i >= 0 {
			t.Errorf("report.html refers outside itself: %q", html[i:min(len(html), i+60)])
		}
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox,
		chromedp.WindowSize(1200, 900), chromedp.Flag("headless", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel2 := chromedp.NewContext(actx)
	defer cancel2()
	ctx, cancel3 := context.WithTimeout(ctx, 60*time.Second)
	defer cancel3()
	abs, _ := filepath.Abs(path)
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+abs), chromedp.WaitReady("body")); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("changed").textContent`))
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	svgs, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("svg rect, svg circle").length`))
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("chromium screenshot: %v", err)
	}
	if strings.TrimSpace(shown) != strconv.Itoa(changed) {
		t.Errorf("page shows %q households changing, want %d", shown, changed)
	}
	if svgs < 8 {
		t.Errorf("charts drew %d shapes", svgs)
	}
	testshot.Save(t, "../../docs/ui", "backtest.png", png)
}
