package monitor

import (
	"fmt"
	"math"
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
				hc.put(fmt.Sprintf("hh-%d", i), v) // the first put only passes the doorkeeper
				hc.put(fmt.Sprintf("hh-%d", i), v)
				if hc.bytes > hc.max {
					t.Fatalf("after %d puts: %d entries, %d bytes; bound %d", i+1, len(hc.m), hc.bytes, hc.max)
				}
			}
			want := 0
			for k, v := range hc.m {
				want += cacheCost(k, v)
			}
			if hc.bytes != want {
				t.Errorf("bytes = %d; the entries hold %d", hc.bytes, want)
			}
			if len(hc.m) < (hc.max/cacheCost("hh-199999", v))*8/10 {
				t.Errorf("%d entries: the cache forgot more than it had to", len(hc.m))
			}
			last := fmt.Sprintf("hh-%d", 200_000-1)
			if got, ok := hc.get(last); !ok || len(got) != c.valueSize {
				t.Errorf("the last put is not cached")
			}
			hc.put(last, v[:1:1]) // replacing a value re-counts it (the cache counts capacity)
			if want -= c.valueSize - 1; hc.bytes != want {
				t.Errorf("after a replacement bytes = %d; want %d", hc.bytes, want)
			}
		})
	}
}

// A household put once is not cached; put again, it is, with the value of the second put.
func TestHouseholdCacheDoorkeeper(t *testing.T) {
	hc := householdCache{max: 1 << 20}
	hc.put("hh-1", []byte("one"))
	if _, ok := hc.get("hh-1"); ok {
		t.Fatal("cached at its first put")
	}
	hc.put("hh-1", []byte("two"))
	if v, ok := hc.get("hh-1"); !ok || string(v) != "two" {
		t.Fatalf("after the second put: %q, %v; want two, true", v, ok)
	}
	for i := range 100_000 { // households seen once each: the doorkeeper stays bounded
		hc.put(fmt.Sprintf("once-%d", i), []byte("x"))
	}
	if len(hc.m) != 1 || len(hc.once) > hc.max/(cacheEntryOverhead+256) {
		t.Errorf("after 100,000 single puts: %d cached, %d remembered", len(hc.m), len(hc.once))
	}
}

// The caches' budget follows the soft memory limit, split between the partitions owned.
func TestHouseholdCacheBudgetFromLimit(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })

	debug.SetMemoryLimit(640 << 20)
	if got := (&householdCache{share: 4}).bound(); got != 20<<20 {
		t.Errorf("640 MiB limit, 4 partitions: bound %d; want 20 MiB", got)
	}
	debug.SetMemoryLimit(2 << 30)
	if got := (&householdCache{share: 4}).bound(); got != 64<<20 {
		t.Errorf("2 GiB limit, 4 partitions: bound %d; want 64 MiB", got)
	}
	if got := (&householdCache{share: 1000}).bound(); got != minCachedBytes {
		t.Errorf("2 GiB limit, 1000 partitions: bound %d; want the floor %d", got, minCachedBytes)
	}
	debug.SetMemoryLimit(math.MaxInt64)
	if got := (&householdCache{}).bound(); got != cacheBudgetNoLimit {
		t.Errorf("no limit: bound %d; want %d", got, cacheBudgetNoLimit)
	}
}

// The caches give way to the rest of the heap: when what else is live leaves less than an
// eighth of the limit before only a quarter is free, each cache shrinks to its floor within
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

	fill(0, 40_000) // 100 MiB of other live data: an eighth of the limit, 32 MiB per cache
	for _, c := range caches {
		if c.bytes < 28<<20 || c.bytes > 32<<20 {
			t.Fatalf("with room: the cache holds %d bytes; want nearly 32 MiB", c.bytes)
		}
	}
	if held.Load() != sum() {
		t.Fatalf("count %d; the caches hold %d", held.Load(), sum())
	}

	others = 380 << 20 // a registry load's table builders: 384 MiB less 380 leaves 4 MiB
	fill(40_000, boundEvery)
	for _, c := range caches {
		if c.bytes > minCachedBytes {
			t.Errorf("short of room: the cache holds %d bytes; want at most its floor %d", c.bytes, minCachedBytes)
		}
	}
	if held.Load() != sum() {
		t.Fatalf("count %d after shrinking; the caches hold %d", held.Load(), sum())
	}

	others = 100 << 20
	fill(50_000, 20_000)
	if c := caches[0]; c.bytes < 16<<20 {
		t.Errorf("with room again: the cache holds %d bytes; want it to grow back", c.bytes)
	}
	for _, c := range caches {
		c.release()
	}
	if held.Load() != 0 || caches[0].bytes != 0 || caches[0].m != nil {
		t.Errorf("after release: count %d, bytes %d", held.Load(), caches[0].bytes)
	}
}
