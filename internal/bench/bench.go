package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"

	"safetynet/state"
	"safetynet/stream/embedded"
	"safetynet/stream/feedgen"
	"safetynet/stream/household"
	"safetynet/stream/kafkaio"
	"safetynet/stream/topics"
)

// Options are the sizes of one bench run and where it works.
type Options struct {
	Binary          string        // the safetynet binary run as the service under test (`safetynet run`)
	Events          int           // change events of the throughput run
	Households      int           // households of the throughput and latency runs
	StateHouseholds int           // households in state for the memory and cold-start runs
	LatencyFor      time.Duration // how long each offered load is held
	Partitions      int           // partitions of every topic
	Dir             string        // working directory, emptied at start
	Out             string        // report file ("" for none)
	// Profile saves CPU profiles (in chunks, DIR/NAME.cpu.NNN.pprof; `go tool pprof` merges them)
	// and an allocation profile of the service during the throughput run, the big-state load and
	// the restore, read from the service's /debug/pprof (SAFETYNET_PPROF=true).
	Profile bool
}

// benchOptions are Options with the derived sizes.
type benchOptions struct {
	events        int
	households    int
	bigHouseholds int
	latencyFor    time.Duration
	rates         []float64 // offered loads of the latency runs, events/s
	rmwOps        int
	partitions    int
	dir           string
	bin           string
	cpuProfile    bool
}

// Run runs every measurement in one run on the embedded broker, prints the progress and the
// table to stdout, and writes the report to o.Out.
func Run(ctx context.Context, opts Options, stdout io.Writer) error {
	o := benchOptions{
		events: opts.Events, households: opts.Households, bigHouseholds: opts.StateHouseholds,
		latencyFor: opts.LatencyFor, partitions: opts.Partitions, dir: opts.Dir, bin: opts.Binary,
		cpuProfile: opts.Profile, rates: []float64{2000, 10000},
	}
	o.rmwOps = max(200_000, o.events/2)
	if o.events < 1 || o.households < 1 || o.bigHouseholds < 1 || o.partitions < 1 {
		return fmt.Errorf("bench: sizes and partitions must be positive")
	}
	if o.bin == "" || o.dir == "" {
		return fmt.Errorf("bench: no service binary or working directory given")
	}
	if err := os.RemoveAll(o.dir); err != nil {
		return fmt.Errorf("bench: empty %s: %w", o.dir, err)
	}
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	b := &benchRun{o: o, log: stdout, started: time.Now()}
	rep, err := b.run(ctx)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	text := rep.markdown(b)
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, rep.table())
	if opts.Out != "" {
		if err := os.WriteFile(opts.Out, []byte(text), 0o644); err != nil {
			return fmt.Errorf("bench: write report: %w", err)
		}
		fmt.Fprintf(stdout, "\nreport written to %s\n", opts.Out)
	}
	return nil
}

type benchRun struct {
	o       benchOptions
	log     io.Writer
	started time.Time
	profile bool // the next service started is profiled into the bench directory
	// extraEnv is added to the next service's environment (later values win).
	extraEnv []string
}

func (b *benchRun) logf(f string, a ...any) {
	fmt.Fprintf(b.log, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(f, a...))
}

// benchReport holds every number of the run.
type benchReport struct {
	fetchRecords  int64
	fetchDur      time.Duration
	rmwRate       float64
	rmwValueBytes int

	e2eEvents   int
	e2eDur      time.Duration
	e2eCPU      time.Duration
	e2eAlerts   int64
	e2eMallocs  float64
	e2eEarly    time.Duration // CPU per feed record, first fifth of the run
	e2eLate     time.Duration // and last fifth
	e2eWhole    time.Duration // and the whole run
	e2ePeakRSS  int64
	produceRate float64

	latency []latencyResult

	smallHouseholds  int
	smallBytesPerHH  float64
	smallCompacted   float64           // bytes per household once compacted (state.Store.Compact)
	smallValueBytes  float64           // mean stored household value
	smallUsage       []state.KindUsage // what the compacted directory holds, by kind of record
	bigHouseholds    int
	bigPeakRSS       int64
	bigBytesPerHH    float64
	bigCompacted     float64
	bigUsage         []state.KindUsage
	bigLoadDur       time.Duration
	bigLoadRecords   int64
	coldStart        time.Duration
	coldStartPeakRSS int64
	restore          restoreResult
}

