package state

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Parked is an event held until the registry names its person. The caller encodes Event (the
// canonical, pseudonymised event) and Sealed (the original record, encrypted by the caller so that
// no resident ID number is stored in the clear); the store only keeps them.
type Parked struct {
	ParkedAt time.Time `json:"parked_at"`
	Feed     string    `json:"feed"`
	EventID  string    `json:"event_id"`
	Event    []byte    `json:"event"`
	Sealed   []byte    `json:"sealed"`
}

var parkedPrefix = []byte{kindParked, '/'}

// The time index: a second key per parked event, parkedAtPrefix + parked-at time (unix
// nanoseconds, big-endian) + the event's ParkedKey, with no value. A sweep reads only the events
// that are due, oldest first, instead of every parked event.
var parkedAtPrefix = []byte{kindParked, '@'}

// parkedIndexBuilt marks a state directory whose parked events are all in the time index
// (directories written before the index get it once, at IndexParked).
var parkedIndexBuilt = []byte{kindMeta, '/', 'p', 'a', 't'}

func parkedAtKey(at time.Time, key []byte) []byte {
	k := make([]byte, 0, len(parkedAtPrefix)+8+len(key))
	k = append(k, parkedAtPrefix...)
	k = binary.BigEndian.AppendUint64(k, uint64(max(at.UnixNano(), 0)))
	return append(k, key...)
}

// ParkedKey is the store key of one parked event: person key, feed, event id. A redelivered event
// parks under the same key, so parking is idempotent.
func ParkedKey(personKey, feed, eventID string) []byte {
	k := parkedPersonPrefix(personKey)
	k = append(k, feed...)
	k = append(k, 0)
	return append(k, eventID...)
}

func parkedPersonPrefix(personKey string) []byte {
	k := make([]byte, 0, 4+len(personKey)+32)
	k = append(k, parkedPrefix...)
	k = append(k, personKey...)
	return append(k, 0)
}

// PutParked parks an event for personKey on the batch, with its time-index entry, and returns
// the bytes it takes (key and value, as ParkedEntry.Size counts them).
func (b *Batch) PutParked(personKey string, p Parked) (int, error) {
	wb := b.wb
	v, err := json.Marshal(p)
	if err != nil {
		return 0, fmt.Errorf("encode parked event: %w", err)
	}
	k := ParkedKey(personKey, p.Feed, p.EventID)
	if err := wb.Set(k, v); err != nil {
		return 0, fmt.Errorf("park event: %w", err)
	}
	if err := wb.Set(parkedAtKey(p.ParkedAt, k), nil); err != nil {
		return 0, fmt.Errorf("index parked event: %w", err)
	}
	return len(k) + len(v), nil
}

// ParkedEntry is a parked event with its key, for deleting it once handled.
type ParkedEntry struct {
	Key       []byte
	PersonKey string
	// Size is the bytes the entry takes in the store (key and value).
	Size int
	Parked
}

// ParkedFor lists, inside the transaction, the events parked for personKey.
func (t *Tx) ParkedFor(personKey string) ([]ParkedEntry, error) {
	return t.scanParked(parkedPersonPrefix(personKey), func(Parked) bool { return true })
}

// ParkedBefore lists, inside the transaction, the events parked before t, oldest first (at most
// limit; 0 for all). It reads the time index: only the events that are due.
func (t *Tx) ParkedBefore(before time.Time, limit int) ([]ParkedEntry, error) {
	txn := t.txn
	var out []ParkedEntry
	it := txn.NewIterator(badger.IteratorOptions{Prefix: parkedAtPrefix})
	defer it.Close()
	for it.Rewind(); it.Valid() && (limit <= 0 || len(out) < limit); it.Next() {
		ik := it.Item().Key()
		if len(ik) < len(parkedAtPrefix)+8 {
			continue
		}
		at := int64(binary.BigEndian.Uint64(ik[len(parkedAtPrefix):]))
		if at >= before.UnixNano() {
			break
		}
		k := bytes.Clone(ik[len(parkedAtPrefix)+8:])
		item, err := txn.Get(k)
		if errors.Is(err, badger.ErrKeyNotFound) {
			continue // the event was parked again later (its newer index entry counts)
		}
		if err != nil {
			return nil, fmt.Errorf("read parked event: %w", err)
		}
		e, err := parkedEntry(item, k)
		if err != nil {
			return nil, err
		}
		if e.ParkedAt.UnixNano() != at {
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

// ParkedAfter lists, inside the transaction, up to limit parked events in key order (by
// person), starting after the key after (nil: from the first). It pages through every parked
// event without holding them all.
func (t *Tx) ParkedAfter(after []byte, limit int) ([]ParkedEntry, error) {
	txn := t.txn
	var out []ParkedEntry
	it := txn.NewIterator(badger.IteratorOptions{Prefix: parkedPrefix, PrefetchValues: true, PrefetchSize: 64})
	defer it.Close()
	start := parkedPrefix
	if after != nil {
		start = append(bytes.Clone(after), 0)
	}
	for it.Seek(start); it.Valid() && len(out) < limit; it.Next() {
		e, err := parkedEntry(it.Item(), it.Item().KeyCopy(nil))
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func parkedEntry(item *badger.Item, k []byte) (ParkedEntry, error) {
	var p Parked
	if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &p) }); err != nil {
		return ParkedEntry{}, fmt.Errorf("decode parked event: %w", err)
	}
	person := k[len(parkedPrefix):]
	if i := bytes.IndexByte(person, 0); i >= 0 {
		person = person[:i]
	}
	return ParkedEntry{Key: k, PersonKey: string(person), Size: len(k) + int(item.ValueSize()), Parked: p}, nil
}

func (t *Tx) scanParked(prefix []byte, keep func(Parked) bool) ([]ParkedEntry, error) {
	txn := t.txn
	var out []ParkedEntry
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 64})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		e, err := parkedEntry(it.Item(), it.Item().KeyCopy(nil))
		if err != nil {
			return nil, err
		}
		if keep(e.Parked) {
			out = append(out, e)
		}
	}
	return out, nil
}

