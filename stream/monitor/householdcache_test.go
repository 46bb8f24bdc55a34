package monitor

import (
	"fmt"
	"hash/maphash"
	"math"
	"math/rand/v2"
	"runtime/debug"
	"sync/atomic"
	"testing"
)

func TestHouseholdCacheBounds(t *testing.T) {
	for _, c := range []struct {
		name      string
		valueSize int
	}{
		{"small values", 16},
		{"large values", 4096},
	} {
		t.Run(c.name, func(t *testing.T) {
			hc := householdCache{max: 8 << 20}
			v := make([]byte, c.valueSize)
			for i := range 200_000 {
				v[0] = byte(i)
				hc.put(fmt.Sprintf("hh-%d", i), v) // the first put caches it while there is room
				hc.put(fmt.Sprintf("hh-%d", i), v)
				if hc.bytes > hc.max {
					t.Fatalf("after %d puts: %d entries, %d bytes; bound %d", i+1, len(hc.index), hc.bytes, hc.max)
				}
			}
			want := 0
			for _, ch := range hc.chunks {
				want += cap(ch.b) + len(ch.hashes)*cacheEntryOverhead
			}
			if hc.bytes != want {
				t.Errorf("bytes = %d; the chunks hold %d", hc.bytes, want)
			}
			if len(hc.index) < (hc.max/cacheCost("hh-199999", v))*8/10 {
				t.Errorf("%d entries: the cache forgot more than it had to", len(hc.index))
			}
			// The newest households are all there, with their own values; the oldest are gone.
			for i := 200_000 - 100; i < 200_000; i++ {
				got, ok := hc.get(fmt.Sprintf("hh-%d", i))
				if !ok || len(got) != c.valueSize || got[0] != byte(i) {
					t.Fatalf("hh-%d, put last: cached %v, %d bytes", i, ok, len(got))
				}
			}
			if _, ok := hc.get("hh-0"); ok {
				t.Error("the first household put is still cached")
			}
			last := fmt.Sprintf("hh-%d", 200_000-1)
			hc.put(last, []byte("new")) // a value put again replaces the old one
			if got, ok := hc.get(last); !ok || string(got) != "new" {
				t.Errorf("after a replacement: %q, %v", got, ok)
			}
		})
	}
}

// Values put again move to the newest chunk, so the households put least recently are the
// ones forgotten; a value read back is never written over by later puts.
func TestHouseholdCacheForgetsTheLeastRecentlyPut(t *testing.T) {
	hc := householdCache{max: 1 << 20}
	v := make([]byte, 1000)
	put := func(id string, fill byte) {
		for i := range v {
			v[i] = fill
		}
		hc.put(id, v)
		hc.put(id, v)
	}
	put("hot", 'h')
	held, _ := hc.get("hot")
	for i := range 5_000 { // five times what the cache holds
		put(fmt.Sprintf("cold-%d", i), byte(i))
		if i%100 == 0 {
			put("hot", 'h')
		}
	}
	if got, ok := hc.get("hot"); !ok || got[0] != 'h' {
		t.Errorf("a household put every 100 puts was forgotten: %v", ok)
	}
	for _, b := range held {
		if b != 'h' {
			t.Fatal("a value read from the cache changed afterwards")
		}
	}
	if _, ok := hc.get("cold-0"); ok {
		t.Error("the least recently put household is still cached")
	}
}

// Households that fit the cache stay in it however often they are put again in random order:
// a chunk forgotten loses only the older copies, and its households' latest records move to
// the newest chunk. Forgetting whole chunks kept about 60% of them.
func TestHouseholdCacheKeepsEveryHouseholdThatFits(t *testing.T) {
	hc := householdCache{max: 4 << 20}
	v := make([]byte, 1000)
	id := func(i int) string { return fmt.Sprintf("hh-%05d", i) }
	households := hc.max / cacheCost(id(0), v) * 3 / 4 // within the live share
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range households {
		hc.put(id(i), v)
	}
	for range 20 * households { // each household put about twenty times, in random order
		i := rng.IntN(households)
		v[0], v[1] = byte(i), byte(i>>8)
		hc.put(id(i), v)
		if hc.bytes > hc.max {
			t.Fatalf("%d bytes, bound %d", hc.bytes, hc.max)
		}
	}
	missed := 0
	for i := range households {
		got, ok := hc.get(id(i))
		if !ok {
			missed++
			continue
		}
		if len(got) != len(v) || (got[0] != byte(i) && got[0] != 0) || (got[1] != byte(i>>8) && got[1] != 0) {
			t.Fatalf("%s has another household's value", id(i))
		}
	}
	if missed > 0 {
		t.Errorf("%d of %d households that fit the cache were forgotten", missed, households)
	}
	live := 0
	for h, loc := range hc.index {
		k, val := hc.record(loc)
		if maphash.String(cacheSeed, k) != h {
			t.Fatalf("the index points %x at %s", h, k)
		}
		live += cacheCost(k, val)
	}
	if live != hc.live {
		t.Errorf("live = %d; the indexed records cost %d", hc.live, live)
	}
}