type latencyResult struct {
	rate           float64
	events         int
	alerts         int
	p50, p99, p999 time.Duration
	achieved       float64
}

// liftOwnMemoryLimit removes the Go heap's soft limit from the bench's own process when
// GOMEMLIMIT is set, and reports the value. The variable is meant for the service under test
// (its child process inherits the environment). The bench process keeps the embedded broker's
// records in its heap, several GB in the full run: under a limit of a few hundred MiB its
// collector ran without pause and the broker stopped answering, and the restore measurement
// waited minutes for records that did not come, with nothing in its output to say why.
func liftOwnMemoryLimit() (string, bool) {
	v, ok := os.LookupEnv("GOMEMLIMIT")
	if !ok {
		return "", false
	}
	debug.SetMemoryLimit(math.MaxInt64)
	return v, true
}

func (b *benchRun) run(ctx context.Context) (*benchReport, error) {
	o := b.o
	rep := &benchReport{}
	if limit, lifted := liftOwnMemoryLimit(); lifted {
		b.logf("GOMEMLIMIT=%s is for the service under test, which inherits it; this process holds the embedded broker's topics and runs without it", limit)
	}
	topics := topics.Default()
	broker, err := embedded.Start("127.0.0.1:0", o.partitions, allTopics(topics)...)
	if err != nil {
		return nil, err
	}
	brokers := broker.Addrs()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	b.logf("embedded broker %s, %d partitions per topic; GOMAXPROCS %d", brokers[0], o.partitions, runtime.GOMAXPROCS(0))

	// The feeds: a population whose history (the throughput events and the latency runs) ends
	// before today, so that intake refuses nothing as from the future.
	latencyEvents := 0
	for _, r := range o.rates {
		latencyEvents += int(r * o.latencyFor.Seconds())
	}
	gen := feedgen.New(feedgen.Config{Seed: 1, Households: o.households, Start: alignedFeedStart(1, o.households, o.events+latencyEvents)})
	hh, people := gen.Population()
	w := kafkaio.Kafka{Brokers: brokers}.Writer("", &kafka.Hash{})
	defer w.Close()
	reg := gen.Registry()
	if _, err := produceAll(ctx, w, topics, reg, nil); err != nil {
		return nil, err
	}
	b.logf("registry of %d people in %d households produced", people, hh)

	dirA := filepath.Join(o.dir, "state")
	svc, err := b.startService(ctx, "bench", brokers, dirA, "service-a")
	if err != nil {
		return nil, err
	}
	if err := b.drain(ctx, client, topics, "bench", svc, nil); err != nil {
		svc.stop()
		return nil, err
	}
	b.logf("registry applied; stopping the service to queue the change events")
	if err := svc.stop(); err != nil {
		return nil, err
	}

	events := make([]feedgen.Event, o.events)
	for i := range events {
		events[i] = gen.Next()
	}
	t0 := time.Now()
	if _, err := produceAll(ctx, w, topics, events, nil); err != nil {
		return nil, err
	}
	rep.produceRate = float64(len(events)) / time.Since(t0).Seconds()
	b.logf("%d change events produced (%.0f/s)", len(events), rep.produceRate)
	events = nil

	// Limit 1: the broker's raw fetch rate of the feed topics.
	rep.fetchRecords, rep.fetchDur, err = FetchLimit(ctx, brokers, topics.FeedTopics())
	if err != nil {
		return nil, err
	}
	b.logf("limit 1: fetched %d feed records in %s (%.0f/s)", rep.fetchRecords, rep.fetchDur.Round(time.Millisecond), float64(rep.fetchRecords)/rep.fetchDur.Seconds())

	// End to end.
	b.profile = o.cpuProfile
	svc, err = b.startService(ctx, "bench", brokers, dirA, "service-a2")
	b.profile = false
	if err != nil {
		return nil, err
	}
	alertsBefore, err := topicRecords(ctx, client, topics.Alerts)
	if err != nil {
		return nil, err
	}
	var e2e drainResult
	if err := b.drain(ctx, client, topics, "bench", svc, &e2e); err != nil {
		svc.stop()
		return nil, err
	}
	alertsAfter, err := topicRecords(ctx, client, topics.Alerts)
	if err != nil {
		return nil, err
	}
	rep.e2eAlerts = alertsAfter - alertsBefore
	rep.e2eEvents, rep.e2eDur, rep.e2eCPU = o.events, e2e.dur, e2e.cpu
	rep.e2eMallocs, rep.e2eEarly, rep.e2eLate, rep.e2eWhole = e2e.mallocs, e2e.early, e2e.late, e2e.whole
	if p, err := ReadProc(svc.cmd.Process.Pid); err == nil {
		rep.e2ePeakRSS = p.PeakRSS
	}
	b.logf("end to end: %d events in %s (%.0f/s), %.1f CPU s, %d alerts, %.0f allocations per event; CPU µs per feed record, first fifth %.1f, last fifth %.1f, whole run %.1f; household cache hits %.0f%%; %.0f events per monitor batch",
		o.events, e2e.dur.Round(time.Millisecond), float64(o.events)/e2e.dur.Seconds(), e2e.cpu.Seconds(), rep.e2eAlerts,
		e2e.mallocs/float64(o.events), float64(e2e.early)/1e3, float64(e2e.late)/1e3, float64(e2e.whole)/1e3, 100*e2e.hitRatio, e2e.batchMean)

	// The embedded broker keeps every record in its own heap, which the throughput run grew to
	// several GB. A collection of that heap (every 10-15 s in the latency loads) held the broker
	// up for one to two seconds, and the alerts waiting on it set the p99 at 10,000/s: the
	// harness measured itself (docs/performance.md, ninth round). A Kafka broker keeps its log
	// on disk, so the latency loads start from a broker that no longer holds the throughput
	// run's records (trimTopics).
	if err := trimTopics(broker, topics); err != nil {
		svc.stop()
		return nil, err
	}
	debug.FreeOSMemory() // collects, then returns the trimmed records' memory to the OS

	// Latency at fixed offered loads.
	for _, rate := range o.rates {
		lr, err := b.latency(ctx, brokers, topics, gen, rate, svc)
		if err != nil {
			svc.stop()
			return nil, err
		}
		rep.latency = append(rep.latency, lr)
		b.logf("latency at %.0f/s: %d alerts of %d events: p50 %s p99 %s p99.9 %s", rate, lr.alerts, lr.events, lr.p50, lr.p99, lr.p999)
	}
	if err := svc.stop(); err != nil {
		return nil, err
	}
	n, avg, err := householdStats(dirA)
	if err != nil {
		return nil, err
	}
	size, _ := DirBytes(dirA)
	rep.smallHouseholds, rep.smallBytesPerHH, rep.smallValueBytes = n, float64(size)/float64(max(n, 1)), avg
	compacted, usage, err := compactedBytes(dirA)
	if err != nil {
		return nil, err
	}
	rep.smallCompacted, rep.smallUsage = float64(compacted)/float64(max(n, 1)), usage
	b.logf("state: %d households, %.0f bytes each on average, directory %.1f MiB, %.1f MiB once compacted", n, avg, float64(size)/(1<<20), float64(compacted)/(1<<20))

	// Limit 2: Badger's batched read-modify-write rate, for values of the size just measured.
	rep.rmwValueBytes = max(int(avg), 64)
	rep.rmwRate, err = BadgerRMW(filepath.Join(o.dir, "rmw"), o.households, rep.rmwValueBytes, o.rmwOps, 500)
	if err != nil {
		return nil, err
	}
	_ = os.RemoveAll(filepath.Join(o.dir, "rmw"))
	b.logf("limit 2: Badger read-modify-write of %d-byte values: %.0f/s", rep.rmwValueBytes, rep.rmwRate)
	broker.Close()

	// Memory and cold start with many households in state, on a fresh broker.
	if err := b.big(ctx, rep); err != nil {
		return nil, err
	}
	return rep, nil
}

