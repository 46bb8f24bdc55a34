package monitor

import (
	"hash/maphash"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
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
//
// The budget gives way to the rest of the heap: the caches together hold at most what leaves
// a quarter of the limit free once everything else the last collection found live is counted
// (cacheBudget), and the bound is read again every boundEvery puts. While a large registry
// loads, Badger's table builders hold a few hundred MB and each household is put once or
// twice, so the caches only pushed the heap past the limit: since they give way, the peak RSS
// loading 1,000,000 households was 733–763 MiB in five runs of six, against 823–828 MiB
// (docs/performance.md, eighth round).
type householdCache struct {
	m     map[string][]byte
	bytes int
	// once holds a hash of each household put once and not yet cached: a household enters
	// the cache when it is put the second time (a doorkeeper). Loading a registry, or any
	// stream that touches each household once, then fills neither the cache nor the heap.
	// It is cleared when it holds as many hashes as the cache could hold households.
	once map[uint64]struct{}
	// share is the number of partitions the budget is split between (0 counts as 1); max, when
	// set, is the bound in bytes (tests), else limit is, read again every boundEvery puts.
	share int
	max   int
	limit int
	puts  int
	// held counts the bytes of every cache of the process (cachedBytes; nil counts there too).
	held *atomic.Int64
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
	// cacheHeadroomFraction of the soft limit is kept free of the caches: the collector's room
	// once the rest of the live heap and the caches are counted.
	cacheHeadroomFraction = 4
	// boundEvery puts, a cache reads its bound again (a read of the runtime's metrics).
	boundEvery = 256
)

// cachedBytes is what every household cache of the process holds, in bytes.
var cachedBytes atomic.Int64

// liveHeap is the heap the last collection found live, in bytes (a variable for tests).
var liveHeap = func() int64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}

// cacheBudget is the bytes all the household caches of the process may hold together (cached
// counts what they hold): an eighth of the soft limit, or less when the rest of the live heap
// leaves less than that before only a quarter of the limit is free.
func cacheBudget(cached *atomic.Int64) int {
	limit := debug.SetMemoryLimit(-1) // reads the limit without changing it
	if limit <= 0 || limit == math.MaxInt64 {
		return cacheBudgetNoLimit
	}
	budget := limit / cacheBudgetFraction
	others := liveHeap() - cached.Load()
	if room := limit - limit/cacheHeadroomFraction - others; room < budget {
		budget = max(room, 0)
	}
	return int(budget)
}

func (c *householdCache) bound() int {
	if c.max > 0 {
		return c.max
	}
	if c.limit == 0 || c.puts%boundEvery == 0 {
		c.limit = max(cacheBudget(c.counter())/max(c.share, 1), minCachedBytes)
	}
	return c.limit
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
	c.puts++
	bound := c.bound()
	if old, ok := c.m[id]; ok {
		delete(c.m, id)
		c.add(-cacheCost(id, old))
	} else {
		h := maphash.String(cacheSeed, id)
		if _, again := c.once[h]; !again {
			if len(c.once) >= bound/(cacheEntryOverhead+256) {
				clear(c.once)
			}
			c.once[h] = struct{}{}
			return
		}
		delete(c.once, h)
	}
	cost := cacheCost(id, v)
	if cost > bound {
		return
	}
	// Past the bound (which may have shrunk since the last put), forget a tenth of the
	// entries at a time until the value fits.
	for c.bytes+cost > bound && len(c.m) > 0 {
		n := max(len(c.m)/10, 1)
		for k, old := range c.m {
			delete(c.m, k)
			c.add(-cacheCost(k, old))
			if n--; n == 0 {
				break
			}
		}
	}
	c.m[id] = v
	c.add(cost)
}

func (c *householdCache) add(n int) {
	c.bytes += n
	c.counter().Add(int64(n))
}

func (c *householdCache) counter() *atomic.Int64 {
	if c.held == nil {
		return &cachedBytes
	}
	return c.held
}

// release forgets every entry: the partition's worker has stopped.
func (c *householdCache) release() {
	c.counter().Add(-int64(c.bytes))
	c.m, c.once, c.bytes = nil, nil, 0
}
