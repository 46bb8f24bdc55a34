package crash

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"safetynet/stream/kafkatest"
	"safetynet/stream/topics"
)

// The kill test proves guarantees 1, 2 and 4 of docs/design.md with the real binary: a feed is run
// once without interruption and once while `safetynet run` is SIGKILLed (and now and then
// SIGTERMed) at random instants and restarted; the household state, the alert ids and the dead
// letters must come out the same. `make test-kill` runs the full size (-kill.full); `make test`
// a small one.

var killFull = flag.Bool("kill.full", false, "run the kill test at full size (about 20,000 events, at least 20 kills)")

type killSize struct {
	households, events int
	// minKills SIGKILLs at least; interrupts in all (every termEvery-th one a SIGTERM).
	minKills, interrupts, termEvery int
}

func TestKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kill test: not in -short")
	}
	size := killSize{households: 250, events: 2500, minKills: 3, interrupts: 4, termEvery: 4}
	if *killFull || os.Getenv("SAFETYNET_KILL_FULL") != "" {
		size = killSize{households: 2500, events: 20000, minKills: 22, interrupts: 30, termEvery: 5}
	}
	began := time.Now()
	bin := buildBinary(t)
	pl := makePlan(planConfig{seed: 20240607, households: size.households, events: size.events})
	topics := topics.Default()
	frozen := pl.frozen.Format(time.RFC3339)
	t.Logf("feed: %d records in %d waves (%d malformed, %d resends, %d stay parked), frozen clock %s",
		pl.events, len(pl.waves), pl.malformed, pl.resends, pl.parked[len(pl.parked)-1], frozen)

	// The reference: one uninterrupted run.
	refBroker := freeAddr(t)
	startBroker(t, bin, t.TempDir(), refBroker)
	ref := newService(t, bin, t.TempDir(), refBroker, frozen)
	ref.start()
	prod := newProducer(refBroker, topics)
	feedWaves(t, ref, refBroker, prod, pl, nil)
	refDump := finish(t, ref, refBroker, topics)
	t.Logf("reference run took %s", time.Since(began).Round(time.Second))
	refAlerts := alertsByID(t, refBroker, topics)
	refVer, refResults := verificationsByID(t, refBroker, topics)
	refDLQ := deadLetters(t, refBroker, topics)
	refHE := len(kafkatest.ReadTopic(t, refBroker, topics.HouseholdEvents))
	refCL := len(kafkatest.ReadTopic(t, refBroker, topics.Changelog))
	t.Logf("reference: %d households, %d alert ids, %d dead letters, %d household events, %d changelog records",
		bytes.Count(refDump, []byte("\n")), len(refAlerts), len(refDLQ), refHE, refCL)
	if len(refAlerts) == 0 {
		t.Fatal("the reference run raised no alert: the feed proves nothing about alerts")
	}
	t.Logf("reference: %d verifications %v", len(refVer), refResults)
	if refResults["consistent"] == 0 || refResults["discrepancies"] == 0 {
		t.Fatalf("the reference run published verifications %v: the feed proves nothing about declaration checks", refResults)
	}
	if n := len(refDLQ); n < pl.malformed {
		t.Fatalf("reference run dead-lettered %d records, the feed holds %d malformed ones", n, pl.malformed)
	}

	// An agency resends yesterday's batch (waves 1 and 2, the same event ids): nothing changes.
	ref.start()
	resend := append(append([]record(nil), pl.waves[1]...), pl.waves[min(2, len(pl.waves)-1)]...)
	prod.send(t, resend)
	waitGate(t, ref, refBroker, topics, pl.parked[len(pl.parked)-1])
	if d := finish(t, ref, refBroker, topics); !bytes.Equal(d, refDump) {
		t.Errorf("resending %d records changed the state:\n%s", len(resend), firstDiff(refDump, d))
	}
	if again := alertsByID(t, refBroker, topics); len(again) != len(refAlerts) || copies(again) != copies(refAlerts) {
		t.Errorf("resending %d records changed the alerts: %d ids (%d records), before %d (%d)",
			len(resend), len(again), copies(again), len(refAlerts), copies(refAlerts))
	}
	if again, _ := verificationsByID(t, refBroker, topics); len(again) != len(refVer) || copies(again) != copies(refVer) {
		t.Errorf("resending %d records changed the verifications: %d ids (%d records), before %d (%d)",
			len(resend), len(again), copies(again), len(refVer), copies(refVer))
	}
	prod.close()

	// The same feed on a fresh broker and directory, killed at random instants.
	killBroker := freeAddr(t)
	startBroker(t, bin, t.TempDir(), killBroker)
	svc := newService(t, bin, t.TempDir(), killBroker, frozen)
	svc.start()
	k := startKiller(t, svc, size.interrupts, size.termEvery)
	prod = newProducer(killBroker, topics)
	defer prod.close()
	feedWaves(t, svc, killBroker, prod, pl, func(wave int) {
		// Spread the kills over the feed: wave k waits for its share of them.
		want := (size.minKills*(wave+1) + len(pl.waves) - 1) / len(pl.waves)
		waitFor(t, 10*time.Minute, fmt.Sprintf("%d kills by wave %d", want, wave), func() bool { return k.kills.Load() >= int64(want) })
	})
	k.stop()
	dump := finish(t, svc, killBroker, topics)

	// 1. Every household's state is identical.
	if !bytes.Equal(dump, refDump) {
		t.Errorf("state after %d kills differs from the reference:\n%s", k.kills.Load(), firstDiff(refDump, dump))
	}
	// 2. The same alert ids; 3. duplicates identical but for emitted_at.
	alerts := alertsByID(t, killBroker, topics)
	dups := compareByID(t, "alert", alerts, refAlerts)
	// The same verifications, duplicates identical but for emitted_at (they ride the same
	// write-ahead step as the alerts).
	vers, _ := verificationsByID(t, killBroker, topics)
	vdups := compareByID(t, "verification", vers, refVer)
	// 4. Every dead letter of the reference, by source topic/partition/offset and reason.
	dlq := deadLetters(t, killBroker, topics)
	dlqDups := 0
	for _, key := range sortedKeys(refDLQ) {
		if dlq[key] == 0 {
			t.Errorf("dead letter %s of the reference run is missing", key)
		}
	}
	for _, key := range sortedKeys(dlq) {
		dlqDups += dlq[key] - 1
		if refDLQ[key] == 0 {
			t.Errorf("dead letter %s is not in the reference run", key)
		}
	}
	he := len(kafkatest.ReadTopic(t, killBroker, topics.HouseholdEvents))
	cl := len(kafkatest.ReadTopic(t, killBroker, topics.Changelog))
	_, starts := svc.current()
	t.Logf("killed run: %d verification ids, %d duplicate verification records", len(vers), vdups)
	t.Logf("killed run: %d SIGKILLs and %d SIGTERMs (slowest exit %s), %d starts; %d alert ids, %d duplicate alert records (identical but for emitted_at); "+
		"%d dead letters, %d duplicates; household events %d (reference %d: %d forwarded again after a kill in intake); "+
		"changelog records %d (reference %d; batches are cut differently, so the counts differ); took %s in all",
		k.kills.Load(), k.terms.Load(), time.Duration(k.slowestTerm.Load()), starts, len(alerts), dups,
		len(dlq), dlqDups, he, refHE, he-refHE, cl, refCL, time.Since(began).Round(time.Second))
}

