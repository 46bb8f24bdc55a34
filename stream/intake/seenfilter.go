package intake

import (
	"hash/maphash"
	"sync"
	"time"

	"safetynet/state"
)

// seenFilter answers the resend check's common case, an event id this instance never marked
// seen, from memory: a Bloom filter of the (feed, event id) pairs of the instance's resend
// memory in the store (its seen blocks, seenblocks.go, and its per-event marks, the seen
// table). "Not in the filter" is exact: every mark goes into the filter before it is written to
// the store (markSeen, markForwarded), so an id absent from the filter is absent from the store.
// "Maybe" sends the caller to the store (wasSeen): a false positive costs a read, never a wrong
// answer. The filter also holds the index of the seen blocks (seenblocks.go).
//
// The filter mirrors this instance's store and nothing else: what the store holds after a
// restart (loaded in the background at start, load; until then every answer is "maybe", and the
// intake's group waits for it), after a rebalance (the memory is per instance: a partition that
// moves here brings no marks, here or in the filter) and with the parked reader's marks (every
// parked event, whoever parked it).
//
// Memory is fixed: two generations of seenFilterBytes/2 each. Marks go into the current one;
// when the previous one holds only marks whose time-to-live has passed (its until), it is
// cleared and becomes the current one. Marks are never removed one by one: an expired mark
// still in a generation only makes a false positive. When more ids arrive within a dedupe window
// than the filter was sized for, false positives rise and more look-ups go to the store; the
// answers stay exact.
type seenFilter struct {
	seed   maphash.Seed
	window time.Duration
	now    func() time.Time // wallNow; tests set their own

	mu     sync.Mutex
	cur    *bloomGen
	prev   *bloomGen
	loaded bool // every mark of the table is in the filter (or newer)
	// blocks index the seen blocks by fingerprint, oldest first (seenblocks.go); lastBlock is
	// the newest block's id.
	blocks     []seenBlockRef
	lastBlock  uint64
	indexed    int // fingerprints in blocks
	maxIndexed int // the bound on indexed (seenIndexMaxIDs)
}

// seenFilterBytes is the memory of the filter (both generations): 16 MiB, 8 MiB a generation,
// which holds about 4 million marks at a 0.1% false-positive rate and 6 million at 1%
// (TestSeenFilterFalsePositives). A generation holds at least one dedupe window of marks.
const seenFilterBytes = 16 << 20

// seenSlack covers the time between a mark entering the filter and its store entry taking its
// expiry (Badger sets it when the entry is made, microseconds later), with room to spare.
const seenSlack = time.Minute

func newSeenFilter(bytes int, window time.Duration) *seenFilter {
	blocks := max(bytes/2/bloomBlockBytes, 1)
	return &seenFilter{
		seed: maphash.MakeSeed(), window: window, now: wallNow,
		cur: newBloomGen(blocks), prev: newBloomGen(blocks), maxIndexed: seenIndexMaxIDs,
	}
}

// hash of a (feed, event id) pair.
func (f *seenFilter) hash(feed, eventID string) uint64 {
	var h maphash.Hash
	h.SetSeed(f.seed)
	h.WriteString(feed)
	h.WriteByte(0)
	h.WriteString(eventID)
	return h.Sum64()
}

// hashBytes is hash of the same pair held in byte slices (maphash hashes bytes and strings
// alike).
func (f *seenFilter) hashBytes(feed, eventID []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(f.seed)
	h.Write(feed)
	h.WriteByte(0)
	h.Write(eventID)
	return h.Sum64()
}

// mayHave reports whether (feed, eventID) may be in the seen table; false is exact.
func (f *seenFilter) mayHave(feed, eventID string) bool {
	h := f.hash(feed, eventID)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mayHaveLocked(h)
}

// mayHaveLocked is mayHave of a hash, with the lock held.
func (f *seenFilter) mayHaveLocked(h uint64) bool { return !f.loaded || f.cur.has(h) || f.prev.has(h) }

// add records that (feed, eventID) is about to be marked seen for the dedupe window. It must be
// called before the mark is written (Batch.MarkSeen, Tx.MarkSeen), so that no look-up after the
// store has the mark can miss it in the filter.
func (f *seenFilter) add(feed, eventID string) {
	f.addHash(f.hash(feed, eventID), f.now().Add(f.window+seenSlack))
}

// addHash puts h in the current generation, whose marks then live at least until until.
func (f *seenFilter) addHash(h uint64, until time.Time) {
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.addLocked(h, until, now)
}