// trimTopics deletes, up to each partition's end, as Kafka's DeleteRecords does, the records
// of every topic but the registry and the parked topic, the tables an instance rebuilds from
// them at start: the service has read the others to the end, or only writes them.
func trimTopics(broker *embedded.Broker, t topics.Topics) error {
	for _, topic := range t.All() {
		if topic == t.Registry || topic == t.Parked {
			continue
		}
		for _, p := range broker.Cluster().PartitionInfos(topic) {
			if err := broker.Cluster().DeleteRecords(topic, p.Partition, -1); err != nil {
				return fmt.Errorf("trim %s/%d: %w", topic, p.Partition, err)
			}
		}
	}
	return nil
}

// big fills a state directory with o.bigHouseholds households through the service, then
// measures the cold start on it.
func (b *benchRun) big(ctx context.Context, rep *benchReport) error {
	o := b.o
	topics := topics.Default()
	broker, err := embedded.Start("127.0.0.1:0", o.partitions, allTopics(topics)...)
	if err != nil {
		return err
	}
	defer broker.Close()
	brokers := broker.Addrs()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	w := kafkaio.Kafka{Brokers: brokers}.Writer("", &kafka.Hash{})
	defer w.Close()
	gen := feedgen.New(feedgen.Config{Seed: 2, Households: o.bigHouseholds, Start: feedStart(o.bigHouseholds, 0)})
	reg := gen.Registry()
	if _, err := produceAll(ctx, w, topics, reg, nil); err != nil {
		return err
	}
	b.logf("big state: registry of %d people in %d households produced", len(reg), o.bigHouseholds)
	rep.bigLoadRecords = int64(len(reg))
	reg = nil
	runtime.GC()

	dir := filepath.Join(o.dir, "big")
	b.profile = o.cpuProfile
	svc, err := b.startService(ctx, "bench-big", brokers, dir, "service-big")
	b.profile = false
	if err != nil {
		return err
	}
	var dr drainResult
	if err := b.drain(ctx, client, topics, "bench-big", svc, &dr); err != nil {
		svc.stop()
		return err
	}
	rep.bigLoadDur = dr.dur
	if p, err := ReadProc(svc.cmd.Process.Pid); err == nil {
		rep.bigPeakRSS = p.PeakRSS
	}
	if err := svc.stop(); err != nil {
		return err
	}
	n, _, err := householdStats(dir)
	if err != nil {
		return err
	}
	size, _ := DirBytes(dir)
	rep.bigHouseholds, rep.bigBytesPerHH = n, float64(size)/float64(max(n, 1))
	compacted, usage, err := compactedBytes(dir)
	if err != nil {
		return err
	}
	rep.bigCompacted, rep.bigUsage = float64(compacted)/float64(max(n, 1)), usage
	b.logf("big state: %d households in %s, peak RSS %.0f MiB, %.0f bytes per household, %.0f once compacted", n, dr.dur.Round(time.Millisecond), float64(rep.bigPeakRSS)/(1<<20), rep.bigBytesPerHH, rep.bigCompacted)

	// Cold start: process start to /readyz 200.
	t0 := time.Now()
	svc, err = b.startService(ctx, "bench-big", brokers, dir, "service-cold")
	if err != nil {
		return err
	}
	if err := svc.waitReady(ctx, 5*time.Minute); err != nil {
		svc.stop()
		return err
	}
	rep.coldStart = time.Since(t0)
	if p, err := ReadProc(svc.cmd.Process.Pid); err == nil {
		rep.coldStartPeakRSS = p.PeakRSS
	}
	b.logf("cold start on %d households: ready in %s", n, rep.coldStart.Round(time.Millisecond))
	if err := svc.stop(); err != nil {
		return err
	}

	// Restore: that instance is gone with its disk; an empty one takes over every partition.
	if rep.restore, err = b.restore(ctx, client, brokers, topics.Changelog); err != nil {
		return err
	}
	b.logf("restore onto an empty instance: %d households from %d changelog records, slowest partition %s, ready in %s",
		rep.restore.households, rep.restore.records, rep.restore.restore.Round(time.Millisecond), rep.restore.ready.Round(time.Millisecond))
	return nil
}

