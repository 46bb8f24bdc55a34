/*
 * Added for safetynet (not in upstream Badger v4.9.6): see README.md.
 */

package badger

import (
	"math/bits"
	"sync/atomic"
)

// memFilter is a Bloom filter of the keys (without their versions) a memtable holds. A point
// read skips the skiplist of every memtable whose filter does not have its key: on a read of a
// key written long ago that is each memtable, and a skiplist search is a chain of cache misses
// through the memtable's arena. It gives false positives (a search that finds nothing, as
// before), never a false negative: a key's bits are set before the key enters the skiplist.
type memFilter struct {
	words []atomic.Uint64
	mask  uint32 // number of bits - 1; the number of bits is a power of two
}

// memFilterProbes is the number of bits a key sets. With one bit per eight bytes of memtable
// (a key and its skiplist node take well over eight bytes) a full memtable's filter has at
// least eight bits per key, and two probes answer "may have" for at most 5% of absent keys.
const memFilterProbes = 2

// newMemFilter sizes a filter for a memtable of memTableSize bytes: a power of two of bits, at
// least memTableSize/8, 8 KiB at the least.
func newMemFilter(memTableSize int64) *memFilter {
	n := max(uint64(memTableSize)/8, 1<<16)
	n = 1 << bits.Len64(n-1)
	n = min(n, 1<<32)
	return &memFilter{words: make([]atomic.Uint64, n/64), mask: uint32(n - 1)}
}

// add sets the bits of the key whose y.Hash (of the key without its version) is h.
func (f *memFilter) add(h uint32) {
	delta := h>>17 | h<<15
	for range memFilterProbes {
		i := h & f.mask
		f.words[i/64].Or(1 << (i % 64))
		h += delta
	}
}

// mayHave reports whether the memtable may hold the key whose y.Hash is h.
func (f *memFilter) mayHave(h uint32) bool {
	delta := h>>17 | h<<15
	for range memFilterProbes {
		i := h & f.mask
		if f.words[i/64].Load()&(1<<(i%64)) == 0 {
			return false
		}
		h += delta
	}
	return true
}
