package intake

import (
	"encoding/hex"
	"errors"
	"hash/maphash"
	"safetynet/stream/feed"
	"sync"
	"sync/atomic"
	"unsafe"

	"safetynet/state"
)

// personIndex is an in-memory copy of the person table's answer to the one question intake asks
// of it for every event: which household does this person key belong to. It is loaded from the
// store in the background at start; until the load finishes, a key it does not hold is looked
// up in the store. Every method is called with the intake's parkMu held, the same lock under
// which the registry reader changes the table, so the index and the table change together.
//
// Keys are the 16 bytes of the hex person key; values are 4-byte references to the household id
// in an append-only arena (householdIDs), where persons of a household recently added share one
// copy. About 35 bytes per person with the map's spare room (1.65 M persons: ~58 MB), against
// about 64 for a map to Go strings, each household id a separate allocation (~105 MB;
// docs/performance.md).
type personIndex struct {
	m      map[[16]byte]uint32 // household per person: an arena reference; noHousehold for a person who left
	ids    householdIDs
	long   map[[16]byte]string // households whose id is too long for the arena (not made by intake's decoder)
	loaded atomic.Bool         // every row of the store is in m (or newer)
	// replaced counts the entries given another household since the arena was last compacted:
	// each may have left a record that nothing refers to.
	replaced int
}

const (
	noHousehold uint32 = 0              // the person left their household
	longID      uint32 = 1<<32 - 1      // the id is in long
	maxArenaID         = 255            // longest id the arena holds (one length byte; feed.MaxIDLen is 128)
	arenaChunk         = 64 << 10       // bytes per arena chunk
	arenaMax           = longID - 1     // references stay below longID
	recentIDs          = 4096           // ids remembered for sharing, a power of two
	minCompact         = 4096           // least replaced entries before the arena is compacted
	chunkShift         = 16             // log2(arenaChunk)
	chunkMask          = arenaChunk - 1 // position within a chunk
)

func newPersonIndex() *personIndex {
	return &personIndex{m: make(map[[16]byte]uint32)}
}

// householdIDs is an append-only arena of household ids, each a length byte and the id's bytes,
// in chunks that never move: an id is read back as a string pointing into its chunk, without an
// allocation, and stays valid after the arena is replaced (the chunk lives while it is used).
// A reference is the record's position plus one (chunk number << chunkShift | offset), so that
// zero is free for noHousehold. recent remembers where ids were recently written, by hash, so
// that the members of a household added together share one record.
type householdIDs struct {
	chunks [][]byte
	recent [recentIDs]uint32
	seed   maphash.Seed
}

// add returns a reference to id, writing it unless a recent record holds the same bytes; false
// when the arena is full (4 GiB of ids).
func (a *householdIDs) add(id string) (uint32, bool) {
	if a.chunks == nil {
		a.seed = maphash.MakeSeed()
	}
	slot := &a.recent[maphash.String(a.seed, id)&(recentIDs-1)]
	if *slot != noHousehold && a.get(*slot) == id {
		return *slot, true
	}
	n := len(a.chunks)
	if n == 0 || len(a.chunks[n-1])+1+len(id) > arenaChunk {
		if uint64(n+1)<<chunkShift >= uint64(arenaMax) {
			return 0, false
		}
		a.chunks = append(a.chunks, make([]byte, 0, arenaChunk))
		n++
	}
	c := a.chunks[n-1]
	ref := uint32((n-1)<<chunkShift|len(c)) + 1
	c = append(c, byte(len(id)))
	a.chunks[n-1] = append(c, id...)
	*slot = ref
	return ref, true
}

// get returns the id at ref, sharing the arena's bytes.
func (a *householdIDs) get(ref uint32) string {
	ref--
	c := a.chunks[ref>>chunkShift]
	at := int(ref & chunkMask)
	n := int(c[at])
	if n == 0 {
		return ""
	}
	return unsafe.String(&c[at+1], n)
}

// bytes is the arena's size.
func (a *householdIDs) bytes() int {
	if len(a.chunks) == 0 {
		return 0
	}
	return (len(a.chunks)-1)*arenaChunk + len(a.chunks[len(a.chunks)-1])
}