// alignedFeedStart is feedStart moved so that the last of the events a run draws is dated about
// two days before today. feedStart's margin alone dates the end of a 1,000,000-event history
// months back, where the latency runs' events are too old to change any risk, and so measured
// nothing. A probe generator draws the events once to find where they end; the population's
// history depends little on when it starts, so the shifted run ends within hours of the aim.
func alignedFeedStart(seed uint64, households, events int) time.Time {
	start := feedStart(households, events)
	probe := feedgen.New(feedgen.Config{Seed: seed, Households: households, Start: start})
	for range events {
		probe.Next()
	}
	aim := time.Now().UTC().Add(-48 * time.Hour)
	return start.Add(aim.Sub(probe.Now())).Truncate(time.Hour)
}

// feedStart is the generator's Start for a population of households whose next events change
// events end a little before today: recent enough to matter to the model, and none so far in
// the future that intake refuses it. The generator makes about 3.5 events per person (1.63
// persons per household) over the History before Start.
func feedStart(households, events int) time.Time {
	perDay := 3.5 * 1.63 * float64(households) / (feedgen.History.Hours() / 24)
	span := time.Duration(1.25 * float64(events) / perDay * 24 * float64(time.Hour))
	return time.Now().UTC().Add(feedgen.History - span - 24*time.Hour).Truncate(time.Hour)
}