// compareByID checks records by id (as alertsByID and verificationsByID give them, emitted_at
// removed) against the reference run: every copy of an id identical, equal to the reference's,
// and every reference id published. It returns the number of duplicate records.
func compareByID(t *testing.T, kind string, got, ref map[string][]string) (dups int) {
	t.Helper()
	for _, id := range sortedKeys(got) {
		cs := got[id]
		dups += len(cs) - 1
		for _, c := range cs[1:] {
			if c != cs[0] {
				t.Errorf("%s %s published twice with different content:\n%s\n%s", kind, id, cs[0], c)
			}
		}
		if r, ok := ref[id]; !ok {
			t.Errorf("%s %s is not in the reference run: %s", kind, id, cs[0])
		} else if r[0] != cs[0] {
			t.Errorf("%s %s differs from the reference:\n%s\n%s", kind, id, r[0], cs[0])
		}
	}
	for _, id := range sortedKeys(ref) {
		if _, ok := got[id]; !ok {
			t.Errorf("%s %s of the reference run was never published: %s", kind, id, ref[id][0])
		}
	}
	return dups
}

func copies(m map[string][]string) int {
	n := 0
	for _, c := range m {
		n += len(c)
	}
	return n
}

// feedWaves produces the plan wave by wave; the next wave goes only once intake has handled
// the previous one (its group offsets are committed and only the never-known persons' events
// remain parked). after, when set, runs after each wave.
func feedWaves(t *testing.T, s *svcProc, broker string, prod *producer, pl *plan, after func(wave int)) {
	t.Helper()
	var slowest time.Duration
	slowWave, slowStarts := 0, 0
	for k, wave := range pl.waves {
		prod.send(t, wave)
		began := time.Now()
		waitGate(t, s, broker, prod.topics, pl.parked[k])
		if d := time.Since(began); d > slowest {
			_, starts := s.current()
			slowest, slowWave, slowStarts = d, k, starts
		}
		if after != nil {
			after(k)
		}
	}
	t.Logf("intake handled each wave within %s (slowest: wave %d, service started %d times by then)", slowest.Round(100*time.Millisecond), slowWave, slowStarts)
}

