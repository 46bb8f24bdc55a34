package intake

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/klauspost/compress/s2"

	"safetynet/state"
)

// The resend memory's store side. The event ids one batch forwards are written as one seen
// block (state.Batch.PutSeenBlock), not as a store entry per event: an entry per event was
// written, flushed and compacted by Badger level after level until its TTL ran out, 15% of the
// service's CPU per event (docs/performance.md, thirteenth round). Events marked one at a time
// (parked events, by the intake that parks them and by every parked-topic reader) keep their
// per-event marks (state.Tx.MarkSeen); they are few.
//
// The filter (seenfilter.go) answers "certainly new" for the common case. For a "maybe", the
// index below names the blocks whose ids may include the event's: each block keeps the sorted
// 32-bit fingerprints of its ids in memory (4 bytes an id, for the dedupe window), so a look-up
// reads only a block whose fingerprints match, and decides on the ids themselves. A fingerprint
// that matches by chance (one in 2^32 per id) costs one block read, never a wrong answer.

// A seen block in the store is a format byte, then the marks (appendMark) compressed with S2:
// agencies' event ids share long prefixes. Badger keeps values of a block's size in its value
// log, uncompressed and mapped into memory, so the bytes saved are resident memory too.
const seenBlockS2 = 1

// sealBlock is the stored form of a block's marks, in dst's array when it is large enough.
func sealBlock(dst, marks []byte) []byte {
	n := 1 + s2.MaxEncodedLen(len(marks))
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	dst[0] = seenBlockS2
	return dst[:1+len(s2.Encode(dst[1:], marks))]
}

// openBlock is the marks of a stored block, in dst's array when it is large enough.
func openBlock(dst, stored []byte) ([]byte, error) {
	if len(stored) == 0 || stored[0] != seenBlockS2 {
		return nil, errors.New("seen block of an unknown format")
	}
	marks, err := s2.Decode(dst[:cap(dst)], stored[1:])
	if err != nil {
		return nil, fmt.Errorf("seen block is corrupt: %w", err)
	}
	return marks, nil
}

// seenIndexMaxIDs bounds the index: 32 MiB of fingerprints. Past it the oldest blocks leave the
// index (not the store): a resend of one of their events is then forwarded again, and the
// monitor applies it once (household facts are a set), as after the loss of an instance's
// resend memory.
const seenIndexMaxIDs = 8 << 20

// seenBlockRef is one seen block as the index holds it.
type seenBlockRef struct {
	id    uint64
	until time.Time // the store has dropped the block before this
	fps   []uint32  // the fingerprints of its ids, sorted
}

// fingerprint is the index's 32 bits of a (feed, event id) hash.
func fingerprint(h uint64) uint32 { return uint32(h>>32) ^ uint32(h) }

// appendMark appends one (feed, event id) to a seen block.
func appendMark(b []byte, feedName, eventID string) []byte {
	b = binary.AppendUvarint(b, uint64(len(feedName)))
	b = append(b, feedName...)
	b = binary.AppendUvarint(b, uint64(len(eventID)))
	return append(b, eventID...)
}

// eachMark calls fn with every (feed, event id) of a seen block, until fn returns false.
func eachMark(block []byte, fn func(feedName, eventID []byte) bool) error {
	for len(block) > 0 {
		var parts [2][]byte
		for k := range parts {
			n, w := binary.Uvarint(block)
			if w <= 0 || uint64(len(block)-w) < n {
				return fmt.Errorf("seen block is corrupt (%d bytes left unread)", len(block))
			}
			parts[k], block = block[w:w+int(n)], block[w+int(n):]
		}
		if !fn(parts[0], parts[1]) {
			return nil
		}
	}
	return nil
}

// blockHas reports whether a seen block holds (feed, event id).
func blockHas(block []byte, feedName, eventID string) (bool, error) {
	found := false
	err := eachMark(block, func(f, id []byte) bool {
		found = string(f) == feedName && string(id) == eventID
		return !found
	})
	return found, err
}

