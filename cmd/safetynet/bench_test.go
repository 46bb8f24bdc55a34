package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchQuick runs `safetynet bench -quick` (the real binary: the bench starts the service
// as a child process) and checks that the report has every row with a number in it. Timings are
// not judged here: the bench is a tool, this only checks that it runs.
func TestBenchQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("bench: not in -short")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "safetynet")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	report := filepath.Join(dir, "benchmarks.md")
	cmd := exec.Command(bin, "bench", "-quick", "-events", "5000", "-households", "500", "-state-households", "1000",
		"-latency-for", "1s", "-dir", filepath.Join(dir, "work"), "-out", report)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	md, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range []string{
		"| 1. limit: raw kafka-go fetch of the feed topics | ",
		"| 2. limit: Badger batched read-modify-write | ",
		"| 3. end-to-end throughput, feeds in → alerts out | ",
		"| 3. CPU seconds per million events (service) | ",
		"| 3. ratio to limit 1 (fetch) / limit 2 (Badger) | ",
		"| 4. event-to-alert latency at 2000 events/s | p50 ",
		"| 4. event-to-alert latency at 10000 events/s | p50 ",
		"| 5. peak resident memory, 1000 households in state | ",
		"| 5. Badger bytes per household, 1000 households | ",
		"| 6. cold start to ready, 1000 households | ",
	} {
		i := strings.Index(string(md), row)
		if i < 0 {
			t.Errorf("report lacks the row %q\n%s", row, md)
			continue
		}
		line, _, _ := strings.Cut(string(md[i+len(row):]), "\n")
		if !strings.ContainsAny(line, "123456789") {
			t.Errorf("row %q has no number: %q", row, line)
		}
	}
	for _, s := range []string{"events/s", "alerts of", "MiB", "households/s"} {
		if !strings.Contains(string(md), s) {
			t.Errorf("report lacks %q", s)
		}
	}
	if t.Failed() {
		t.Logf("bench output:\n%s", out)
	}
}
