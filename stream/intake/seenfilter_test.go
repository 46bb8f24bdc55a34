package intake

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"safetynet/state"
	"safetynet/stream/feed"
)

// isSeen is resolve's resend check for one event: the filter's exact "no" (screen), or the
// store's answer; asked says which.
func (i *Intake) isSeen(tx *state.Tx, fd, eventID string) (seen, asked bool, err error) {
	items := []item{{feed: fd, ev: feed.HouseholdEvent{EventID: eventID}}}
	i.seen.screen(items)
	if !items[0].maybeSeen {
		return false, false, nil
	}
	seen, err = tx.Seen(fd, eventID)
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
	return &Intake{cfg: Config{DedupeWindow: time.Hour}, store: s, seen: newSeenFilter(filterBytes, time.Hour)}, closeStore
}

// markAll marks ids seen as handleBatch does (a batch: screen, addForwarded, then the store),
// or one by one with markSeen (the parked reader's and parking's way).
func (i *Intake) markAll(t *testing.T, feed string, ids []string, oneByOne bool) {
	t.Helper()
	wb := i.store.NewBatch()
	defer wb.Cancel()
	if oneByOne {
		for _, id := range ids {
			if err := i.markSeen(wb, feed, id); err != nil {
				t.Fatal(err)
			}
		}
	} else {
		items := batchOf(feed, ids)
		i.seen.screen(items)
		for n := range items {
			items[n].out = outForward
		}
		i.seen.addForwarded(items)
		for _, id := range ids {
			if err := wb.MarkSeen(feed, id, i.cfg.DedupeWindow); err != nil {
				t.Fatal(err)
			}
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
	err := i.store.View(func(tx *state.Tx) error {
		for n, id := range ids {
			seen := false
			if items[n].maybeSeen {
				var err error
				if seen, err = tx.Seen(feed, id); err != nil {
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
			if n, err := i.seen.load(i.store, nil); err != nil || n != 0 {
				t.Fatalf("load of an empty table: %d marks, %v", n, err)
			}
			marked, other := ids("ev", 20000), ids("new", 20000)
			i.markAll(t, "hospital", marked, false)
			i.check(t, "hospital", marked, true)
			i.check(t, "pension", marked, false) // the same ids on another feed are other events
			if got := float64(i.check(t, "hospital", other, false)) / float64(len(other)); got < tc.minFromMemory {
				t.Errorf("new events answered from memory: %.4f, want at least %.4f", got, tc.minFromMemory)
			}
			closeStore()

			// A restart: until the filter is loaded every check goes to the store; then the
			// marks of the table are in it.
			j, _ := seenRig(t, dir, tc.bytes)
			if got := j.check(t, "hospital", other[:100], false); got != 0 {
				t.Errorf("%d checks answered from an unloaded filter", got)
			}
			j.check(t, "hospital", marked[:100], true)
			late := ids("late", 1000) // marked while the filter loads
			j.markAll(t, "hospital", late, true)
			if n, err := j.seen.load(j.store, nil); err != nil || n != len(marked)+len(late) {
				t.Fatalf("load: %d marks, %v; want %d", n, err, len(marked)+len(late))
			}
			j.check(t, "hospital", marked, true)
			j.check(t, "hospital", late, true)
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
	if _, err := i.seen.load(s, nil); err != nil {
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
