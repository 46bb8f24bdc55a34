// The measuring parts of the bench: the two limits of the machine
// (the raw Kafka fetch rate and Badger's batched read-modify-write rate), percentiles, and what
// /proc says of a process (CPU time, resident memory). It measures; it does not judge: the
// targets and the report are in report.go.
package bench

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"safetynet/state"
	"safetynet/stream/kafkaio"
	"safetynet/stream/topics"
)

// Percentile returns the q-quantile (0 < q ≤ 1) of ds by the nearest-rank method; ds is sorted
// in place. Zero for no samples.
func Percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(q*float64(len(ds))+0.999999) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

// Proc is what /proc says of one process.
type Proc struct {
	CPU     time.Duration // user + system time so far
	RSS     int64         // resident bytes now
	PeakRSS int64         // high-water mark of resident bytes (VmHWM)
}

// ReadProc reads /proc/pid/stat and /proc/pid/status.
func ReadProc(pid int) (Proc, error) {
	var p Proc
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return p, err
	}
	// Fields after the command name (which may hold spaces) start after the last ')'.
	rest := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(rest) < 13 {
		return p, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(rest))
	}
	utime, _ := strconv.ParseInt(rest[11], 10, 64)
	stime, _ := strconv.ParseInt(rest[12], 10, 64)
	const clkTck = 100 // USER_HZ on Linux
	p.CPU = time.Duration(utime+stime) * time.Second / clkTck
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return p, err
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			p.RSS = n << 10
		case "VmHWM":
			p.PeakRSS = n << 10
		}
	}
	return p, nil
}

// DirBytes is the total size of the regular files under dir. Badger preallocates its value
// log and memtable files sparsely, so this counts allocated blocks, not apparent sizes.
func DirBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n += allocated(info)
		return nil
	})
	return n, err
}

// EndOffsets returns the next offset to be written of every partition of the topics, their
// partitions as the brokers' metadata has them (one metadata and one offsets request).
func EndOffsets(ctx context.Context, client *kafka.Client, topics []string) (map[string]map[int]int64, error) {
	parts, err := kafkaio.Partitions(ctx, client, topics...)
	if err != nil {
		return nil, err
	}
	return kafkaio.ListOffsets(ctx, client, parts, kafka.LastOffset)
}

// Committed returns the group's committed offsets of the topics (-1 where none).
func Committed(ctx context.Context, client *kafka.Client, group string, parts map[string]map[int]int64) (map[string]map[int]int64, error) {
	req := &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{}}
	for t, ps := range parts {
		for p := range ps {
			req.Topics[t] = append(req.Topics[t], p)
		}
	}
	resp, err := client.OffsetFetch(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("offset fetch %s: %w", group, err)
	}
	if resp.Error != nil {
		return nil, fmt.Errorf("offset fetch %s: %w", group, resp.Error)
	}
	out := map[string]map[int]int64{}
	for t, ps := range resp.Topics {
		out[t] = map[int]int64{}
		for _, p := range ps {
			out[t][p.Partition] = p.CommittedOffset
		}
	}
	return out, nil
}

// Behind is how many records of ends the committed offsets have not reached.
func Behind(ends, committed map[string]map[int]int64) int64 {
	var n int64
	for t, ps := range ends {
		for p, end := range ps {
			c := committed[t][p]
			if c < 0 {
				c = 0
			}
			n += max(end-c, 0)
		}
	}
	return n
}

// FetchLimit reads every record of the topics from the first offset to the end offsets it finds
// at the start, one kafka-go Reader per partition as the service's readers are, doing nothing
// with them. It returns the records read and how long that took, up to the last record read
// (not the readers' Close, which waits for a fetch past the end).
func FetchLimit(ctx context.Context, brokers []string, topics []string) (int64, time.Duration, error) {
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	ends, err := EndOffsets(ctx, client, topics)
	if err != nil {
		return 0, 0, err
	}
	var n atomic.Int64
	var mu sync.Mutex
	var took time.Duration // from start to the last record read
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for t, ps := range ends {
		for p, end := range ps {
			if end <= 0 {
				continue
			}
			g.Go(func() error {
				rc := kafkaio.Kafka{Brokers: brokers}.PartitionReader(t, p, kafkaio.ToEndHold, 16<<20)
				rc.QueueCapacity = 1000
				r := kafka.NewReader(rc)
				defer r.Close()
				for {
					m, err := r.FetchMessage(gctx)
					if err != nil {
						return fmt.Errorf("fetch %s/%d: %w", t, p, err)
					}
					n.Add(1)
					if m.Offset+1 >= end {
						mu.Lock()
						took = max(took, time.Since(start))
						mu.Unlock()
						return nil
					}
				}
			})
		}
	}
	err = g.Wait()
	return n.Load(), took, err
}

// BadgerRMW measures the store's batched read-modify-write rate: households values of about
// valueBytes are written to a fresh store in dir, then ops random households are read, changed
// and written back, batch of them per transaction, the way a monitor batch does. It returns
// households updated per second.
func BadgerRMW(dir string, households, valueBytes, ops, batch int) (float64, error) {
	store, err := state.Open(state.Options{Dir: dir})
	if err != nil {
		return 0, err
	}
	defer store.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	value := func() []byte {
		// Household values are JSON-ish text: compressible but not trivially.
		v := make([]byte, valueBytes)
		for i := range v {
			v[i] = "abcdefghijklmnopqrstuvwxyz0123456789\":,{}"[rng.IntN(41)]
		}
		return v
	}
	wb := store.NewBatch()
	for i := range households {
		if err := wb.PutHousehold(householdID(i), value()); err != nil {
			wb.Cancel()
			return 0, err
		}
	}
	if err := wb.Flush(); err != nil {
		return 0, err
	}
	var mu sync.Mutex // one writer, as one partition worker
	mu.Lock()
	defer mu.Unlock()
	start := time.Now()
	for done := 0; done < ops; {
		tx := store.Begin()
		for j := 0; j < batch && done < ops; j++ {
			id := householdID(rng.IntN(households))
			v, err := tx.Household(id)
			if err != nil || v == nil {
				tx.Discard()
				return 0, fmt.Errorf("read %s: %v", id, err)
			}
			v[rng.IntN(len(v))]++
			if err := tx.PutHousehold(id, v); err != nil {
				tx.Discard()
				return 0, err
			}
			done++
		}
		if err := tx.Commit(); err != nil {
			return 0, fmt.Errorf("commit: %w", err)
		}
	}
	return float64(ops) / time.Since(start).Seconds(), nil
}

func householdID(i int) string { return fmt.Sprintf("hh-%08d", i) }

// allTopics lists every topic safetynet reads or writes.
func allTopics(t topics.Topics) []string { return t.All() }
