// Package crash holds the tests that run the real binary as a subprocess and kill it, or point
// real outside programs at it: the kill tests (guarantees 1, 2 and 4 of docs/guarantees.md), the
// broker-outage test, the start-up refusals of spoilt state, and Prometheus evaluating every
// dashboard and alert-rule expression. It has no code but tests; TestMain builds cmd/safetynet
// once for all of them.
package crash

// The harness of the kill tests: the real binary, the embedded broker and the service as their
// own processes, a deterministic feed produced in waves, and readers of the output topics.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"safetynet/stream/feed"
	"safetynet/stream/feedgen"
	"safetynet/stream/kafkaio"
	"safetynet/stream/kafkatest"
	"safetynet/stream/topics"
)

// killPartitions is the partition count of every topic in the kill tests.
const killPartitions = 4

// safetynetBin is cmd/safetynet, built by TestMain into a temporary directory.
var safetynetBin string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "safetynet-crash-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	safetynetBin = filepath.Join(dir, "safetynet")
	if out, err := exec.Command("go", "build", "-tags", "testclock", "-o", safetynetBin, "../../cmd/safetynet").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ../../cmd/safetynet: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildBinary returns the binary TestMain built.
func buildBinary(t *testing.T) string {
	t.Helper()
	return safetynetBin
}

// childEnv is the test's environment without its SAFETYNET_* variables (the service refuses
// one it does not know, such as SAFETYNET_KILL_FULL), plus env.
func childEnv(env ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SAFETYNET_") {
			out = append(out, kv)
		}
	}
	return append(out, env...)
}

// allTopics lists every topic safetynet reads or writes.
func allTopics(t topics.Topics) []string { return t.All() }

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// proc is one child process; its output goes to a log file.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // the exit error, once done is closed
	log  string
}

func startProc(t *testing.T, bin string, args, env []string, logPath string) *proc {
	t.Helper()
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = childEnv(env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s %v: %v", bin, args, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// startBroker runs `safetynet broker` and waits until it accepts connections.
func startBroker(t *testing.T, bin, dir, addr string) *proc {
	t.Helper()
	p := startProc(t, bin, []string{"broker", "-addr", addr, "-partitions", strconv.Itoa(killPartitions)}, nil,
		filepath.Join(dir, "broker-"+strings.ReplaceAll(addr, ":", "_")+".log"))
	waitFor(t, 30*time.Second, "the broker to listen on "+addr, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	return p
}

// service is `safetynet run` against one broker and one state directory, started and stopped
// many times.
type svcProc struct {
	t        *testing.T
	bin, dir string
	env      []string
	http     string
	// mu guards p and starts, which a killer goroutine changes while the test reads them
	// (current).
	mu     sync.Mutex
	p      *proc
	starts int
}

func newService(t *testing.T, bin, dir, broker, frozen string, extra ...string) *svcProc {
	httpAddr := freeAddr(t)
	env := []string{
		"SAFETYNET_KAFKA_BROKERS=" + broker,
		"SAFETYNET_STATE_DIR=" + filepath.Join(dir, "state"),
		"SAFETYNET_PSEUDONYM_KEY=5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d",
		"SAFETYNET_HTTP_ADDR=" + httpAddr,
		"SAFETYNET_TEST_FROZEN_TIME=" + frozen,
		"SAFETYNET_LOG_FORMAT=json",
		"SAFETYNET_STATE_CACHE_MB=16",
	}
	return &svcProc{t: t, bin: bin, dir: dir, env: append(env, extra...), http: httpAddr}
}

func (s *svcProc) stateDir() string { return filepath.Join(s.dir, "state") }

func (s *svcProc) start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.starts++
	s.p = startProc(s.t, s.bin, []string{"run"}, s.env, filepath.Join(s.dir, fmt.Sprintf("run-%03d.log", s.starts)))
}

// current returns the process of the latest start and the number of starts.
func (s *svcProc) current() (*proc, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p, s.starts
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *svcProc) kill() {
	p, _ := s.current()
	p.kill()
}

// term sends SIGTERM and returns how long the process took to exit, and its exit error.
func (s *svcProc) term() (time.Duration, error) {
	p, _ := s.current()
	start := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return time.Since(start), p.err
	case <-time.After(60 * time.Second):
		p.kill()
		return time.Since(start), fmt.Errorf("did not exit within 60 s of SIGTERM")
	}
}

// metrics returns the service's /metrics as name{labels} → value, or nil when it does not answer.
func (s *svcProc) metrics() map[string]float64 {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + s.http + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			m[line[:i]] = v
		}
	}
	return m
}

