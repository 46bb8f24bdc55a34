package intake

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"safetynet/state"
	"safetynet/stream/feed"
)

// isSeen is resolve's resend check for one event: the filter's exact "no" (screen), or the
// store's answer (wasSeen); asked says which.
func (i *Intake) isSeen(tx *state.Tx, fd, eventID string) (seen, asked bool, err error) {
	items := []item{{feed: fd, ev: feed.HouseholdEvent{EventID: eventID}}}
	i.seen.screen(items)
	if !items[0].maybeSeen {
		return false, false, nil
	}
	seen, err = i.wasSeen(tx, fd, eventID, items[0].seenHash, seenBlockReads{})
	return seen, true, err
}

// seenRig is an intake with just what the resend check needs: a store on a real directory and
// the filter.
func seenRig(t *testing.T, dir string, filterBytes int) (*Intake, func()) {
	t.Helper()
	s, err := state.Open(state.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	closeStore := sync.OnceFunc(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	t.Cleanup(closeStore)
	return &Intake{cfg: Config{DedupeWindow: time.Hour}, store: s, seen: newSeenFilter(filterBytes, time.Hour), log: slog.New(slog.DiscardHandler)}, closeStore
}

// markAll marks ids seen as handleBatch does (batches of up to 2,000: screen, then
// markForwarded, one seen block each), or one by one with markSeen (the parked reader's and
// parking's way).
func (i *Intake) markAll(t *testing.T, feed string, ids []string, oneByOne bool) {
	t.Helper()
	if !oneByOne {
		for len(ids) > 0 {
			n := min(len(ids), 2000)
			items := batchOf(feed, ids[:n])
			ids = ids[n:]
			i.seen.screen(items)
			for n := range items {
				items[n].out = outForward
			}
			if err := i.markForwarded(items); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	wb := i.store.NewBatch()
	defer wb.Cancel()
	for _, id := range ids {
		if err := i.markSeen(wb, feed, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
}

func batchOf(feed string, ids []string) []item {
	items := make([]item, len(ids))
	for n, id := range ids {
		items[n].feed, items[n].ev.EventID = feed, id
	}
	return items
}

// check asks the resend check about every id, as resolve does (screen the batch, then the
// store for a maybe) and one by one (isSeen), and fails on any answer other than want; it
// returns how many the batch check answered from memory.
func (i *Intake) check(t *testing.T, feed string, ids []string, want bool) (fromMemory int) {
	t.Helper()
	items := batchOf(feed, ids)
	i.seen.screen(items)
	reads := seenBlockReads{}
	err := i.store.View(func(tx *state.Tx) error {
		for n, id := range ids {
			seen := false
			if items[n].maybeSeen {
				var err error
				if seen, err = i.wasSeen(tx, feed, id, items[n].seenHash, reads); err != nil {
					return err
				}
			} else {
				fromMemory++
			}
			if seen != want {
				t.Errorf("resend check of %s/%s: got seen=%v, want %v (asked the store: %v)", feed, id, seen, want, items[n].maybeSeen)
			}
			seen, asked, err := i.isSeen(tx, feed, id)
			if err != nil {
				return err
			}
			if seen != want {
				t.Errorf("isSeen(%s/%s): got seen=%v, want %v (asked the store: %v)", feed, id, seen, want, asked)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fromMemory
}

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for k := range out {
		out[k] = fmt.Sprintf("%s-%d", prefix, k)
	}
	return out
}

// TestResendCheckNeverMissesAResend: with a filter of normal size and with one of 64 bytes
// (nearly every answer a false positive), before and after a restart, and before the filter is
// loaded, every marked event is reported seen and no other is; the filter answers new events from
// memory once loaded. A filter that lost a mark fails here.
func TestResendCheckNeverMissesAResend(t *testing.T) {
	for _, tc := range []struct {
		name          string
		bytes         int
		minFromMemory float64 // share of the new events answered from memory, once loaded
	}{
		{"16MiB", seenFilterBytes, 0.999},
		{"64B", 64, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			i, closeStore := seenRig(t, dir, tc.bytes)
			if n, _, err := i.seen.load(i.store, nil); err != nil || n != 0 {
				t.Fatalf("load of an empty table: %d marks, %v", n, err)
			}
			marked, other := ids("ev", 20000), ids("new", 20000)
			parked := ids("pk", 500) // per-event marks, as parking makes them
			i.markAll(t, "hospital", marked, false)
			i.markAll(t, "hospital", parked, true)
			i.check(t, "hospital", marked, true)
			i.check(t, "hospital", parked, true)
			i.check(t, "pension", marked, false) // the same ids on another feed are other events
			if got := float64(i.check(t, "hospital", other, false)) / float64(len(other)); got < tc.minFromMemory {
				t.Errorf("new events answered from memory: %.4f, want at least %.4f", got, tc.minFromMemory)
			}
			closeStore()

			// A restart: until the filter is loaded every check goes to the store, which answers
			// for the per-event marks (the seen blocks are found through the index the load
			// builds, and the intake's group waits for it); then every mark is in it, those
			// made while it loaded too.
			j, _ := seenRig(t, dir, tc.bytes)
			if got := j.check(t, "hospital", other[:100], false); got != 0 {
				t.Errorf("%d checks answered from an unloaded filter", got)
			}
			j.check(t, "hospital", parked[:100], true)
			late, lateBatch := ids("late", 1000), ids("late-batch", 3000) // marked while the filter loads
			j.markAll(t, "hospital", late, true)
			j.markAll(t, "hospital", lateBatch, false)
			if n, _, err := j.seen.load(j.store, nil); err != nil || n != len(marked)+len(parked)+len(late)+len(lateBatch) {
				t.Fatalf("load: %d marks, %v; want %d", n, err, len(marked)+len(parked)+len(late)+len(lateBatch))
			}
			j.check(t, "hospital", marked, true)
			j.check(t, "hospital", parked, true)
			j.check(t, "hospital", late, true)
			j.check(t, "hospital", lateBatch, true)
			if got := float64(j.check(t, "hospital", other, false)) / float64(len(other)); got < tc.minFromMemory {
				t.Errorf("after the restart, new events answered from memory: %.4f, want at least %.4f", got, tc.minFromMemory)
			}
		})
	}
}

// TestSeenFilterKeepsMarksUntilTheyExpire: a generation is cleared only once every mark in it
// has expired in the store (its own expiry for marks loaded from the table), however the clock
// moves.
func TestSeenFilterKeepsMarksUntilTheyExpire(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	f := newSeenFilter(1<<20, time.Hour)
	f.now = func() time.Time { return now }
	f.loaded = true
	has := func(id string) bool { return f.mayHave("hospital", id) }

	f.add("hospital", "a") // expires in the store at t0+1h
	now = t0.Add(time.Hour)
	f.add("hospital", "b") // a's generation becomes the previous one
	if !has("a") || !has("b") {
		t.Fatalf("after one rotation: a %v, b %v; want both", has("a"), has("b"))
	}
	now = t0.Add(time.Hour + seenSlack/2)
	f.add("hospital", "c") // a's mark may still live: no rotation
	if !has("a") {
		t.Fatal("a mark that may still live in the store was dropped")
	}
	now = t0.Add(2 * time.Hour)
	f.add("hospital", "d") // a has expired: its generation is cleared and reused
	if has("a") {
		t.Error("an expired mark is still in the filter after its generation was cleared")
	}
	for _, id := range []string{"b", "c", "d"} {
		if !has(id) {
			t.Errorf("mark %s lost by the rotation", id)
		}
	}

	// A mark loaded from the table with a longer expiry (written under a longer dedupe window)
	// holds its generation until it expires.
	g := newSeenFilter(1<<20, time.Hour)
	now = t0
	g.now = func() time.Time { return now }
	g.loaded = true
	g.addHash(g.hash("hospital", "long"), t0.Add(30*24*time.Hour))
	for h := 1; h <= 24*30; h++ {
		now = t0.Add(time.Duration(h) * time.Hour)
		g.add("hospital", fmt.Sprint("x", h))
		if now.Before(t0.Add(30*24*time.Hour)) && !g.mayHave("hospital", "long") {
			t.Fatalf("a mark expiring at %v dropped at %v", t0.Add(30*24*time.Hour), now)
		}
	}
}

// TestSeenFilterFalsePositives measures the false-positive rate at the load the size is stated
// for (seenFilterBytes: about 6 million marks per generation at 1%), on a filter of a sixteenth
// of the size with a sixteenth of the marks (the same bits per mark).
func TestSeenFilterFalsePositives(t *testing.T) {
	const scale = 16
	f := newSeenFilter(seenFilterBytes/scale, time.Hour)
	f.loaded = true
	const n = 6_000_000 / scale
	for k := range n {
		f.addHash(f.hash("hospital", "m-"+strconv.Itoa(k)), time.Time{})
	}
	fp := 0
	r := rand.New(rand.NewPCG(1, 2))
	const probes = 200_000
	for range probes {
		if f.mayHave("hospital", "p-"+strconv.FormatUint(r.Uint64(), 36)) {
			fp++
		}
	}
	rate := float64(fp) / probes
	t.Logf("%d marks in %d KiB: false-positive rate %.4f", n, seenFilterBytes/scale>>10, rate)
	if rate > 0.012 {
		t.Errorf("false-positive rate %.4f at %d marks, want at most 1.2%%", rate, n)
	}
}

// BenchmarkResendCheck is the resend check of a new event: the filter's answer, or (store) a
// Badger read as before the filter.
func BenchmarkResendCheck(b *testing.B) {
	s, err := state.Open(state.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	i := &Intake{cfg: Config{DedupeWindow: time.Hour}, store: s, seen: newSeenFilter(seenFilterBytes, time.Hour)}
	wb := s.NewBatch()
	for _, id := range ids("ev", 200_000) {
		if err := i.markSeen(wb, "hospital", id); err != nil {
			b.Fatal(err)
		}
	}
	if err := wb.Flush(); err != nil {
		b.Fatal(err)
	}
	if _, _, err := i.seen.load(s, nil); err != nil {
		b.Fatal(err)
	}
	probe := ids("new", 4096)
	b.Run("filter-batch", func(b *testing.B) { // resolve's way: 500 events screened at once
		items := batchOf("hospital", probe[:500])
		b.ReportAllocs()
		for b.Loop() {
			i.seen.screen(items)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(items)), "ns/event")
	})
	for _, bc := range []struct {
		name  string
		check func(tx *state.Tx, id string) (bool, error)
	}{
		{"filter", func(tx *state.Tx, id string) (bool, error) {
			seen, _, err := i.isSeen(tx, "hospital", id)
			return seen, err
		}},
		{"store", func(tx *state.Tx, id string) (bool, error) { return tx.Seen("hospital", id) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			err := s.View(func(tx *state.Tx) error {
				k := 0
				for b.Loop() {
					if seen, err := bc.check(tx, probe[k%len(probe)]); err != nil || seen {
						return fmt.Errorf("check: %v %v", seen, err)
					}
					k++
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		})
	}
}

// TestSeenBlockIndex: a block whose fingerprints match an event that is not in it (a chance
// match, forced here) answers "not seen"; a block written while the memory loads is indexed
// once; blocks leave the index once the store has dropped them; a corrupt block is an error,
// not an answer.
func TestSeenBlockIndex(t *testing.T) {
	i, _ := seenRig(t, t.TempDir(), seenFilterBytes)
	i.markAll(t, "hospital", ids("old", 10), false)
	during := ids("during", 10)
	i.markAll(t, "hospital", during, false) // the load below finds it in the index already
	if _, _, err := i.seen.load(i.store, nil); err != nil {
		t.Fatal(err)
	}
	if got := len(i.seen.blocks); got != 2 {
		t.Fatalf("index holds %d blocks, want 2", got)
	}

	// A chance match: the newest block claims the fingerprint of an id it does not hold.
	h := i.seen.hash("hospital", "stranger")
	ref := &i.seen.blocks[1]
	ref.fps = append(ref.fps, fingerprint(h))
	slices.Sort(ref.fps)
	if got := i.seen.blocksFor(h, nil); len(got) != 1 || got[0] != ref.id {
		t.Fatalf("blocksFor the forced fingerprint: %v, want [%d]", got, ref.id)
	}
	err := i.store.View(func(tx *state.Tx) error {
		reads := seenBlockReads{}
		if seen, err := i.wasSeen(tx, "hospital", "stranger", h, reads); err != nil || seen {
			t.Errorf("an id whose fingerprint matches by chance: seen %v, %v; want not seen", seen, err)
		}
		if seen, err := i.wasSeen(tx, "hospital", during[3], i.seen.hash("hospital", during[3]), reads); err != nil || !seen {
			t.Errorf("an id of the block: seen %v, %v; want seen", seen, err)
		}
		if len(reads) != 1 {
			t.Errorf("blocks read: %d, want 1 (read once for both checks)", len(reads))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Expiry: the clock past the blocks' time to live empties the index at the next batch.
	i.seen.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	i.markAll(t, "hospital", ids("new", 3), false)
	if got := len(i.seen.blocks); got != 1 {
		t.Errorf("index holds %d blocks after the others expired, want 1 (the new one)", got)
	}

	// The bound: past it the oldest blocks leave the index, and their events are no longer
	// reported seen (forwarded again; the monitor applies each event once), never the reverse.
	i.seen.maxIndexed = 2500
	first, second := ids("first", 2000), ids("second", 2000)
	i.markAll(t, "hospital", first, false)
	if i.seenOverflowLogged {
		t.Error("overflow reported below the bound")
	}
	i.markAll(t, "hospital", second, false)
	if !i.seenOverflowLogged || i.seen.indexed > 2500 {
		t.Errorf("past the bound: overflow not reported (%v), or %d ids still indexed", i.seenOverflowLogged, i.seen.indexed)
	}
	i.check(t, "hospital", second, true)
	i.check(t, "hospital", first[:10], false)

	if _, err := blockHas(appendMark(nil, "hospital", "x")[:5], "hospital", "x"); err == nil {
		t.Error("a truncated block was read without an error")
	}
	sealed := sealBlock(nil, appendMark(nil, "hospital", "x"))
	if _, err := openBlock(nil, sealed[:len(sealed)-1]); err == nil {
		t.Error("a truncated stored block was opened without an error")
	}
	if _, err := openBlock(nil, append([]byte{9}, sealed[1:]...)); err == nil {
		t.Error("a stored block of an unknown format was opened without an error")
	}
}

// TestDamagedSeenBlockIsSkipped: a seen block that does not read is left out of the load and
// skipped by the check, which answers as if its ids were forgotten (the monitor applies a
// forwarded resend once) instead of failing the feeds' batches; the other blocks still answer.
func TestDamagedSeenBlockIsSkipped(t *testing.T) {
	dir := t.TempDir()
	i, closeStore := seenRig(t, dir, seenFilterBytes)
	good := ids("good", 100)
	i.markAll(t, "hospital", good, false)
	wb := i.store.NewBatch()
	sealed := sealBlock(nil, appendMark(nil, "hospital", "lost"))
	if err := wb.PutSeenBlock(1, sealed[:len(sealed)-2], time.Hour); err != nil { // id 1 sorts first
		t.Fatal(err)
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
	closeStore()

	j, _ := seenRig(t, dir, seenFilterBytes)
	_, got, err := j.seen.load(j.store, nil)
	if err != nil {
		t.Fatalf("load with a damaged block: %v", err)
	}
	if got != 1 {
		t.Errorf("damaged blocks reported: %d, want 1", got)
	}
	j.check(t, "hospital", good, true)
	// The damaged block as a candidate (an index that still names it, as one written by this
	// process and damaged on disk would be): not seen, and no error.
	h := j.seen.hash("hospital", "lost")
	j.seen.mu.Lock()
	j.seen.blocks = append([]seenBlockRef{{id: 1, until: time.Now().Add(time.Hour), fps: []uint32{fingerprint(h)}}}, j.seen.blocks...)
	j.seen.mu.Unlock()
	err = j.store.View(func(tx *state.Tx) error {
		seen, err := j.wasSeen(tx, "hospital", "lost", h, seenBlockReads{})
		if err != nil || seen {
			t.Errorf("check against a damaged block: seen %v, %v; want not seen, no error", seen, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
