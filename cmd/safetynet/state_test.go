package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"safetynet/internal/app"
	"safetynet/internal/demo"
	"safetynet/stream/feedgen"
	"safetynet/stream/kafkatest"
	"safetynet/stream/topics"
)

// TestStateDumpFromChangelog runs the service over a kfake broker with a small synthetic
// population's feeds. While it runs, `state dump -dir` on its directory is refused, pointing at
// -from-changelog, and `state dump -from-changelog` works. Once it has stopped, the dump of the
// directory and the dump of the changelog are the same lines.
func TestStateDumpFromChangelog(t *testing.T) {
	tp := topics.Default()
	_, addr := kafkatest.Broker(t, 3, demo.Topics(tp)...)
	dir := filepath.Join(t.TempDir(), "state")
	cfg, err := app.LoadConfig(map[string]string{
		app.EnvPrefix + "KAFKA_BROKERS": addr,
		app.EnvPrefix + "STATE_DIR":     dir,
		app.EnvPrefix + "PSEUDONYM_KEY": "5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d",
		app.EnvPrefix + "HTTP_ADDR":     "127.0.0.1:0",
		app.EnvPrefix + "LOG_LEVEL":     "warn",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	listening := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, cfg, app.Options{Stderr: io.Discard, Version: "test", Listening: listening})
	}()
	var httpAddr string
	select {
	case httpAddr = <-listening:
	case err := <-done:
		t.Fatalf("service: %v", err)
	}
	pctx, pcancel := context.WithTimeout(ctx, 60*time.Second)
	defer pcancel()
	start := time.Now().UTC()
	if err := demo.Produce(pctx, addr, tp, feedgen.Config{Seed: 5, Households: 150, Start: start.AddDate(0, -2, 0)}, 50000, io.Discard); err != nil {
		t.Fatalf("produce feeds: %v", err)
	}
	// Wait until the monitor has been idle for two seconds after the feeds were sent.
	batches, since := -1.0, time.Now()
	for deadline := time.Now().Add(60 * time.Second); time.Since(since) < 2*time.Second; {
		if time.Now().After(deadline) {
			t.Fatal("the monitor did not settle within 60 s")
		}
		n := metricSum(t, "http://"+httpAddr+"/metrics", "safetynet_batch_duration_seconds_count")
		if n != batches || n == 0 {
			batches, since = n, time.Now()
		}
		time.Sleep(200 * time.Millisecond)
	}

	code, _, stderr := runCLI(t, "state", "dump", "-dir", dir)
	if code != 1 || !strings.Contains(stderr, "in use") || !strings.Contains(stderr, "-from-changelog") {
		t.Errorf("dump of a running instance's directory: exit %d, %q; want 1 and a pointer to -from-changelog", code, stderr)
	}
	code, live, stderr := runCLI(t, "state", "dump", "-from-changelog", "-brokers", addr)
	if code != 0 {
		t.Fatalf("dump from the changelog while running: exit %d: %s", code, stderr)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("service: %v", err)
	}
	code, fromDir, stderr := runCLI(t, "state", "dump", "-dir", dir)
	if code != 0 {
		t.Fatalf("dump of the stopped instance's directory: exit %d: %s", code, stderr)
	}
	code, fromLog, stderr := runCLI(t, "state", "dump", "-from-changelog", "-brokers", addr)
	if code != 0 {
		t.Fatalf("dump from the changelog: exit %d: %s", code, stderr)
	}
	dirLines, logLines := strings.Split(fromDir, "\n"), strings.Split(fromLog, "\n")
	if len(dirLines) < 100 {
		t.Fatalf("directory dump has %d lines, want a household each of ~150", len(dirLines))
	}
	if fromDir != fromLog {
		t.Errorf("the dumps differ: directory %d lines, changelog %d lines", len(dirLines), len(logLines))
		for i := range min(len(dirLines), len(logLines)) {
			if dirLines[i] != logLines[i] {
				t.Errorf("first difference at line %d:\n dir %.300s\n log %.300s", i+1, dirLines[i], logLines[i])
				break
			}
		}
	}
	if live != fromLog {
		t.Errorf("the changelog dump while running differs from the one after the stop (the monitor was not idle)")
	}
	t.Logf("%d households, %d bytes of JSON lines, the same from the directory and from the changelog", len(dirLines)-1, len(fromDir))

	for _, args := range [][]string{
		{"state", "dump", "-from-changelog", "-dir", dir},
		{"state", "dump", "-brokers", addr},
	} {
		if code, _, stderr := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, stderr)
		}
	}
}

// metricSum is the sum of a metric's series on a /metrics page.
func metricSum(t *testing.T, url, name string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(name) + `(\{[^}]*\})? (\S+)$`)
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			v, _ := strconv.ParseFloat(m[2], 64)
			sum += v
		}
	}
	return sum
}