// DeleteParked removes parked events by key, with their time-index entries, inside the
// transaction.
func (t *Tx) DeleteParked(keys ...[]byte) error {
	txn := t.txn
	for _, k := range keys {
		item, err := txn.Get(k)
		if errors.Is(err, badger.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read parked event: %w", err)
		}
		e, err := parkedEntry(item, k)
		if err != nil {
			return err
		}
		if err := txn.Delete(parkedAtKey(e.ParkedAt, k)); err != nil {
			return fmt.Errorf("delete parked event: %w", err)
		}
		if err := txn.Delete(k); err != nil {
			return fmt.Errorf("delete parked event: %w", err)
		}
	}
	return nil
}

// CountParked counts the parked events.
func (s *Store) CountParked() (int, error) {
	n, _, err := s.ParkedUsage()
	return n, err
}

// ParkedUsage counts the parked events and the bytes they take (keys and values, as
// ParkedEntry.Size counts them).
func (s *Store) ParkedUsage() (n int, size int64, err error) {
	err = s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: parkedPrefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
			size += int64(len(it.Item().Key())) + it.Item().ValueSize()
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("count parked events: %w", err)
	}
	return n, size, nil
}

// IndexParked puts every parked event in the time index, once per state directory: events
// parked by a build without the index would otherwise never be swept. It returns how many it
// indexed (0 when the directory already has the index).
func (s *Store) IndexParked() (int, error) {
	done := false
	err := s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(parkedIndexBuilt)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		done = err == nil
		return err
	})
	if err != nil || done {
		return 0, err
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	n := 0
	err = s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: parkedPrefix, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			e, err := parkedEntry(it.Item(), it.Item().KeyCopy(nil))
			if err != nil {
				return err
			}
			if err := wb.Set(parkedAtKey(e.ParkedAt, e.Key), nil); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err == nil {
		err = wb.Set(parkedIndexBuilt, []byte{1})
	}
	if err == nil {
		err = wb.Flush()
	}
	if err != nil {
		return 0, fmt.Errorf("index parked events by time: %w", err)
	}
	return n, nil
}