// addLocked is addHash with the lock held and the clock read.
func (f *seenFilter) addLocked(h uint64, until, now time.Time) {
	if f.cur.n > 0 && !now.Before(f.prev.until) && !now.Before(f.cur.first.Add(f.window)) {
		f.prev.reset()
		f.cur, f.prev = f.prev, f.cur
	}
	g := f.cur
	if g.n == 0 {
		g.first = now
	}
	g.n++
	if until.After(g.until) {
		g.until = until
	}
	g.set(h)
}

// load adds the marks of the store's seen table and its seen blocks (seenblocks.go), then
// answers from memory; it returns the number of event ids read, and of seen blocks left out
// because they do not read. Marks made while it runs go in by add and addForwarded. stop ends
// it early (the filter keeps answering "maybe").
func (f *seenFilter) load(store *state.Store, stop <-chan struct{}) (n, damaged int, err error) {
	var until time.Time
	err = store.EachSeen(func(feed, eventID []byte, expiresAt uint64) error {
		if n%4096 == 0 {
			select {
			case <-stop:
				return errLoadStopped
			default:
			}
		}
		n++
		if expiresAt == 0 { // no expiry (not written by MarkSeen): keep its generation for ever
			until = time.Unix(1<<62, 0)
		} else {
			until = time.Unix(int64(expiresAt)+1, 0)
		}
		f.addHash(f.hashBytes(feed, eventID), until)
		return nil
	})
	if err != nil {
		return n, 0, err
	}
	inBlocks, damaged, err := f.loadBlocks(store, stop)
	n += inBlocks
	if err != nil {
		return n, damaged, err
	}
	f.mu.Lock()
	f.loaded = true
	f.mu.Unlock()
	return n, damaged, nil
}

// markSeen puts (feed, eventID) in the filter, then marks it seen on the store batch.
func (i *Intake) markSeen(wb *state.Batch, feed, eventID string) error {
	i.seen.add(feed, eventID)
	return wb.MarkSeen(feed, eventID, i.cfg.DedupeWindow)
}

// markSeenTx is markSeen inside a transaction.
func (i *Intake) markSeenTx(tx *state.Tx, feed, eventID string) error {
	i.seen.add(feed, eventID)
	return tx.MarkSeen(feed, eventID, i.cfg.DedupeWindow)
}

// screen sets the seenHash of every item not dead-lettered, and its maybeSeen: false when the
// event is certainly not in the seen table. One hold of the lock for the batch.
func (f *seenFilter) screen(items []item) {
	for n := range items {
		if it := &items[n]; it.out != outDeadLetter {
			it.seenHash = f.hash(it.feed, it.ev.EventID)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for n := range items {
		if it := &items[n]; it.out != outDeadLetter {
			it.maybeSeen = f.mayHaveLocked(it.seenHash)
		}
	}
}

// wallNow is the wall clock without its monotonic reading: the filter compares times as Badger
// does when it expires a mark, so that a clock set back keeps marks longer in both.
func wallNow() time.Time { return time.Now().Round(0) }

// A split-block Bloom filter (as Parquet's): each id sets one bit in each of the eight 32-bit
// words of one 32-byte block, so a look-up reads one cache line.
const bloomBlockBytes = 32

type bloomGen struct {
	blocks [][8]uint32
	n      int       // marks added since the last reset
	first  time.Time // when the first of them was added
	until  time.Time // every mark added expires in the store before this
}

func newBloomGen(blocks int) *bloomGen { return &bloomGen{blocks: make([][8]uint32, blocks)} }

var bloomSalt = [8]uint32{0x47b6137b, 0x44974d91, 0x8824ad5b, 0xa2b7289d, 0x705495c7, 0x2df1424b, 0x9efc4947, 0x5c6bfb31}

func (g *bloomGen) block(h uint64) *[8]uint32 {
	i := (h >> 32) * uint64(len(g.blocks)) >> 32 // the high half picks the block, the low half the bits
	return &g.blocks[i]
}

func (g *bloomGen) set(h uint64) {
	b := g.block(h)
	k := uint32(h)
	for j := range b {
		b[j] |= 1 << ((k * bloomSalt[j]) >> 27)
	}
}

func (g *bloomGen) has(h uint64) bool {
	b := g.block(h)
	k := uint32(h)
	for j := range b {
		if b[j]&(1<<((k*bloomSalt[j])>>27)) == 0 {
			return false
		}
	}
	return true
}

func (g *bloomGen) reset() {
	clear(g.blocks)
	g.n, g.first, g.until = 0, time.Time{}, time.Time{}
}
