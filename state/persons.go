package state

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Person is one row of the person→household table, keyed by person key (the keyed HMAC of the
// resident ID number; never the number itself). It keeps the registry fact with the greatest
// (OccurredAt, EventID) seen for the person, so that facts applied in any order give the same row.
type Person struct {
	// HouseholdID is the household the person belongs to; empty after the person left it.
	HouseholdID string `json:"household_id,omitempty"`
	// Fact is the registry event type that produced the row (member_joined, member_left, died).
	Fact string `json:"fact"`
	// FactHousehold is the household named by that fact (for member_left, the one left).
	FactHousehold string    `json:"fact_household"`
	OccurredAt    time.Time `json:"occurred_at"`
	EventID       string    `json:"event_id"`
}

// Known reports whether the row resolves the person to a household.
func (p Person) Known() bool { return p.HouseholdID != "" }

// Before reports whether the row's fact is ordered before the fact (at, eventID): by event time,
// then by event id to break ties deterministically.
func (p Person) Before(at time.Time, eventID string) bool {
	if !p.OccurredAt.Equal(at) {
		return p.OccurredAt.Before(at)
	}
	return p.EventID < eventID
}

// PersonKey is the store key of a person's row.
func PersonKey(personKey string) []byte {
	k := make([]byte, 0, 2+len(personKey))
	k = append(k, kindPerson, '/')
	return append(k, personKey...)
}

var personPrefix = []byte{kindPerson, '/'}

// PutPerson writes a person's row inside the transaction.
func (t *Tx) PutPerson(personKey string, p Person) error {
	txn := t.txn
	v, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode person row: %w", err)
	}
	return txn.Set(PersonKey(personKey), v)
}

// GetPerson reads a person's row inside the transaction; false when there is none.
func (t *Tx) GetPerson(personKey string) (Person, bool, error) {
	txn := t.txn
	var p Person
	it, err := txn.Get(PersonKey(personKey))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return p, false, nil
	}
	if err != nil {
		return p, false, fmt.Errorf("read person row: %w", err)
	}
	err = it.Value(func(v []byte) error { return json.Unmarshal(v, &p) })
	if err != nil {
		return p, false, fmt.Errorf("decode person row: %w", err)
	}
	return p, true, nil
}

// DeletePerson removes a person's row inside the transaction. Like PutPerson, the caller keeps the count
// (AddPersonCount) in the same transaction.
func (t *Tx) DeletePerson(personKey string) error {
	txn := t.txn
	return txn.Delete(PersonKey(personKey))
}

// Person reads one row in its own read transaction.
func (s *Store) Person(personKey string) (Person, bool, error) {
	var p Person
	var ok bool
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		p, ok, err = (&Tx{txn}).GetPerson(personKey)
		return err
	})
	return p, ok, err
}

// personCountKey holds the number of rows that resolve a person, kept by AddPersonCount in the
// transactions that change the table, so that start-up need not scan it.
var personCountKey = []byte{kindMeta, '/', 'p', 'n'}

// AddPersonCount adds delta to the stored count of known persons inside the transaction. Callers serialise
// their transactions on the table (the registry reader holds a lock), so the read-modify-write
// cannot race.
func (t *Tx) AddPersonCount(delta int64) error {
	txn := t.txn
	if delta == 0 {
		return nil
	}
	var n int64
	v, err := t.get(personCountKey)
	if err != nil {
		return err
	}
	if len(v) == 8 {
		n = int64(binary.BigEndian.Uint64(v))
	}
	return txn.Set(personCountKey, binary.BigEndian.AppendUint64(nil, uint64(n+delta)))
}

// CountPersons returns the number of rows that resolve a person to a household: the stored
// count, or, for a directory written before the count was kept, a scan that then stores it.
func (s *Store) CountPersons() (int, error) {
	stored, err := s.get(personCountKey)
	if err != nil {
		return 0, fmt.Errorf("count persons: %w", err)
	}
	if len(stored) == 8 {
		return int(binary.BigEndian.Uint64(stored)), nil
	}
	n, err := s.scanPersons()
	if err != nil {
		return 0, err
	}
	if !s.readOnly {
		if err := s.db.Update(func(txn *badger.Txn) error {
			return txn.Set(personCountKey, binary.BigEndian.AppendUint64(nil, uint64(n)))
		}); err != nil {
			return 0, fmt.Errorf("store the person count: %w", err)
		}
	}
	return n, nil
}

func (s *Store) scanPersons() (int, error) {
	n := 0
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: personPrefix, PrefetchValues: true, PrefetchSize: 256})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var p Person
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &p) }); err != nil {
				return fmt.Errorf("decode person row: %w", err)
			}
			if p.Known() {
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count persons: %w", err)
	}
	return n, nil
}

// EachPerson calls fn with the key and household of every row of the person table (household
// empty for a person who left), reading one snapshot of the table. It stops at fn's first error.
// It decodes only the household of each row, so that loading an index of a large table is cheap.
func (s *Store) EachPerson(fn func(personKey, householdID string) error) error {
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: personPrefix, PrefetchValues: true, PrefetchSize: 256})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			var hh string
			if err := item.Value(func(v []byte) error {
				var err error
				hh, err = personHousehold(v)
				return err
			}); err != nil {
				return err
			}
			if err := fn(string(item.Key()[len(personPrefix):]), hh); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read person table: %w", err)
	}
	return nil
}

// personHousehold is the HouseholdID of an encoded row. PutPerson writes it first, so the row
// of a member is read without a full JSON decode.
func personHousehold(v []byte) (string, error) {
	const prefix = `{"household_id":"`
	if len(v) > len(prefix) && string(v[:len(prefix)]) == prefix {
		rest := v[len(prefix):]
		for n, c := range rest {
			if c == '"' {
				return string(rest[:n]), nil
			}
			if c == '\\' || c < 0x20 || c >= 0x80 {
				break // an escape or a non-ASCII byte: let encoding/json read it
			}
		}
	}
	var p Person
	if err := json.Unmarshal(v, &p); err != nil {
		return "", fmt.Errorf("decode person row: %w", err)
	}
	return p.HouseholdID, nil
}