// readyz returns /readyz's status code and body, or 0 when the service does not answer.
func (s *svcProc) readyz() (int, string) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + s.http + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// dump runs `safetynet state dump` on the (stopped) service's directory.
func (s *svcProc) dump() []byte {
	s.t.Helper()
	cmd := exec.Command(s.bin, "state", "dump", "-dir", s.stateDir())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		s.t.Fatalf("state dump: %v\n%s", err, errb.String())
	}
	return out.Bytes()
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// --- the feed ------------------------------------------------------------------------------

// record is one feed record to produce.
type record struct {
	feed       string
	key, value []byte
}

// plan is a deterministic feed cut into waves: wave 0 is the registry of the initial
// population; every later wave holds at most one valid event per household and per person, so
// the order in which intake interleaves the feed partitions cannot change any household's
// sequence of events. Malformed events and resends are mixed in freely.
type plan struct {
	waves [][]record
	// parked[k] is how many events stay parked (their person is never in the registry) once
	// waves 0..k are handled.
	parked    []int
	frozen    time.Time
	events    int // records in all waves
	malformed int
	resends   int
}

type planConfig struct {
	seed       uint64
	households int
	events     int // change events drawn after the registry
}

func makePlan(cfg planConfig) *plan {
	start := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	g := feedgen.New(feedgen.Config{Seed: cfg.seed, Households: cfg.households, Start: start,
		MalformedRate: 0.02, DuplicateRate: 0.02, UnknownPersonRate: 0.003})
	p := &plan{}
	type head struct {
		EventID     string `json:"event_id"`
		HouseholdID string `json:"household_id"`
		Type        string `json:"type"`
	}
	person := map[string]string{} // person id → household ("" once left)
	add := func(w int, r record) {
		for len(p.waves) <= w {
			p.waves = append(p.waves, nil)
		}
		p.waves[w] = append(p.waves[w], r)
		p.events++
	}
	for _, ev := range g.Registry() {
		var h head
		_ = json.Unmarshal(ev.Value, &h)
		person[string(ev.Key)] = h.HouseholdID
		add(0, record{ev.Feed, ev.Key, ev.Value})
	}
	lastHH, lastPerson := map[string]int{}, map[string]int{}
	waveOf := map[string]int{}   // feed/event_id → wave of a produced valid event
	parkedAt := map[string]int{} // feed/event_id → wave of an event that stays parked
	dropped := map[string]bool{}
	cursor := 1
	for range cfg.events {
		ev := g.Next()
		var h head
		_ = json.Unmarshal(ev.Value, &h)
		id := ev.Feed + "/" + h.EventID
		r := record{ev.Feed, ev.Key, ev.Value}
		switch {
		case ev.Malformed:
			add(cursor, r)
			p.malformed++
		case ev.Duplicate:
			if dropped[id] {
				continue
			}
			w, ok := waveOf[id]
			if !ok {
				w, ok = parkedAt[id]
			}
			if !ok {
				continue
			}
			add(w+1, r) // after the original, which intake then remembers
			p.resends++
		case ev.UnknownPerson:
			if _, seen := parkedAt[id]; seen {
				continue
			}
			parkedAt[id] = cursor
			add(cursor, r)
		default:
			pk := string(ev.Key)
			hh, known := person[pk]
			if ev.Feed == feed.Registry {
				if h.Type == "member_joined" {
					person[pk], known = h.HouseholdID, true
				}
				hh = h.HouseholdID
			}
			if ev.Feed == feed.Applications { // an application names its household
				hh, known = h.HouseholdID, true
			}
			if !known || hh == "" {
				// A person who left every household: the event would stay parked; leave it
				// out so that parking depends on nothing but the registry.
				dropped[id] = true
				continue
			}
			w := max(lastHH[hh], lastPerson[pk]) + 1
			if ev.Feed == feed.Registry && h.Type == "member_left" {
				person[pk] = ""
			}
			lastHH[hh], lastPerson[pk] = w, w
			waveOf[id] = w
			cursor = w
			add(w, r)
		}
	}
	p.parked = make([]int, len(p.waves))
	for _, w := range parkedAt {
		for k := w; k < len(p.waves); k++ {
			p.parked[k]++
		}
	}
	p.frozen = g.Now().Add(time.Hour)
	if p.frozen.Before(start) {
		p.frozen = start
	}
	return p
}