// While the cache has room, a household is cached at its first put. Once its live records
// fill it, a household put once is not cached and takes no one's place; put again, it is, with
// the value of the second put.
func TestHouseholdCacheDoorkeeper(t *testing.T) {
	hc := householdCache{max: 1 << 20}
	hc.put("hh-0", []byte("zero"))
	if v, ok := hc.get("hh-0"); !ok || string(v) != "zero" {
		t.Fatalf("an empty cache turned away a first put: %q, %v", v, ok)
	}
	v := make([]byte, 1000)
	full := 0
	for hc.live+cacheCost("hh-new", v) <= liveRoom(hc.max) {
		full++
		hc.put(fmt.Sprintf("hh-%d", full), v)
	}
	if len(hc.index) != full+1 {
		t.Fatalf("%d first puts with room: %d cached", full+1, len(hc.index))
	}
	hc.put("hh-new", v) // as large as those that filled it
	if _, ok := hc.get("hh-new"); ok {
		t.Fatal("a full cache took a household at its first put")
	}
	hc.put("hh-new", []byte("two"))
	if v, ok := hc.get("hh-new"); !ok || string(v) != "two" {
		t.Fatalf("after the second put: %q, %v; want two, true", v, ok)
	}
	cached := len(hc.index)
	for i := range 100_000 { // households seen once each: the doorkeeper stays bounded
		hc.put(fmt.Sprintf("once-%d", i), v)
	}
	if _, ok := hc.get("hh-0"); !ok || len(hc.index) != cached || len(hc.once) > hc.max/(cacheEntryOverhead+256) {
		t.Errorf("after 100,000 single puts: %d cached (was %d), %d remembered, first household kept %v",
			len(hc.index), cached, len(hc.once), ok)
	}
}

// The caches' budget follows the soft memory limit, split between the partitions owned.
func TestHouseholdCacheBudgetFromLimit(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })

	debug.SetMemoryLimit(640 << 20)
	if got, want := (&householdCache{share: 4}).bound(), 640<<20/cacheBudgetFraction/4; got != want {
		t.Errorf("640 MiB limit, 4 partitions: bound %d; want %d", got, want)
	}
	debug.SetMemoryLimit(2 << 30)
	if got, want := (&householdCache{share: 4}).bound(), 2<<30/cacheBudgetFraction/4; got != want {
		t.Errorf("2 GiB limit, 4 partitions: bound %d; want %d", got, want)
	}
	if got := (&householdCache{share: 1000}).bound(); got != minCachedBytes {
		t.Errorf("2 GiB limit, 1000 partitions: bound %d; want the floor %d", got, minCachedBytes)
	}
	debug.SetMemoryLimit(math.MaxInt64)
	if got := (&householdCache{}).bound(); got != cacheBudgetNoLimit {
		t.Errorf("no limit: bound %d; want %d", got, cacheBudgetNoLimit)
	}
}

// The caches give way to the rest of the heap: when what else is live leaves less than their
// share of the limit before only a quarter is free, each cache shrinks to its floor within
// boundEvery puts; when the heap has room again, it may grow back. The process-wide count
// follows every put, eviction and release.
func TestHouseholdCacheGivesWayToTheHeap(t *testing.T) {
	oldLimit, oldLive := debug.SetMemoryLimit(-1), liveHeap
	t.Cleanup(func() { debug.SetMemoryLimit(oldLimit); liveHeap = oldLive })
	debug.SetMemoryLimit(512 << 20)
	var held atomic.Int64
	others := int64(100 << 20)
	liveHeap = func() int64 { return others + held.Load() }

	caches := []*householdCache{{share: 2, held: &held}, {share: 2, held: &held}}
	v := make([]byte, 1000)
	fill := func(from, n int) {
		for i := from; i < from+n; i++ {
			for _, c := range caches {
				c.put(fmt.Sprintf("hh-%d", i), v)
				c.put(fmt.Sprintf("hh-%d", i), v)
			}
		}
	}
	sum := func() int64 {
		n := 0
		for _, c := range caches {
			n += c.bytes
		}
		return int64(n)
	}

	// 100 MiB of other live data leaves the caches their whole share of the limit
	per := 512 << 20 / cacheBudgetFraction / 2
	fill(0, per/1000*3/2)
	for _, c := range caches {
		if c.bytes < per-per/8 || c.bytes > per {
			t.Fatalf("with room: the cache holds %d bytes; want nearly %d", c.bytes, per)
		}
	}
	if held.Load() != sum() {
		t.Fatalf("count %d; the caches hold %d", held.Load(), sum())
	}

	others = 380 << 20 // a registry load's table builders: 384 MiB less 380 leaves 4 MiB
	fill(per/1000*3/2, boundEvery)
	for _, c := range caches {
		if c.bytes > minCachedBytes {
			t.Errorf("short of room: the cache holds %d bytes; want at most its floor %d", c.bytes, minCachedBytes)
		}
	}
	if held.Load() != sum() {
		t.Fatalf("count %d after shrinking; the caches hold %d", held.Load(), sum())
	}

	others = 100 << 20
	fill(per/1000*3/2+boundEvery, 20_000)
	if c := caches[0]; c.bytes < 16<<20 {
		t.Errorf("with room again: the cache holds %d bytes; want it to grow back", c.bytes)
	}
	for _, c := range caches {
		c.release()
	}
	if held.Load() != 0 || caches[0].bytes != 0 || caches[0].index != nil {
		t.Errorf("after release: count %d, bytes %d", held.Load(), caches[0].bytes)
	}
}
