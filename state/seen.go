package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// SeenKey is the store key remembering that the event (feed, eventID) was handled.
func SeenKey(feed, eventID string) []byte {
	k := make([]byte, 0, 3+len(feed)+len(eventID))
	k = append(k, kindSeen, '/')
	k = append(k, feed...)
	k = append(k, 0)
	return append(k, eventID...)
}

// seenValue is the value of every seen mark (Badger copies values into its memtable and never
// writes into them, so one slice serves every mark).
var seenValue = []byte{1}

// MarkSeen remembers (feed, eventID) for ttl, on the batch. Badger drops the key once
// the TTL has passed.
func (b *Batch) MarkSeen(feed, eventID string, ttl time.Duration) error {
	wb := b.wb
	e := badger.NewEntry(SeenKey(feed, eventID), seenValue).WithTTL(ttl)
	if err := wb.SetEntry(e); err != nil {
		return fmt.Errorf("mark event seen: %w", err)
	}
	return nil
}

// Seen reports, inside the transaction, whether (feed, eventID) was marked within its TTL.
func (t *Tx) Seen(feed, eventID string) (bool, error) {
	txn := t.txn
	_, err := txn.Get(SeenKey(feed, eventID))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read seen event: %w", err)
	}
	return true, nil
}

// EachSeen calls fn with every event marked seen and not yet expired, and the Unix second its
// mark expires (0 for none), from one snapshot of the table. The slices are valid only during
// the call.
func (s *Store) EachSeen(fn func(feed, eventID []byte, expiresAt uint64) error) error {
	prefix := []byte{kindSeen, '/'}
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			k := item.Key()[len(prefix):]
			sep := bytes.IndexByte(k, 0)
			if sep < 0 {
				continue // not written by MarkSeen
			}
			if err := fn(k[:sep], k[sep+1:], item.ExpiresAt()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read seen table: %w", err)
	}
	return nil
}

// Seen blocks: the event ids one batch forwarded, in one entry. A mark per event made an entry
// per event that Badger wrote, flushed and compacted level after level until its TTL ran out:
// 15% of the service's CPU in the throughput run (docs/performance.md, thirteenth round). The
// caller (stream/intake) encodes the block and keeps the index that finds the blocks an id may
// be in; the store keeps the bytes opaque.

// seenBlockPrefix is the first two bytes of every seen block's key.
var seenBlockPrefix = []byte{kindSeenBlock, '/'}

// SeenBlockKey is the store key of seen block id: its ids sort in the order they are written.
func SeenBlockKey(id uint64) []byte {
	return binary.BigEndian.AppendUint64(bytes.Clone(seenBlockPrefix), id)
}

// PutSeenBlock stores seen block id on the batch for ttl. Badger drops it once the TTL has
// passed.
func (b *Batch) PutSeenBlock(id uint64, block []byte, ttl time.Duration) error {
	if err := b.wb.SetEntry(badger.NewEntry(SeenBlockKey(id), block).WithTTL(ttl)); err != nil {
		return fmt.Errorf("write seen block: %w", err)
	}
	return nil
}

// SeenBlock reads seen block id inside the transaction; found is false once it has expired.
func (t *Tx) SeenBlock(id uint64) (block []byte, found bool, err error) {
	v, err := t.get(SeenBlockKey(id))
	if err != nil {
		return nil, false, fmt.Errorf("read seen block: %w", err)
	}
	return v, v != nil, nil
}

// EachSeenBlock calls fn with every seen block not yet expired, in the order of their ids, and
// the Unix second each expires (0 for none), from one snapshot of the store. block is valid only
// during the call.
func (s *Store) EachSeenBlock(fn func(id uint64, block []byte, expiresAt uint64) error) error {
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: seenBlockPrefix, PrefetchValues: false})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			k := item.Key()[len(seenBlockPrefix):]
			if len(k) != 8 {
				continue // not written by PutSeenBlock
			}
			err := item.Value(func(v []byte) error {
				return fn(binary.BigEndian.Uint64(k), v, item.ExpiresAt())
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read seen blocks: %w", err)
	}
	return nil
}