// producer writes records to the feed topics: one synchronous writer per topic, hash-balanced
// on the key, so two brokers fed the same plan hold the same records at the same offsets.
type producer struct {
	topics  topics.Topics
	writers map[string]*kafka.Writer
}

func newProducer(broker string, topics topics.Topics) *producer {
	p := &producer{topics: topics, writers: map[string]*kafka.Writer{}}
	for _, f := range feed.Feeds {
		p.writers[f] = &kafka.Writer{Addr: kafka.TCP(broker), Topic: topics.Feed(f), Balancer: &kafka.Hash{},
			RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, BatchSize: 10000, MaxAttempts: 1}
	}
	return p
}

func (p *producer) close() {
	for _, w := range p.writers {
		w.Close()
	}
}

func (p *producer) send(t *testing.T, recs []record) {
	t.Helper()
	by := map[string][]kafka.Message{}
	for _, r := range recs {
		by[r.feed] = append(by[r.feed], kafka.Message{Key: r.key, Value: r.value})
	}
	for _, f := range feed.Feeds {
		if len(by[f]) == 0 {
			continue
		}
		if err := p.writers[f].WriteMessages(context.Background(), by[f]...); err != nil {
			t.Fatalf("produce %d records to %s: %v", len(by[f]), p.topics.Feed(f), err)
		}
	}
}

// --- broker offsets ------------------------------------------------------------------------

func kafkaClient(broker string) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(broker), Timeout: 5 * time.Second}
}

// endOffsets returns the end offset of every partition of the topics.
func endOffsets(ctx context.Context, broker string, topics []string) (map[string]map[int]int64, error) {
	parts := map[string][]int{}
	for _, tp := range topics {
		for p := range killPartitions {
			parts[tp] = append(parts[tp], p)
		}
	}
	return kafkaio.ListOffsets(ctx, kafkaClient(broker), parts, kafka.LastOffset)
}

// groupCaughtUp reports whether the group has committed the end offset of every partition of
// the topics (its outputs for every record are then acknowledged).
func groupCaughtUp(broker, group string, topics []string) bool {
	parts, err := groupProgress(broker, group, topics)
	if err != nil {
		return false
	}
	for _, p := range parts {
		if p.behind() {
			return false
		}
	}
	return true
}

// partitionProgress is a group's committed offset on one partition against its end offset.
type partitionProgress struct {
	topic          string
	partition      int
	committed, end int64 // committed -1: none
}

func (p partitionProgress) behind() bool { return p.end > 0 && p.committed < p.end }

// groupProgress returns the group's committed offset and the end offset of every partition of
// the topics, in topic and partition order.
func groupProgress(broker, group string, topics []string) ([]partitionProgress, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ends, err := endOffsets(ctx, broker, topics)
	if err != nil {
		return nil, fmt.Errorf("end offsets: %w", err)
	}
	req := map[string][]int{}
	for _, tp := range topics {
		for p := range killPartitions {
			req[tp] = append(req[tp], p)
		}
	}
	resp, err := kafkaClient(broker).OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: req})
	if err == nil {
		err = resp.Error
	}
	if err != nil {
		return nil, fmt.Errorf("committed offsets of group %s: %w", group, err)
	}
	var out []partitionProgress
	for _, tp := range topics {
		for p := range killPartitions {
			pp := partitionProgress{topic: tp, partition: p, committed: -1, end: ends[tp][p]}
			for _, po := range resp.Topics[tp] {
				if po.Partition == p && po.Error == nil {
					pp.committed = po.CommittedOffset
				}
			}
			out = append(out, pp)
		}
	}
	return out, nil
}

