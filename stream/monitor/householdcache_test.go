package monitor

import (
	"fmt"
	"math"
	"runtime/debug"
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