// householdStats opens a stopped service's state read-only: households and mean value bytes.
func householdStats(dir string) (int, float64, error) {
	store, err := state.Open(state.Options{Dir: dir, ReadOnly: true})
	if err != nil {
		return 0, 0, err
	}
	defer store.Close()
	n, total := 0, 0
	err = store.Households(func(_ string, v []byte) error {
		n++
		total += len(v)
		return nil
	})
	return n, float64(total) / float64(max(n, 1)), err
}

// compactedBytes compacts a stopped service's state directory (state.Store.Compact: what
// compactions and value-log collection reach in time) and returns its allocated bytes then,
// with what it holds by kind of record.
func compactedBytes(dir string) (int64, []state.KindUsage, error) {
	store, err := state.Open(state.Options{Dir: dir})
	if err != nil {
		return 0, nil, err
	}
	err = store.Compact()
	var usage []state.KindUsage
	if err == nil {
		usage, err = store.Usage()
	}
	if cerr := store.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, nil, err
	}
	size, err := DirBytes(dir)
	return size, usage, err
}

// produceAll writes events to their feed topics in chunks, setting each record's time to when
// it is sent (sent, when not nil, gets it per event id).
func produceAll(ctx context.Context, w *kafka.Writer, topics topics.Topics, events []feedgen.Event, sent func(feedgen.Event, time.Time)) (int, error) {
	const chunk = 2000
	msgs := make([]kafka.Message, 0, chunk)
	n := 0
	for i, e := range events {
		msgs = append(msgs, kafka.Message{Topic: topics.Feed(e.Feed), Key: e.Key, Value: e.Value})
		if len(msgs) == chunk || i == len(events)-1 {
			now := time.Now()
			for j := range msgs {
				msgs[j].Time = now
			}
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				return n, fmt.Errorf("produce: %w", err)
			}
			n += len(msgs)
			msgs = msgs[:0]
		}
	}
	return n, nil
}

