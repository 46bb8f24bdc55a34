package monitor

import (
	"encoding/binary"
	"hash/maphash"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"unsafe"
)

// householdCache keeps the stored form of a partition's recently used households, so that a
// household seen again is not read back from Badger. Only the partition's worker writes its
// households, and it puts a value here only after the store committed it, so the cache never
// holds what the store does not. It is bounded by bytes (values, keys and a per-entry overhead
// for the index): past the bound it forgets its oldest chunk of values.
//
// The values are copied into large chunks of bytes, written once and never again, and the index
// from a household's key hash to its place in a chunk holds no pointers: the collector marks a
// few dozen chunks instead of a value and a key string per household, and does not scan the
// index. With a value and a key per household, the cache was most of the objects live in the
// heap, and the collector's marking doubled over the throughput benchmark's run as the cache
// filled (docs/performance.md, eleventh round). A household put again is copied to the newest
// chunk, so the oldest chunk, forgotten first, holds the households least recently put. A
// household decoded from a chunk (household.DecodeImmutable) keeps that chunk alive until it is
// dropped, after its batch: a forgotten chunk is never written to again.
//
// The bound is the partition's share of a budget derived from the Go heap's soft limit
// (GOMEMLIMIT; `safetynet run` sets 448 MiB unless it is given): a quarter of the limit, shared
// by the partitions the instance owns (28 MiB per partition at 448 MiB and 4 partitions; a
// deployment takes GOMEMLIMIT from its container's limit, docs/operations.md). A fixed 16 MiB
// per partition held the benchmark's working set at 200,000 events but not at 1,000,000 (32,500
// households per partition grown to ~850 bytes each), and the households missing the cache
// were read back from Badger and decoded again (docs/performance.md).
//
// The budget gives way to the rest of the heap: the caches together hold at most what leaves
// a quarter of the limit free once everything else the last collection found live is counted
// (cacheBudget), and the bound is read again every boundEvery puts. While a large registry
// loaded, Badger's table builders held a few hundred MB and each household is put once or
// twice, so the caches only pushed the heap past the limit: since they give way, the peak RSS
// loading 1,000,000 households was 733–763 MiB in five runs of six, against 823–828 MiB
// (docs/performance.md, eighth round). The builders hold far less since the twelfth round.
type householdCache struct {
	// index: a household key's hash to where its latest value is; chunks: oldest first, the
	// first of generation first. Forgetting a chunk removes the index's places in it (shrink),
	// so every place the index holds is in a chunk still held.
	index  map[uint64]cacheLoc
	chunks []*cacheChunk
	first  uint32
	bytes  int
	// live is cacheCost summed over the records the index points to.
	live int
	// once holds a hash of each household put once and not yet cached: once the live records
	// fill the cache (the bound less a liveShare-th), a household enters it when it is put the
	// second time (a doorkeeper). Loading a registry, or any stream that touches each household
	// once, then takes no room from the households used again. It is cleared when it holds as
	// many hashes as the cache could hold households. While the cache has room, a household
	// is cached at its first put: nothing is forgotten for it, and its next event finds it
	// (the benchmark's hits 56% → 77%, docs/performance.md, twenty-second round).
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

// cacheLoc is where a household's latest value is: the record at off in the chunk of
// generation gen (the key's length, the key, then n bytes of value).
type cacheLoc struct {
	gen, off, n uint32
}

// cacheChunk is a run of records, appended to and never rewritten; hashes are the index keys
// of the records it holds, to unindex them when the chunk is forgotten.
type cacheChunk struct {
	b      []byte
	hashes []uint64
}

const (
	// cacheEntryOverhead is what an entry costs besides its key and value bytes: its index
	// slot (hash and place, control byte) with its share of the map's spare room, its hash in
	// its chunk's list, and the record's length prefix.
	cacheEntryOverhead = 48
	// cacheChunkBytes is the size of a chunk of values (a value larger than a chunk gets a
	// chunk of its own); at most a sixteenth of the bound, so forgetting the oldest chunk
	// forgets a small part of the cache.
	cacheChunkBytes = 1 << 20
	// cacheBudgetFraction of the soft memory limit goes to the household caches: a quarter
	// (112 MiB at the default 448 MiB). An eighth until the sixteenth round: a quarter had cost
	// CPU while a household of the benchmark took 1 KB (and in an early round 240 MiB more peak
	// RSS loading 1,000,000 households); with households of 700 bytes it gives 62–72% hits
	// against 52%, 30.5–32.0 CPU s per million events against 32.2–35.8 in three alternated
	// pairs, and 626 MiB of peak RSS loading 1,000,000 households against 602 MiB
	// (docs/performance.md).
	cacheBudgetFraction = 4
	// cacheBudgetNoLimit is the budget when no soft limit is set (tests, tools).
	cacheBudgetNoLimit = 80 << 20
	// minCachedBytes is the least a partition's cache may hold, whatever the limit.
	minCachedBytes = 4 << 20
	// cacheHeadroomFraction of the soft limit is kept free of the caches: the collector's room
	// once the rest of the live heap and the caches are counted.
	cacheHeadroomFraction = 4
	// liveShare: the cache's live records are kept to the bound less a liveShare-th of it, the
	// room for the garbage that accumulates between two chunks forgotten.
	liveShare = 8
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
// counts what they hold): a quarter of the soft limit, or less when the rest of the live heap
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
	h := maphash.String(cacheSeed, id)
	loc, ok := c.index[h]
	if !ok {
		return nil, false
	}
	b := c.chunks[loc.gen-c.first].b[loc.off:]
	k, n := binary.Uvarint(b)
	if n <= 0 || string(b[n:n+int(k)]) != id { // another key with the same hash
		return nil, false
	}
	b = b[n+int(k):]
	return b[:loc.n:loc.n], true
}

func cacheCost(id string, v []byte) int {
	return len(id) + len(v) + cacheEntryOverhead
}

var cacheSeed = maphash.MakeSeed()

// put caches a copy of v as id's value: at once while the cache has room, else once id was put
// before (the doorkeeper).
func (c *householdCache) put(id string, v []byte) {
	if c.index == nil {
		c.index = make(map[uint64]cacheLoc)
		c.once = make(map[uint64]struct{})
	}
	c.puts++
	bound := c.bound()
	h := maphash.String(cacheSeed, id)
	old, cached := c.index[h]
	cost := cacheCost(id, v)
	if !cached {
		_, again := c.once[h]
		if !again && c.live+cost > liveRoom(bound) {
			if len(c.once) >= bound/(cacheEntryOverhead+256) {
				clear(c.once)
			}
			c.once[h] = struct{}{}
			c.shrink(bound)
			return
		}
		delete(c.once, h) // cached now, by the room or the doorkeeper
	}
	if cost > bound {
		return
	}
	if cached {
		c.live -= cacheCost(c.record(old)) // its older copy is garbage now
	}
	c.append(h, id, v, cost, bound)
	c.shrink(bound)
}

// append writes id's record, of cacheCost cost, to the newest chunk (or a new one) and
// indexes it.
func (c *householdCache) append(h uint64, id string, v []byte, cost, bound int) {
	chunk := c.room(cost, bound)
	off := len(chunk.b)
	chunk.b = binary.AppendUvarint(chunk.b, uint64(len(id)))
	chunk.b = append(chunk.b, id...)
	chunk.b = append(chunk.b, v...)
	chunk.hashes = append(chunk.hashes, h)
	c.index[h] = cacheLoc{gen: c.first + uint32(len(c.chunks)-1), off: uint32(off), n: uint32(len(v))}
	c.add(cacheEntryOverhead)
	c.live += cost
}

// record is the key and value of the record at loc.
func (c *householdCache) record(loc cacheLoc) (string, []byte) {
	b := c.chunks[loc.gen-c.first].b[loc.off:]
	k, n := binary.Uvarint(b)
	return unsafe.String(&b[n], int(k)), b[n+int(k) : n+int(k)+int(loc.n) : n+int(k)+int(loc.n)]
}

// room returns the chunk the next record of cost bytes goes to: the newest, or a new one.
func (c *householdCache) room(cost, bound int) *cacheChunk {
	if n := len(c.chunks); n > 0 {
		if last := c.chunks[n-1]; cap(last.b)-len(last.b) >= cost {
			return last
		}
	}
	size := max(min(cacheChunkBytes, bound/16), cost)
	chunk := &cacheChunk{b: make([]byte, 0, size)}
	c.chunks = append(c.chunks, chunk)
	c.add(size)
	return chunk
}

// shrink forgets the oldest chunks while the cache holds more than bound (which may have
// shrunk since the last put), keeping the newest. A household whose latest record is in the
// chunk forgotten is copied to the newest chunk while the households cached hold no more than
// the bound less a liveShare-th of it, and forgotten otherwise: what a chunk loses is its garbage, the
// older copies of households put again since, and the households put least recently only
// once the live records fill the cache. Without the copy, a household's older copies took
// the room of other households: with the benchmark's 130,000 households touched at random,
// the cache held about 60% of the households it had room for.
func (c *householdCache) shrink(bound int) {
	keep := liveRoom(bound)
	// A round over as many chunks as the cache had frees every record that is garbage, so
	// more than that many copies in one call only moves live records round: stop copying.
	copies := len(c.chunks)
	for c.bytes > bound && len(c.chunks) > 1 {
		old, gen := c.chunks[0], c.first
		c.add(-cap(old.b) - len(old.hashes)*cacheEntryOverhead)
		for _, h := range old.hashes {
			loc, ok := c.index[h]
			if !ok || loc.gen != gen {
				continue // garbage, or already copied from this chunk
			}
			id, v := c.record(loc)
			cost := cacheCost(id, v)
			c.live -= cost
			if c.live+cost > keep || copies <= 0 {
				delete(c.index, h)
				continue
			}
			c.append(h, id, v, cost, bound) // the chunk is not the newest: len(c.chunks) > 1
		}
		copies--
		c.chunks[0] = nil
		c.chunks = c.chunks[1:]
		c.first++
	}
}

// liveRoom is what the live records of a cache of bound bytes are kept to: the bound less a
// liveShare-th of it.
func liveRoom(bound int) int { return bound - bound/liveShare }

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
	c.index, c.chunks, c.once, c.bytes, c.live = nil, nil, nil, 0, 0
}
