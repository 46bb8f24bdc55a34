package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBenchQuick runs the bench at a tiny size against the real binary (the bench starts
// `safetynet run` as a child process), with profiling, and checks that the report has every row
// with a number in it and that the service's profiles were saved. Timings are not judged here:
// the bench is a tool, this only checks that it runs.
func TestBenchQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("bench: not in -short")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "safetynet")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/safetynet").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	report := filepath.Join(dir, "benchmarks.md")
	work := filepath.Join(dir, "work")
	var out strings.Builder
	err := Run(t.Context(), Options{Binary: bin, Events: 5000, Households: 500, StateHouseholds: 1000,
		LatencyFor: time.Second, Partitions: 4, Dir: work, Out: report, Profile: true}, &out)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out.String())
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
		"| 3. CPU per event, whole run / first fifth | ",
		"| 3. CPU per event, last fifth of the run / first fifth | ",
		"| 3. heap allocations per event (service) | ",
		"| 3. ratio to limit 1 (fetch) / limit 2 (Badger) | ",
		"| 4. event-to-alert latency at 2000 events/s | p50 ",
		"| 4. event-to-alert latency at 10000 events/s | p50 ",
		"| 5. peak resident memory, 1000 households in state | ",
		"| 5. Badger bytes per household, 1000 households | ",
		"| 6. cold start to ready, 1000 households | ",
		"| 7. restore onto an empty instance, 1000 households | ",
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
	for _, glob := range []string{"service-a2.cpu.*.pprof", "service-a2.allocs.pprof", "service-big.allocs.pprof"} {
		files, _ := filepath.Glob(filepath.Join(work, glob))
		if len(files) == 0 {
			t.Errorf("-profile saved no %s in %s", glob, work)
		}
		for _, f := range files {
			if fi, err := os.Stat(f); err != nil || fi.Size() == 0 {
				t.Errorf("profile %s is empty: %v", f, err)
			}
		}
	}
	if t.Failed() {
		t.Logf("bench output:\n%s", out.String())
	}
}