// latency offers rate events/s for o.latencyFor, in small sends every 5 ms, each record
// stamped with its send time, and measures for every alert an event caused the time from that
// stamp to the alert being readable on the alert topic.
func (b *benchRun) latency(ctx context.Context, brokers []string, topics topics.Topics, gen *feedgen.Generator, rate float64, svc *service) (latencyResult, error) {
	lr := latencyResult{rate: rate}
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	ends, err := EndOffsets(ctx, client, []string{topics.Alerts})
	if err != nil {
		return lr, err
	}
	type key struct{ feed, id string }
	var mu sync.Mutex
	sentAt := map[key]time.Time{}
	var lat []time.Duration

	rctx, stopReaders := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for p, end := range ends[topics.Alerts] {
		// The readers are the stopwatch: with MinBytes 1 the broker answers as soon as an alert
		// is there, whatever the broker's hold is. The read's own timeout is what matters: a
		// MaxWait of 20 ms left 5 ms of slack before kafka-go timed the read out and reconnected
		// (kafkaio.ReadBackoffMin), and every moment the broker was busy for longer read as
		// 100 ms or more of alert latency; kafkaio.FetchWait leaves a second.
		rc := kafkaio.Kafka{Brokers: brokers}.PartitionReader(topics.Alerts, p, 500*time.Millisecond, 16<<20)
		rc.ReadBackoffMin = kafkaio.ReadBackoffMin
		r := kafka.NewReader(rc)
		if err := r.SetOffset(end); err != nil {
			stopReaders()
			return lr, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			for {
				m, err := r.FetchMessage(rctx)
				if err != nil {
					return
				}
				got := time.Now()
				var a struct {
					Cause household.Cause `json:"cause"`
				}
				if json.Unmarshal(m.Value, &a) != nil || a.Cause.Kind != "event" {
					continue
				}
				mu.Lock()
				if t, ok := sentAt[key{a.Cause.Feed, a.Cause.EventID}]; ok {
					lat = append(lat, got.Sub(t))
				}
				mu.Unlock()
			}
		}()
	}
	defer func() { stopReaders(); wg.Wait() }()
	time.Sleep(200 * time.Millisecond) // let the readers connect

	w := kafkaio.Kafka{Brokers: brokers}.Writer("", &kafka.Hash{})
	w.BatchTimeout = time.Millisecond
	defer w.Close()
	const tick = 5 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	begin := time.Now()
	total := int(rate * b.o.latencyFor.Seconds())
	var msgs []kafka.Message
	for lr.events < total {
		<-t.C
		due := min(int(rate*time.Since(begin).Seconds()), total) - lr.events
		if due <= 0 {
			continue
		}
		msgs = msgs[:0]
		now := time.Now()
		mu.Lock()
		for range due {
			e := gen.Next()
			var id struct {
				EventID string `json:"event_id"`
			}
			if json.Unmarshal(e.Value, &id) == nil && id.EventID != "" {
				sentAt[key{e.Feed, id.EventID}] = now
			}
			msgs = append(msgs, kafka.Message{Topic: topics.Feed(e.Feed), Key: e.Key, Value: e.Value, Time: now})
		}
		mu.Unlock()
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			return lr, fmt.Errorf("produce at %.0f/s: %w", rate, err)
		}
		lr.events += due
	}
	lr.achieved = float64(lr.events) / time.Since(begin).Seconds()
	// Let the last events through.
	var dr drainResult
	if err := b.drain(ctx, client, topics, "bench", svc, &dr); err != nil {
		return lr, err
	}
	time.Sleep(200 * time.Millisecond)
	stopReaders()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	lr.alerts = len(lat)
	lr.p50 = Percentile(lat, 0.50)
	lr.p99 = Percentile(lat, 0.99)
	lr.p999 = Percentile(lat, 0.999)
	return lr, nil
}

// topicRecords is the sum of the end offsets of a topic's partitions.
func topicRecords(ctx context.Context, client *kafka.Client, topic string) (int64, error) {
	ends, err := EndOffsets(ctx, client, []string{topic})
	if err != nil {
		return 0, err
	}
	var n int64
	for _, e := range ends[topic] {
		n += e
	}
	return n, nil
}