// addForwarded puts the forwarded items of a batch in the filter (their seenHash, set by
// screen) and in a new seen block, with one reading of the clock and one hold of the lock. It
// returns the block's id and its bytes, appended to buf, for the caller to store
// (state.Batch.PutSeenBlock), no block (nil) when nothing was forwarded; and whether older
// blocks left the index for its bound (expireBlocksLocked). The block is in the
// index before it is in the store, as the marks are in the filter: no look-up after the store
// has it can miss it.
func (f *seenFilter) addForwarded(items []item, buf []byte) (id uint64, block []byte, overflowed bool) {
	now := f.now()
	until := now.Add(f.window + seenSlack)
	fps := make([]uint32, 0, len(items))
	block = buf[:0]
	for n := range items {
		if it := &items[n]; it.out == outForward {
			fps = append(fps, fingerprint(it.seenHash))
			block = appendMark(block, it.feed, it.ev.EventID)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for n := range items {
		if it := &items[n]; it.out == outForward {
			f.addLocked(it.seenHash, until, now)
		}
	}
	if len(fps) == 0 {
		return 0, nil, false
	}
	slices.Sort(fps)
	// Ids follow the wall clock, and always grow: a clock set back must not reuse an id, which
	// would overwrite that block.
	id = max(f.lastBlock+1, uint64(now.UnixNano()))
	f.lastBlock = id
	f.blocks = append(f.blocks, seenBlockRef{id: id, until: until, fps: fps})
	f.indexed += len(fps)
	return id, block, f.expireBlocksLocked(now)
}

// expireBlocksLocked drops, oldest first, the index's blocks the store has dropped, and those
// past the index's bound (seenIndexMaxIDs); it reports whether any went for the bound.
func (f *seenFilter) expireBlocksLocked(now time.Time) (overflowed bool) {
	n := 0
	for n < len(f.blocks) && (!now.Before(f.blocks[n].until) || f.indexed > f.maxIndexed) {
		overflowed = overflowed || now.Before(f.blocks[n].until)
		f.indexed -= len(f.blocks[n].fps)
		n++
	}
	f.blocks = slices.Delete(f.blocks, 0, n)
	return overflowed
}

// blocksFor appends to dst the ids of the blocks whose fingerprints include h's.
func (f *seenFilter) blocksFor(h uint64, dst []uint64) []uint64 {
	fp := fingerprint(h)
	f.mu.Lock()
	defer f.mu.Unlock()
	for k := range f.blocks {
		if _, found := slices.BinarySearch(f.blocks[k].fps, fp); found {
			dst = append(dst, f.blocks[k].id)
		}
	}
	return dst
}

// loadBlocks adds the store's seen blocks to the filter and the index; it returns the number
// of event ids they hold, and of blocks left out because they are damaged.
func (f *seenFilter) loadBlocks(store *state.Store, stop <-chan struct{}) (total, bad int, err error) {
	var loaded []seenBlockRef
	var buf []byte      // a block's marks, decoded
	var hashes []uint64 // a block's hashes
	err = store.EachSeenBlock(func(id uint64, block []byte, expiresAt uint64) error {
		select {
		case <-stop:
			return errLoadStopped
		default:
		}
		until := time.Unix(1<<62, 0) // no expiry (not written by PutSeenBlock)
		if expiresAt != 0 {
			until = time.Unix(int64(expiresAt)+1, 0)
		}
		// A damaged block is left out (its ids are forgotten: a resend of one of them is
		// forwarded again, and the monitor applies it once), not a reason to stop the load.
		marks, err := openBlock(buf, block)
		if err == nil {
			buf, hashes = marks, hashes[:0]
			err = eachMark(marks, func(feedName, eventID []byte) bool {
				hashes = append(hashes, f.hashBytes(feedName, eventID))
				return true
			})
		}
		if err != nil {
			bad++
			return nil
		}
		fps := make([]uint32, len(hashes))
		now := f.now()
		f.mu.Lock()
		for k, h := range hashes {
			f.addLocked(h, until, now)
			fps[k] = fingerprint(h)
		}
		f.mu.Unlock()
		slices.Sort(fps)
		total += len(fps)
		loaded = append(loaded, seenBlockRef{id: id, until: until, fps: fps})
		return nil
	})
	if err != nil {
		return total, bad, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	// Blocks written while this ran are in the index already, and may have been read too.
	byID := func(a, b seenBlockRef) int { return cmp.Compare(a.id, b.id) }
	f.blocks = append(loaded, f.blocks...)
	slices.SortStableFunc(f.blocks, byID)
	f.blocks = slices.CompactFunc(f.blocks, func(a, b seenBlockRef) bool { return a.id == b.id })
	f.indexed = 0
	for _, b := range f.blocks {
		f.indexed += len(b.fps)
	}
	if n := len(f.blocks); n > 0 {
		f.lastBlock = max(f.lastBlock, f.blocks[n-1].id)
	}
	f.expireBlocksLocked(f.now()) // a bound passed here is warned of by the next batch, which passes it too
	return total, bad, nil
}

// seenBlockReads keeps the seen blocks one batch's resend checks read, so that a burst of
// resends reads each block once.
type seenBlockReads map[uint64][]byte

// wasSeen is the resend check of one event the filter may hold (h is its hash): in the seen
// blocks whose fingerprints match, then among the per-event marks.
func (i *Intake) wasSeen(tx *state.Tx, feedName, eventID string, h uint64, reads seenBlockReads) (bool, error) {
	var small [4]uint64
	for _, id := range i.seen.blocksFor(h, small[:0]) {
		block, ok := reads[id]
		if !ok {
			stored, found, err := tx.SeenBlock(id)
			if err != nil {
				return false, err
			}
			if found {
				if block, err = openBlock(nil, stored); err != nil {
					i.damagedSeenBlock(id, err)
					block = nil
				}
			}
			reads[id] = block
		}
		found, err := blockHas(block, feedName, eventID)
		if err != nil {
			i.damagedSeenBlock(id, err)
			reads[id] = nil
			continue
		}
		if found {
			return true, nil
		}
	}
	return tx.Seen(feedName, eventID)
}

// damagedSeenBlock reports a seen block that does not read: the check goes on without it, as
// if its ids had been forgotten (a resend of one is forwarded again and applied once by the
// monitor), rather than stopping the feeds on the resend memory.
func (i *Intake) damagedSeenBlock(id uint64, err error) {
	i.log.Warn("a block of the resend memory is damaged and is skipped: resends of its events are forwarded again, and the monitor applies each event once", "block", id, "err", err)
}

// markForwarded remembers the event ids a batch forwarded: in the filter and the index, then in
// the store as one seen block.
func (i *Intake) markForwarded(items []item) error {
	id, marks, overflowed := i.seen.addForwarded(items, i.seenBlock)
	if marks == nil {
		return nil
	}
	// Both buffers are reused by the next batch: Badger has copied the block once Flush returns.
	i.seenBlock = marks[:0]
	i.seenSealed = sealBlock(i.seenSealed, marks)
	wb := i.store.NewBatch()
	defer wb.Cancel()
	if err := wb.PutSeenBlock(id, i.seenSealed, i.cfg.DedupeWindow); err != nil {
		return err
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("remember forwarded event ids: %w", err)
	}
	if overflowed && !i.seenOverflowLogged {
		i.seenOverflowLogged = true
		i.log.Warn("the resend memory's index is full: the oldest event ids left it (they stay in the store until the dedupe window ends); a resend of one of them is forwarded again and the monitor applies it once. A shorter SAFETYNET_DEDUPE_WINDOW keeps the index within bounds",
			"max_event_ids", i.seen.maxIndexed)
	}
	return nil
}
