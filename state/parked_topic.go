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

// The parked table is also a view of the compacted parked topic (intake's parked reader): the
// reader puts and deletes parked events in a transaction with the topic's offsets, and the
// sweeper pages through the due events of every instance's parking, skipping those another
// instance handles.

// ParkedGet reads one parked event by its key (ParkedKey) inside the transaction.
func (t *Tx) ParkedGet(key []byte) (ParkedEntry, bool, error) {
	item, err := t.txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return ParkedEntry{}, false, nil
	}
	if err != nil {
		return ParkedEntry{}, false, fmt.Errorf("read parked event: %w", err)
	}
	e, err := parkedEntry(item, bytes.Clone(key))
	if err != nil {
		return ParkedEntry{}, false, err
	}
	return e, true, nil
}

// PutParked parks an event for personKey inside the transaction, with its time-index entry, and
// returns the bytes it takes (as Batch.PutParked).
func (t *Tx) PutParked(personKey string, p Parked) (int, error) {
	v, err := json.Marshal(p)
	if err != nil {
		return 0, fmt.Errorf("encode parked event: %w", err)
	}
	k := ParkedKey(personKey, p.Feed, p.EventID)
	if err := t.txn.Set(k, v); err != nil {
		return 0, fmt.Errorf("park event: %w", err)
	}
	if err := t.txn.Set(parkedAtKey(p.ParkedAt, k), nil); err != nil {
		return 0, fmt.Errorf("index parked event: %w", err)
	}
	return len(k) + len(v), nil
}

// MarkSeen remembers (feed, eventID) for ttl inside the transaction (as Batch.MarkSeen).
func (t *Tx) MarkSeen(feed, eventID string, ttl time.Duration) error {
	if err := t.txn.SetEntry(badger.NewEntry(SeenKey(feed, eventID), []byte{1}).WithTTL(ttl)); err != nil {
		return fmt.Errorf("mark event seen: %w", err)
	}
	return nil
}

// ParkedDue lists, inside the transaction, up to limit events parked before before, oldest
// first, starting after the cursor after (nil: from the oldest). It returns the cursor of the
// last entry read, to page on past entries the caller leaves in place.
func (t *Tx) ParkedDue(before time.Time, after []byte, limit int) ([]ParkedEntry, []byte, error) {
	txn := t.txn
	var out []ParkedEntry
	it := txn.NewIterator(badger.IteratorOptions{Prefix: parkedAtPrefix})
	defer it.Close()
	start := parkedAtPrefix
	if after != nil {
		start = append(bytes.Clone(after), 0)
	}
	cursor := after
	for it.Seek(start); it.Valid() && len(out) < limit; it.Next() {
		ik := it.Item().Key()
		if len(ik) < len(parkedAtPrefix)+8 {
			continue
		}
		at := int64(binary.BigEndian.Uint64(ik[len(parkedAtPrefix):]))
		if at >= before.UnixNano() {
			break
		}
		cursor = bytes.Clone(ik)
		k := bytes.Clone(ik[len(parkedAtPrefix)+8:])
		item, err := txn.Get(k)
		if errors.Is(err, badger.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read parked event: %w", err)
		}
		e, err := parkedEntry(item, k)
		if err != nil {
			return nil, nil, err
		}
		if e.ParkedAt.UnixNano() != at {
			continue
		}
		out = append(out, e)
	}
	return out, cursor, nil
}