// drainResult is the timing of one drain: from the first record the service took to the last.
type drainResult struct {
	dur time.Duration
	cpu time.Duration
	// mallocs is the service's heap allocations (go_memstats_mallocs_total) over the same
	// window: unlike the times, it does not move with the machine's load.
	mallocs float64
	// hitRatio is the share of the households the monitor's batches loaded that its caches
	// held (safetynet_household_cache_lookups_total), over the service's life.
	hitRatio float64
	// batchMean is the mean events per monitor batch (safetynet_batch_size), over the
	// service's life: a change that cuts batches short shows here before it shows in the CPU.
	batchMean float64
	// early and late are the service's CPU time per feed record over the first and the last
	// fifth of the run's progress (feed records the intake took plus household events the
	// monitor took): whether the cost per event grows as the households accumulate history.
	early, late time.Duration
	// whole is the same over the whole run: against early, the cost per event of the run
	// (1,000,000 events in make bench) against that of its first 200,000, as issue 16 words
	// its flatness target, and with a twenty-second window where the fifths have four.
	whole time.Duration
}

// committedSum adds up committed offsets (none committed counts 0).
func committedSum(c map[string]map[int]int64) int64 {
	var n int64
	for _, ps := range c {
		for _, o := range ps {
			n += max(o, 0)
		}
	}
	return n
}

// drain waits until the service has taken every feed record (intake group) and every household
// event (monitor group). With res it times the work: from the first poll that sees progress to
// the last, and the service's CPU time between them.
func (b *benchRun) drain(ctx context.Context, client *kafka.Client, topics topics.Topics, group string, svc *service, res *drainResult) error {
	feedEnds, err := EndOffsets(ctx, client, topics.FeedTopics())
	if err != nil {
		return err
	}
	var first time.Time
	var firstCPU time.Duration
	var baseline int64 = -1
	firstMallocs := -1.0
	var fifthCPU, lateCPU time.Duration
	var fifthDone, lateFrom int64 = -1, -1
	var heParts map[string]map[int]int64
	var monitorStart int64 = -1
	lastLog := time.Now()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-svc.exited:
			return fmt.Errorf("the service exited: %v (see %s)", err, svc.logPath)
		case <-time.After(20 * time.Millisecond):
		}
		now := time.Now()
		proc, _ := ReadProc(svc.cmd.Process.Pid)
		committed, err := Committed(ctx, client, group+"-intake", feedEnds)
		if err != nil {
			continue
		}
		behind := Behind(feedEnds, committed)
		if baseline < 0 {
			baseline = behind
		}
		if first.IsZero() && behind < baseline {
			first, firstCPU = now, proc.CPU
			if res != nil {
				if v, err := serviceMetrics(ctx, svc.http, "go_memstats_mallocs_total"); err == nil {
					firstMallocs = v[0]
				}
			}
		}
		if res != nil && !first.IsZero() && baseline > 0 {
			// progress: feed records the intake took plus household events the monitor took,
			// of about twice the feed records (both stages' work; the monitor lags the intake)
			if heParts == nil {
				heParts, _ = EndOffsets(ctx, client, []string{topics.HouseholdEvents})
			}
			if mc, err := Committed(ctx, client, group+"-monitor", heParts); err == nil {
				m := committedSum(mc)
				if monitorStart < 0 {
					monitorStart = m
				}
				done, total := baseline-behind+m-monitorStart, 2*baseline
				if fifthDone < 0 && done >= total/5 {
					fifthDone, fifthCPU = done, proc.CPU
				}
				if lateFrom < 0 && done >= total-total/5 {
					lateFrom, lateCPU = done, proc.CPU
				}
			}
		}
		var heBehind int64
		if behind == 0 {
			heEnds, err := EndOffsets(ctx, client, []string{topics.HouseholdEvents})
			if err != nil {
				continue
			}
			hc, err := Committed(ctx, client, group+"-monitor", heEnds)
			if err != nil {
				continue
			}
			if heBehind = Behind(heEnds, hc); heBehind == 0 {
				if res != nil {
					if first.IsZero() {
						first, firstCPU = now, proc.CPU
					}
					res.dur, res.cpu = now.Sub(first), proc.CPU-firstCPU
					if v, err := serviceMetrics(ctx, svc.http, "go_memstats_mallocs_total",
						`safetynet_household_cache_lookups_total{result="hit"}`,
						`safetynet_household_cache_lookups_total{result="miss"}`,
						"safetynet_batch_size_sum", "safetynet_batch_size_count"); err == nil {
						if firstMallocs >= 0 {
							res.mallocs = v[0] - firstMallocs
						}
						if hits, misses := v[1], v[2]; hits+misses > 0 {
							res.hitRatio = hits / (hits + misses)
						}
						if sum, n := v[3], v[4]; n > 0 {
							res.batchMean = sum / n
						}
					}
					if m, err := Committed(ctx, client, group+"-monitor", heParts); err == nil && fifthDone > 0 && lateFrom >= 0 {
						// the stages' work per feed record: the progress of both over the window
						if end := baseline + committedSum(m) - monitorStart; end > lateFrom {
							res.early = (fifthCPU - firstCPU) * 2 / time.Duration(fifthDone)
							res.late = (proc.CPU - lateCPU) * 2 / time.Duration(end-lateFrom)
							res.whole = res.cpu * 2 / time.Duration(end)
						}
					}
				}
				return nil
			}
		}
		if time.Since(lastLog) > 5*time.Second {
			lastLog = time.Now()
			b.logf("  … %d feed records and %d household events to go; service RSS %.0f MiB", behind, heBehind, float64(proc.RSS)/(1<<20))
		}
	}
}