// groupReport says where the group stands: its state and members, and per partition of the
// topics the committed offset against the end (partitions without records left out).
func groupReport(broker, group string, topics []string) string {
	var b strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fmt.Fprintf(&b, "group %s: ", group)
	if d, err := kafkaClient(broker).DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{group}}); err != nil {
		fmt.Fprintf(&b, "describe: %v", err)
	} else {
		for _, g := range d.Groups {
			fmt.Fprintf(&b, "state %s, %d members", g.GroupState, len(g.Members))
			for _, m := range g.Members {
				n := 0
				var held []string
				for _, a := range m.MemberAssignments.Topics {
					n += len(a.Partitions)
					for _, p := range a.Partitions {
						held = append(held, fmt.Sprintf("%s/%d", strings.TrimPrefix(a.Topic, "safetynet."), p))
					}
				}
				fmt.Fprintf(&b, " [%s %s: %d partitions %s]", m.MemberID, m.ClientHost, n, strings.Join(held, " "))
			}
			if g.Error != nil {
				fmt.Fprintf(&b, " (error %v)", g.Error)
			}
		}
	}
	parts, err := groupProgress(broker, group, topics)
	if err != nil {
		fmt.Fprintf(&b, "; %v", err)
		return b.String()
	}
	behind := 0
	for _, p := range parts {
		if p.behind() {
			behind++
		}
	}
	fmt.Fprintf(&b, "; %d of %d partitions behind (committed/end):", behind, len(parts))
	for _, p := range parts {
		if p.end == 0 {
			continue
		}
		mark := ""
		if p.behind() {
			mark = " BEHIND"
		}
		fmt.Fprintf(&b, "\n    %s/%d %d/%d%s", p.topic, p.partition, p.committed, p.end, mark)
	}
	return b.String()
}

// logTail returns the last n lines of a log file, each cut to 400 bytes.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	lines = lines[max(0, len(lines)-n):]
	for k, l := range lines {
		if len(l) > 400 {
			lines[k] = l[:400] + "…"
		}
	}
	return strings.Join(lines, "\n")
}

// alertsByID reads the alert topic: every alert_id with its copies, emitted_at removed.
func alertsByID(t *testing.T, broker string, topics topics.Topics) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, m := range kafkatest.ReadTopic(t, broker, topics.Alerts) {
		var a map[string]any
		if err := json.Unmarshal(m.Value, &a); err != nil {
			t.Fatalf("alert at %d does not decode: %v", m.Offset, err)
		}
		id, _ := a["alert_id"].(string)
		if id == "" {
			t.Fatalf("alert at %d has no alert_id", m.Offset)
		}
		delete(a, "emitted_at")
		b, _ := json.Marshal(a) // map keys sorted: canonical
		out[id] = append(out[id], string(b))
	}
	return out
}

// verificationsByID reads the verifications topic: every verification_id with its copies,
// emitted_at removed; and the count of each result.
func verificationsByID(t *testing.T, broker string, topics topics.Topics) (map[string][]string, map[string]int) {
	t.Helper()
	out, results := map[string][]string{}, map[string]int{}
	for _, m := range kafkatest.ReadTopic(t, broker, topics.Verifications) {
		var v map[string]any
		if err := json.Unmarshal(m.Value, &v); err != nil {
			t.Fatalf("verification at %d does not decode: %v", m.Offset, err)
		}
		id, _ := v["verification_id"].(string)
		if id == "" {
			t.Fatalf("verification at %d has no verification_id", m.Offset)
		}
		delete(v, "emitted_at")
		b, _ := json.Marshal(v)
		if len(out[id]) == 0 {
			r, _ := v["result"].(string)
			results[r]++
		}
		out[id] = append(out[id], string(b))
	}
	return out, results
}

// deadLetters reads the DLQ: source topic/partition/offset and reason → copies.
func deadLetters(t *testing.T, broker string, topics topics.Topics) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, m := range kafkatest.ReadTopic(t, broker, topics.DLQ) {
		h := map[string]string{}
		for _, hd := range m.Headers {
			h[hd.Key] = string(hd.Value)
		}
		k := fmt.Sprintf("%s/%s@%s %s", h[feed.HeaderSourceTopic], h[feed.HeaderSourcePartition], h[feed.HeaderSourceOffset], h[feed.HeaderReason])
		out[k]++
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// jitter is a uniform random duration in [lo, hi).
func jitter(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rng.Int64N(int64(hi-lo)))
}
