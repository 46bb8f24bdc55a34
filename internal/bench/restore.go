package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// targetRestore is how long an empty instance may take to restore a million households from
// the changelog (issue 12).
const targetRestore = 30 * time.Second

// restoreResult is the restore of the big state onto an empty instance.
type restoreResult struct {
	households int           // in the restored directory afterwards
	records    int64         // changelog records read (the topic is not compacted on the embedded broker)
	ready      time.Duration // process start to /readyz 200 (restore and person table load)
	restore    time.Duration // the slowest partition's restore, from the service's log
	peakRSS    int64
	partitions int
}

// restore measures the restore of every partition of the big state's changelog onto an empty
// state directory: a new instance of the same group, after the one that built the state left.
// Progress is the service's safetynet_restore_remaining_records, printed every 2 s.
func (b *benchRun) restore(ctx context.Context, client *kafka.Client, brokers []string, changelog string) (restoreResult, error) {
	var res restoreResult
	n, err := topicRecords(ctx, client, changelog)
	if err != nil {
		return res, err
	}
	res.records, res.partitions = n, b.o.partitions
	dir := filepath.Join(b.o.dir, "restored")
	b.extraEnv = []string{"SAFETYNET_LOG_LEVEL=info"} // the restore's own timing is logged at info
	t0 := time.Now()
	b.profile = b.o.cpuProfile
	svc, err := b.startService(ctx, "bench-big", brokers, dir, "service-restore")
	b.extraEnv, b.profile = nil, false
	if err != nil {
		return res, err
	}
	stopProgress := make(chan struct{})
	go func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stopProgress:
				return
			case <-t.C:
				if left, ok := restoreRemaining(svc.http); ok {
					b.logf("restore: %d of %d changelog records left after %s", left, n, time.Since(t0).Round(time.Second))
				}
			}
		}
	}()
	err = svc.waitReady(ctx, 10*time.Minute)
	close(stopProgress)
	if err != nil {
		svc.stop()
		return res, err
	}
	res.ready = time.Since(t0)
	if p, err := ReadProc(svc.cmd.Process.Pid); err == nil {
		res.peakRSS = p.PeakRSS
	}
	if err := svc.stop(); err != nil {
		return res, err
	}
	if res.restore, err = slowestRestore(svc.logPath); err != nil {
		return res, err
	}
	if res.households, _, err = householdStats(dir); err != nil {
		return res, err
	}
	return res, nil
}

// restoreRemaining sums safetynet_restore_remaining_records over the service's partitions.
func restoreRemaining(addr string) (int64, bool) {
	c := &http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	var sum float64
	found := false
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 16<<20))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "safetynet_restore_remaining_records{") {
			continue
		}
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			sum += v
			found = true
		}
	}
	return int64(sum), found
}

// slowestRestore reads the service's log for the partitions' "restored from changelog" lines
// and returns the longest took=.
func slowestRestore(logPath string) (time.Duration, error) {
	f, err := os.Open(logPath)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var slowest time.Duration
	seen := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, "partition restored from changelog") {
			continue
		}
		_, after, ok := strings.Cut(line, " took=")
		if !ok {
			continue
		}
		d, err := time.ParseDuration(strings.Fields(after)[0])
		if err == nil {
			seen = true
			slowest = max(slowest, d)
		}
	}
	if !seen {
		return 0, fmt.Errorf("no partition restore in %s: the new instance restored nothing", logPath)
	}
	return slowest, nil
}