// service is the service under test, a child process of the bench running `safetynet run`.
type service struct {
	cmd     *exec.Cmd
	http    string
	logPath string
	exited  chan error
	// stopProfile, when the service is profiled, saves its allocation profile and stops taking
	// CPU profiles.
	stopProfile func()
}

func (b *benchRun) startService(ctx context.Context, group string, brokers []string, dir, name string) (*service, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	logPath := filepath.Join(b.o.dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(b.o.bin, "run")
	cmd.Env = append(withoutSafetynetVars(os.Environ()),
		"SAFETYNET_KAFKA_BROKERS="+strings.Join(brokers, ","),
		"SAFETYNET_GROUP_ID="+group,
		"SAFETYNET_STATE_DIR="+dir,
		"SAFETYNET_PSEUDONYM_KEY=5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d",
		"SAFETYNET_API_TOKENS=bench:"+benchToken(),
		"SAFETYNET_HTTP_ADDR="+addr,
		"SAFETYNET_LOG_LEVEL=warn",
		"SAFETYNET_LOG_FORMAT=text",
	)
	if b.profile {
		cmd.Env = append(cmd.Env, "SAFETYNET_PPROF=true")
	}
	cmd.Env = append(cmd.Env, b.extraEnv...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start the service: %w", err)
	}
	s := &service{cmd: cmd, http: addr, logPath: logPath, exited: make(chan error, 1)}
	go func() { s.exited <- cmd.Wait(); logf.Close() }()
	if b.profile {
		s.stopProfile = profile(ctx, addr, filepath.Join(b.o.dir, name), b.logf)
	}
	return s, nil
}

func (s *service) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	c := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-s.exited:
			return fmt.Errorf("the service exited: %v (see %s)", err, s.logPath)
		case <-time.After(10 * time.Millisecond):
		}
		resp, err := c.Get("http://" + s.http + "/readyz")
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
	}
	return fmt.Errorf("the service was not ready within %s (see %s)", limit, s.logPath)
}

// stop sends SIGTERM and waits for the service to exit.
func (s *service) stop() error {
	if s.stopProfile != nil {
		s.stopProfile()
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			return err
		}
		if err != nil {
			return fmt.Errorf("the service exited with %v (see %s)", err, s.logPath)
		}
		return nil
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		return fmt.Errorf("the service did not stop within 30 s of SIGTERM (see %s)", s.logPath)
	}
}

// benchToken is a random API token for the bench's service (start-up refuses short or
// placeholder tokens).
func benchToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