// indexKey parses a person key; false for one not in PersonKeyHexLen hex digits (never made by
// Pseudonymizer.Key: such keys are left to the store).
func indexKey(personKey string) ([16]byte, bool) {
	var k [16]byte
	if len(personKey) != feed.PersonKeyHexLen {
		return k, false
	}
	if _, err := hex.Decode(k[:], []byte(personKey)); err != nil {
		return k, false
	}
	return k, true
}

// lookup returns the household of a person ("" when the person is unknown or left) and whether
// that answer is definitive; false means the caller must ask the store.
func (x *personIndex) lookup(personKey string) (string, bool) {
	k, ok := indexKey(personKey)
	if !ok {
		return "", false
	}
	if ref, ok := x.m[k]; ok {
		return x.household(k, ref), true
	}
	return "", x.loaded.Load()
}

// noRow reports whether the person table certainly has no row for personKey: the index is
// loaded, holds every row of the table (a person who left among them), and holds none for the
// key. The registry reader then needs no read of the store for a person it has not seen, as
// for nearly every person of a registry loaded into an empty table.
func (x *personIndex) noRow(personKey string) bool {
	k, ok := indexKey(personKey)
	if !ok || !x.loaded.Load() {
		return false
	}
	_, held := x.m[k]
	return !held
}

func (x *personIndex) household(k [16]byte, ref uint32) string {
	switch ref {
	case noHousehold:
		return ""
	case longID:
		return x.long[k]
	}
	return x.ids.get(ref)
}

// set records a row the caller just committed to the store.
func (x *personIndex) set(personKey, householdID string) {
	if k, ok := indexKey(personKey); ok { // lookup leaves any other key to the store
		x.put(k, householdID, true)
	}
}

// put sets k's household; when !replace, a row already held is newer and kept.
func (x *personIndex) put(k [16]byte, householdID string, replace bool) {
	old, held := x.m[k]
	if held && (!replace || x.household(k, old) == householdID) {
		return
	}
	if old == longID {
		delete(x.long, k)
	}
	ref := noHousehold
	if householdID != "" {
		var ok bool
		if len(householdID) <= maxArenaID {
			ref, ok = x.ids.add(householdID)
		}
		if !ok {
			if x.long == nil {
				x.long = make(map[[16]byte]string)
			}
			x.long[k] = householdID
			ref = longID
		}
	}
	x.m[k] = ref
	if held && old != noHousehold && old != longID {
		x.replaced++
		if x.replaced >= max(len(x.m)/2, minCompact) {
			x.compact()
		}
	}
}

// compact copies the ids still referred to into a new arena, leaving behind the records of
// persons who moved or left; persons who shared a record share its copy. It runs when as many
// entries changed household as half the index holds, so its cost per change is constant and
// the arena stays within about twice what it needs.
func (x *personIndex) compact() {
	var fresh householdIDs
	moved := make(map[uint32]uint32)
	for k, ref := range x.m {
		if ref == noHousehold || ref == longID {
			continue
		}
		r, ok := moved[ref]
		if !ok {
			// The fresh arena holds at most the old one's live records: it cannot be full.
			r, _ = fresh.add(x.ids.get(ref))
			moved[ref] = r
		}
		x.m[k] = r
	}
	x.ids = fresh
	x.replaced = 0
}

// loadChunk is how many rows the loader adds per hold of the lock.
const loadChunk = 4096

// load fills the index from the store's table, taking mu (the intake's parkMu) for each chunk
// of rows. A row already in the index was set by the registry reader after the snapshot the
// load reads, so it is newer and kept. stop ends the load early (the index stays unloaded).
func (x *personIndex) load(store *state.Store, mu *sync.Mutex, stop <-chan struct{}) error {
	type row struct {
		k  [16]byte
		hh string
	}
	chunk := make([]row, 0, loadChunk)
	flush := func() {
		mu.Lock()
		for _, r := range chunk {
			x.put(r.k, r.hh, false)
		}
		mu.Unlock()
		clear(chunk)
		chunk = chunk[:0]
	}
	err := store.EachPerson(func(personKey, householdID string) error {
		select {
		case <-stop:
			return errLoadStopped
		default:
		}
		k, ok := indexKey(personKey)
		if !ok {
			return nil // lookup leaves such a key to the store
		}
		chunk = append(chunk, row{k, householdID})
		if len(chunk) == loadChunk {
			flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	flush()
	x.loaded.Store(true)
	return nil
}

var errLoadStopped = errors.New("person index load stopped")
