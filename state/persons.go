package state

import (
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

// PutPerson writes a person's row inside txn.
func PutPerson(txn *badger.Txn, personKey string, p Person) error {
	v, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode person row: %w", err)
	}
	return txn.Set(PersonKey(personKey), v)
}

// GetPerson reads a person's row inside txn; false when there is none.
func GetPerson(txn *badger.Txn, personKey string) (Person, bool, error) {
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

// DeletePerson removes a person's row inside txn.
func DeletePerson(txn *badger.Txn, personKey string) error {
	return txn.Delete(PersonKey(personKey))
}

// Person reads one row in its own read transaction.
func (s *Store) Person(personKey string) (Person, bool, error) {
	var p Person
	var ok bool
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		p, ok, err = GetPerson(txn, personKey)
		return err
	})
	return p, ok, err
}

// CountPersons counts the rows that resolve a person to a household.
func (s *Store) CountPersons() (int, error) {
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
