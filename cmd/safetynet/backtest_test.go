package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"safetynet/internal/backtest"
	"safetynet/scorer"
	"safetynet/state"
	"safetynet/stream/feed"
	"safetynet/stream/feedgen"
	"safetynet/stream/household"
	"safetynet/stream/kafkatest"
)

var btAt = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// synthHouseholds folds a small synthetic population up to btAt (decode, pseudonymise, resolve
// the household, household.Apply), with the default model's level stored.
func synthHouseholds(t *testing.T, n int) map[string][]byte {
	t.Helper()
	g := feedgen.New(feedgen.Config{Seed: 9, Households: n, Start: btAt, MalformedRate: -1, DuplicateRate: -1, UnknownPersonRate: -1})
	ps, _ := feed.NewPseudonymizer([]byte("5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d"))
	hhs, home := map[string]*household.Household{}, map[string]string{}
	apply := func(ev feedgen.Event) {
		raw, derr := feed.Decode(ev.Feed, ev.Value, feed.DefaultMaxEventBytes, 1000*time.Hour, btAt)
		if derr != nil {
			t.Fatalf("decode: %v", derr)
		}
		e := ps.Apply(raw)
		if e.Feed == feed.Registry && e.HouseholdID != "" {
			home[e.PersonKey] = e.HouseholdID
		}
		if e.HouseholdID = home[e.PersonKey]; e.HouseholdID == "" {
			return
		}
		if hhs[e.HouseholdID] == nil {
			hhs[e.HouseholdID] = household.New(e.HouseholdID, 0)
		}
		if _, err := hhs[e.HouseholdID].Apply(&e); err != nil {
			t.Fatal(err)
		}
	}
	for _, ev := range g.Registry() {
		apply(ev)
	}
	for g.Now().Before(btAt) {
		apply(g.Next())
	}
	out := map[string][]byte{}
	for id, h := range hhs {
		a := scorer.Score(scorer.Default(), h.Scorer(), btAt)
		h.Level, h.ModelVersion = scorer.Default().Classify(a, ""), a.ModelVersion
		v, _ := household.Encode(h)
		out[id] = v
	}
	return out
}

