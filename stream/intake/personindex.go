package intake

import (
	"encoding/hex"
	"errors"
	"safetynet/stream/feed"
	"sync"
	"sync/atomic"

	"safetynet/state"
)

// personIndex is an in-memory copy of the person table's answer to the one question intake asks
// of it for every event: which household does this person key belong to. It is loaded from the
// store in the background at start; until the load finishes, a key it does not hold is looked
// up in the store. Every method is called with the intake's parkMu held, the same lock under
// which the registry reader changes the table, so the index and the table change together.
//
// Keys are the 16 bytes of the hex person key (about 60 bytes per person with the map's
// overhead and the household id, against about 100 for string keys).
type personIndex struct {
	m      map[[16]byte]string // household per person; "" for a person who left
	loaded atomic.Bool         // every row of the store is in m (or newer)
}

func newPersonIndex() *personIndex {
	return &personIndex{m: make(map[[16]byte]string)}
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
	if hh, ok := x.m[k]; ok {
		return hh, true
	}
	return "", x.loaded.Load()
}

// set records a row the caller just committed to the store.
func (x *personIndex) set(personKey, householdID string) {
	if k, ok := indexKey(personKey); ok { // lookup leaves any other key to the store
		x.m[k] = householdID
	}
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
			if _, ok := x.m[r.k]; !ok {
				x.m[r.k] = r.hh
			}
		}
		mu.Unlock()
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