// waitGate waits until intake has handled every feed record: the intake group committed the
// end offsets, and exactly parked events wait for their person. When it times out it says what
// it saw: the intake group and its offsets, the parked gauge against the expected count, the
// service's starts and the tail of its log.
func waitGate(t *testing.T, s *svcProc, broker string, topics topics.Topics, parked int) {
	t.Helper()
	const wait = 5 * time.Minute
	deadline := time.Now().Add(wait)
	for {
		caughtUp := groupCaughtUp(broker, "safetynet-intake", topics.FeedTopics())
		m := s.metrics()
		v, ok := m["safetynet_parked_events"]
		if caughtUp && ok && int(v) == parked {
			return
		}
		if time.Now().After(deadline) {
			gauge := "no answer from /metrics"
			if m != nil {
				gauge = "safetynet_parked_events absent"
				if ok {
					gauge = fmt.Sprintf("safetynet_parked_events %v", v)
				}
			}
			p, starts := s.current()
			state := "running"
			if p.exited() {
				state = fmt.Sprintf("exited: %v", p.err)
			}
			t.Fatalf("timed out after %s waiting for intake to handle the wave: intake group caught up %v; %s, expected %d; "+
				"%s; service started %d times, now %s\n%s\nlast lines of %s:\n%s",
				wait, caughtUp, gauge, parked, metricsLine(m, "safetynet_released_events_total", "safetynet_registry_persons", "safetynet_registry_caught_up", "safetynet_ready"),
				starts, state, groupReport(broker, "safetynet-intake", topics.FeedTopics()), p.log, logTail(p.log, 40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// metricsLine names the metrics' values (those present).
func metricsLine(m map[string]float64, names ...string) string {
	var parts []string
	for _, n := range names {
		if v, ok := m[n]; ok {
			parts = append(parts, fmt.Sprintf("%s %v", n, v))
		}
	}
	return strings.Join(parts, ", ")
}

// finish waits until the monitor has persisted every household event (its group offsets, which
// it commits after the store, are at the end), stops the service with SIGTERM — which must take
// at most 10 s — and returns the state dump.
func finish(t *testing.T, s *svcProc, broker string, topics topics.Topics) []byte {
	t.Helper()
	waitFor(t, 5*time.Minute, "the monitor to persist every household event", func() bool {
		return groupCaughtUp(broker, "safetynet-monitor", []string{topics.HouseholdEvents})
	})
	d, err := s.term()
	if err != nil {
		p, _ := s.current()
		t.Fatalf("after SIGTERM: %v (log %s)", err, p.log)
	}
	if d > 10*time.Second {
		t.Errorf("SIGTERM: the service took %s to exit, more than 10 s", d)
	}
	return s.dump()
}

// killer SIGKILLs (every termEvery-th time SIGTERMs) the service at random instants and restarts it.
type killer struct {
	kills, terms, slowestTerm atomic.Int64
	quit                      chan struct{}
	wg                        sync.WaitGroup
}

func startKiller(t *testing.T, s *svcProc, interrupts, termEvery int) *killer {
	k := &killer{quit: make(chan struct{})}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		for n := 1; n <= interrupts; n++ {
			// Wait until this incarnation is doing work (intake consumed or the monitor
			// applied a batch), then kill it a random instant later.
			deadline := time.Now().Add(40 * time.Second)
			for time.Now().Before(deadline) {
				if busy(s.metrics()) {
					break
				}
				select {
				case <-k.quit:
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
			select {
			case <-k.quit:
				return
			case <-time.After(jitter(rng, 0, 1200*time.Millisecond)):
			}
			if n%termEvery == 0 {
				d, err := s.term()
				if err != nil || d > 10*time.Second {
					p, _ := s.current()
					t.Errorf("SIGTERM %d: exit after %s: %v (log %s)", n, d, err, p.log)
				}
				k.terms.Add(1)
				if int64(d) > k.slowestTerm.Load() {
					k.slowestTerm.Store(int64(d))
				}
			} else {
				s.kill()
				k.kills.Add(1)
			}
			s.start()
		}
	}()
	return k
}

func (k *killer) stop() {
	close(k.quit)
	k.wg.Wait()
}

// busy reports whether the service has done work since it started.
func busy(m map[string]float64) bool {
	var n float64
	for name, v := range m {
		if strings.HasPrefix(name, "safetynet_events_total") || name == "safetynet_batch_size_count" {
			n += v
		}
	}
	return n > 0
}

// firstDiff shows the first differing line of two dumps.
func firstDiff(a, b []byte) string {
	al, bl := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := range max(len(al), len(bl)) {
		var x, y []byte
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if !bytes.Equal(x, y) {
			return fmt.Sprintf("line %d (of %d and %d):\n  want %.600s\n  got  %.600s", i+1, len(al), len(bl), x, y)
		}
	}
	return "equal"
}
