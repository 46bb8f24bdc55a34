package state

import (
	"encoding/json"
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

// PutParked parks an event for personKey on the batch.
func (b *Batch) PutParked(personKey string, p Parked) error {
	wb := b.wb
	v, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode parked event: %w", err)
	}
	if err := wb.Set(ParkedKey(personKey, p.Feed, p.EventID), v); err != nil {
		return fmt.Errorf("park event: %w", err)
	}
	return nil
}

// ParkedEntry is a parked event with its key, for deleting it once handled.
type ParkedEntry struct {
	Key       []byte
	PersonKey string
	Parked
}

// ParkedFor lists, inside the transaction, the events parked for personKey.
func (t *Tx) ParkedFor(personKey string) ([]ParkedEntry, error) {
	return t.scanParked(parkedPersonPrefix(personKey), func(Parked) bool { return true })
}

// ParkedBefore lists, inside the transaction, the events parked before t (at most limit; 0 for all).
func (t *Tx) ParkedBefore(before time.Time, limit int) ([]ParkedEntry, error) {
	n := 0
	return t.scanParked(parkedPrefix, func(p Parked) bool {
		if !p.ParkedAt.Before(before) || (limit > 0 && n >= limit) {
			return false
		}
		n++
		return true
	})
}

func (t *Tx) scanParked(prefix []byte, keep func(Parked) bool) ([]ParkedEntry, error) {
	txn := t.txn
	var out []ParkedEntry
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 64})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		var p Parked
		if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &p) }); err != nil {
			return nil, fmt.Errorf("decode parked event: %w", err)
		}
		if !keep(p) {
			continue
		}
		k := item.KeyCopy(nil)
		person := k[len(parkedPrefix):]
		for i, c := range person {
			if c == 0 {
				person = person[:i]
				break
			}
		}
		out = append(out, ParkedEntry{Key: k, PersonKey: string(person), Parked: p})
	}
	return out, nil
}

// DeleteParked removes parked events by key inside the transaction.
func (t *Tx) DeleteParked(keys ...[]byte) error {
	txn := t.txn
	for _, k := range keys {
		if err := txn.Delete(k); err != nil {
			return fmt.Errorf("delete parked event: %w", err)
		}
	}
	return nil
}

// CountParked counts the parked events.
func (s *Store) CountParked() (int, error) {
	n := 0
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: parkedPrefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count parked events: %w", err)
	}
	return n, nil
}
