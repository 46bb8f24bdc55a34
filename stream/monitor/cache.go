package monitor

import (
	"hash/maphash"
	"math"
	"runtime/debug"
)

// householdCache keeps the stored form of a partition's recently used households, so that a
// household seen again is not read back from Badger. Only the partition's worker writes its
// households, and it puts a value here only after the store committed it, so the cache never
// holds what the store does not. It is bounded by bytes (values, keys and a per-entry overhead
// for the map): past the bound it forgets about a tenth of its entries, chosen by map
// iteration order.
//
// The bound is the partition's share of a budget derived from the Go heap's soft limit
// (GOMEMLIMIT; `safetynet run` sets 512 MiB unless it is given): an eighth of the limit, shared
// by the partitions the instance owns (16 MiB per partition at 512 MiB and 4 partitions; a
// deployment takes GOMEMLIMIT from its container's limit, docs/operations.md). A fixed 16 MiB
// per partition held the benchmark's working set at 200,000 events but not at 1,000,000 (32,500
// households per partition grown to ~850 bytes each), and the households missing the cache
// were read back from Badger and decoded again (docs/performance.md).
type householdCache struct {
	m     map[string][]byte
	bytes int
	// once holds a hash of each household put once and not yet cached: a household enters
	// the cache when it is put the second time (a doorkeeper). Loading a registry, or any
	// stream that touches each household once, then fills neither the cache nor the heap.
	// It is cleared when it holds as many hashes as the cache could hold households.
	once map[uint64]struct{}
	// share is the number of partitions the budget is split between (0 counts as 1); max, when
	// set, is the bound in bytes (tests), else it is computed at the first put.
	share int
	max   int
}

const (
	// cacheEntryOverhead is what an entry costs besides its key and value bytes: the map's
	// slot (string and slice headers, control byte) and its share of the map's spare room.
	cacheEntryOverhead = 64
	// cacheBudgetFraction of the soft memory limit goes to the household caches.
	// A quarter (160 MiB at a 640 MiB limit) made the peak RSS loading 1,000,000 households
	// 1,328 MiB against 1,090 MiB with the fixed 16 MiB per partition (docs/performance.md).
	cacheBudgetFraction = 8
	// cacheBudgetNoLimit is the budget when no soft limit is set (tests, tools).
	cacheBudgetNoLimit = 80 << 20
	// minCachedBytes is the least a partition's cache may hold, whatever the limit.
	minCachedBytes = 4 << 20
)

// cacheBudget is the bytes all the household caches of the process may hold together.
func cacheBudget() int {
	limit := debug.SetMemoryLimit(-1) // reads the limit without changing it
	if limit <= 0 || limit == math.MaxInt64 {
		return cacheBudgetNoLimit
	}
	return int(limit / cacheBudgetFraction)
}

func (c *householdCache) bound() int {
	if c.max == 0 {
		c.max = max(cacheBudget()/max(c.share, 1), minCachedBytes)
	}
	return c.max
}

func (c *householdCache) get(id string) ([]byte, bool) {
	v, ok := c.m[id]
	return v, ok
}

func cacheCost(id string, v []byte) int { return len(id) + cap(v) + cacheEntryOverhead }

var cacheSeed = maphash.MakeSeed()

func (c *householdCache) put(id string, v []byte) {
	if c.m == nil {
		c.m = make(map[string][]byte)
		c.once = make(map[uint64]struct{})
	}
	old, ok := c.m[id]
	if !ok {
		h := maphash.String(cacheSeed, id)
		if _, again := c.once[h]; !again {
			if len(c.once) >= c.bound()/(cacheEntryOverhead+256) {
				clear(c.once)
			}
			c.once[h] = struct{}{}
			return
		}
		delete(c.once, h)
	}
	if ok {
		c.bytes -= cacheCost(id, old)
	} else if c.bytes+cacheCost(id, v) > c.bound() {
		n := max(len(c.m)/10, 1)
		for k, old := range c.m {
			delete(c.m, k)
			c.bytes -= cacheCost(k, old)
			if n--; n == 0 {
				break
			}
		}
	}
	c.m[id] = v
	c.bytes += cacheCost(id, v)
}