func writeState(t *testing.T, hhs map[string][]byte) string {
	dir := t.TempDir()
	st, err := state.Open(state.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	wb := st.NewBatch()
	for id, v := range hhs {
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
	return dir
}

func looserModelFile(t *testing.T) string {
	y := strings.Replace(string(scorer.DefaultYAML()), "version: default-2025.1", "version: looser-test", 1)
	y = strings.Replace(y, "watch, threshold: 30", "watch, threshold: 24", 1)
	p := filepath.Join(t.TempDir(), "looser.yaml")
	if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readReport(t *testing.T, dir string) backtest.Report {
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r backtest.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// The command reads a state directory and the changelog alike, refuses a directory in use
// pointing at -from-changelog, and writes the fairness report.
func TestBacktestCommand(t *testing.T) {
	t.Setenv("SAFETYNET_MODEL_FILE", "")
	hhs := synthHouseholds(t, 1500)
	dir := writeState(t, hhs)
	model := looserModelFile(t)
	at := btAt.Format(time.RFC3339)

	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "backtest", "-model", model, "-state", dir, "-at", at, "-out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	fromState := readReport(t, out)
	if fromState.Households != len(hhs) || fromState.Changed == 0 || fromState.ModelVersion != "looser-test" || fromState.BaselineVersion != scorer.Default().Version {
		t.Fatalf("report: %d households (want %d), %d changed, %s vs %s", fromState.Households, len(hhs), fromState.Changed, fromState.ModelVersion, fromState.BaselineVersion)
	}
	for _, want := range []string{"households per level", "transitions", "changes, biggest first", "by group", "fairness", "no casework outcomes"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "read 1500 households") && !strings.Contains(stderr, "households in") {
		t.Errorf("no progress on stderr: %q", stderr)
	}

	// The same households on the changelog (a live instance's view) give the same report.
	_, addr := kafkatest.Broker(t, 3, "safetynet.changelog")
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: "safetynet.changelog", Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	var msgs []kafka.Message
	for id, v := range hhs {
		msgs = append(msgs, kafka.Message{Key: []byte(id), Value: []byte("stale")}, kafka.Message{Key: []byte(id), Value: v})
	}
	msgs = append(msgs, kafka.Message{Key: []byte("gone"), Value: []byte("x")}, kafka.Message{Key: []byte("gone")})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()
	out2 := t.TempDir()
	code, _, stderr = runCLI(t, "backtest", "-model", model, "-from-changelog", "-brokers", addr, "-at", at, "-out", out2)
	if code != 0 {
		t.Fatalf("from changelog: exit %d: %s", code, stderr)
	}
	fromLog := readReport(t, out2)
	if fromLog.Households != fromState.Households || fromLog.Changed != fromState.Changed {
		t.Errorf("changelog report: %d households %d changed; state: %d and %d", fromLog.Households, fromLog.Changed, fromState.Households, fromState.Changed)
	}

	// A state directory in use by another process (here: open for writing) is refused, pointing
	// at -from-changelog, and nothing is written to it.
	st, err := state.Open(state.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI(t, "backtest", "-model", model, "-state", dir, "-out", t.TempDir())
	st.Close()
	if code != 1 || !strings.Contains(stderr, "-from-changelog") || !strings.Contains(stderr, "in use") {
		t.Errorf("state in use: exit %d, %q", code, stderr)
	}

	for _, args := range [][]string{{"backtest", "-state", dir, "-out", out}, {"backtest", "-model", model, "-out", out},
		{"backtest", "-model", model, "-state", dir}, {"backtest", "-model", model, "-state", dir, "-out", out, "-fair-low", "2"}} {
		if code, _, stderr := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, stderr)
		}
	}

	fout := t.TempDir()
	code, stdout, stderr = runCLI(t, "fairness", "-state", dir, "-out", fout)
	if code != 0 {
		t.Fatalf("fairness: exit %d: %s", code, stderr)
	}
	var f backtest.Fairness
	b, _ := os.ReadFile(filepath.Join(fout, "fairness.json"))
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	atLevel := fromState.ByLevel["baseline"]["watch"] + fromState.ByLevel["baseline"]["warning"] + fromState.ByLevel["baseline"]["urgent"]
	if f.Households != len(hhs) || f.Overall.Alert.Count != atLevel {
		t.Errorf("fairness: %d households, %d flagged; want %d and %d", f.Households, f.Overall.Alert.Count, len(hhs), atLevel)
	}
	if _, err := os.Stat(filepath.Join(fout, "fairness.html")); err != nil || !strings.Contains(stdout, "fairness") {
		t.Errorf("fairness.html: %v; stdout %s", err, stdout)
	}
}

// -replay-from replays the household-events topic of a broker into the report: every week from
// -replay-from's to now, alerts under both models, the summary's replay table; a bad value or a
// time not in the past are usage errors naming the flag, and a broker not there fails saying so.
func TestBacktestReplayCommand(t *testing.T) {
	t.Setenv("SAFETYNET_MODEL_FILE", "")
	t.Setenv("SAFETYNET_KAFKA_BROKERS", "")
	hhs := synthHouseholds(t, 300)
	dir := writeState(t, hhs)
	model := looserModelFile(t)

	// The same population's household events, as intake writes them, stamped when ingested.
	g := feedgen.New(feedgen.Config{Seed: 9, Households: 300, Start: btAt, MalformedRate: -1, DuplicateRate: -1, UnknownPersonRate: -1})
	ps, _ := feed.NewPseudonymizer([]byte("5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d"))
	home := map[string]string{}
	var msgs []kafka.Message
	var clock time.Time
	add := func(ev feedgen.Event) {
		raw, derr := feed.Decode(ev.Feed, ev.Value, feed.DefaultMaxEventBytes, 1000*time.Hour, btAt)
		if derr != nil {
			t.Fatalf("decode: %v", derr)
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
		v, err := feed.AppendHouseholdEvent(nil, &e)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, kafka.Message{Key: []byte(e.HouseholdID), Value: v, Time: clock})
	}
	for _, ev := range g.Registry() {
		add(ev)
	}
	for g.Now().Before(btAt) {
		add(g.Next())
	}
	_, addr := kafkatest.Broker(t, 3, "safetynet.household-events")
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: "safetynet.household-events", Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()

	from := btAt.AddDate(0, -6, 0)
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "backtest", "-model", model, "-state", dir, "-at", btAt.Format(time.RFC3339), "-out", out,
		"-brokers", addr, "-replay-from", from.Format(time.RFC3339))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := readReport(t, out).Replay
	if r == nil {
		t.Fatal("report.json has no replay")
	}
	if r.Records != int64(len(msgs)) || r.Households == 0 || r.Baseline.Alerts() == 0 || r.Model.Alerts() < r.Baseline.Alerts() {
		t.Errorf("replay: %d records (want %d), %d households, alerts baseline %d model %d (want some, model ≥ baseline)",
			r.Records, len(msgs), r.Households, r.Baseline.Alerts(), r.Model.Alerts())
	}
	if first, _ := backtest.WeekOf(from, time.UTC); len(r.Weeks) < 26 || r.Weeks[0].Week != first {
		t.Errorf("replay weeks: %d from %v, want 26 or more from %s", len(r.Weeks), r.Weeks[0].Week, first)
	}
	if !strings.Contains(stdout, "replay 按周回放") || !strings.Contains(stdout, r.Weeks[0].Week) || !strings.Contains(stderr, "household events replayed") {
		t.Errorf("no replay in the summary or no progress:\n%s\n%s", stdout, stderr)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-brokers", addr, "-replay-from", "2025-13-01"}, "-replay-from"},
		{[]string{"-brokers", addr, "-replay-from", time.Now().Add(time.Hour).Format(time.RFC3339)}, "not in the past"},
	} {
		args := append([]string{"backtest", "-model", model, "-state", dir, "-out", t.TempDir()}, tc.args...)
		if code, _, stderr := runCLI(t, args...); code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, want 2 naming %q: %s", tc.args, code, tc.want, stderr)
		}
	}
	// No broker there: the command fails naming the topic and the address.
	code, _, stderr = runCLI(t, "backtest", "-model", model, "-state", dir, "-out", t.TempDir(), "-brokers", "127.0.0.1:1", "-replay-from", from.Format(time.RFC3339))
	if code != 1 || !strings.Contains(stderr, "replay safetynet.household-events") || !strings.Contains(stderr, "127.0.0.1:1") {
		t.Errorf("unreachable broker: exit %d: %s", code, stderr)
	}
}
