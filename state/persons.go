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
	return t.txn.Set(PersonKey(personKey), appendPersonRow(nil, p))
}

// personRowV1 is the first byte of a person row in the binary form PutPerson writes. Rows
// written before it are JSON and begin with '{'; both are read.
const personRowV1 = 1

// personFacts are the registry facts a row may hold, coded by their place (from 1); a fact
// not in the list (none is written today) is written out after a 0. The list is only ever
// appended to: rows on disk hold the codes.
var personFacts = [...]string{"member_joined", "member_left", "died"}

// personSameHousehold marks, in a row's fact byte, a FactHousehold equal to the HouseholdID
// (a member who joined or died), which is then not written twice.
const personSameHousehold = 0x80

// appendPersonRow appends p's row: the version byte, the household (first, so that
// personHousehold reads it without decoding the rest), the fact's code with the
// same-household mark, the fact's household unless marked, the fact's time as Unix seconds
// and nanoseconds (in UTC: the row only orders facts) and the event id. A row is about 40
// bytes where its JSON was about 150.
func appendPersonRow(b []byte, p Person) []byte {
	b = append(b, personRowV1)
	b = appendPersonString(b, p.HouseholdID)
	code := byte(0)
	for i, f := range personFacts {
		if p.Fact == f {
			code = byte(i + 1)
		}
	}
	mark := code
	if p.FactHousehold == p.HouseholdID {
		mark |= personSameHousehold
	}
	b = append(b, mark)
	if code == 0 {
		b = appendPersonString(b, p.Fact)
	}
	if mark&personSameHousehold == 0 {
		b = appendPersonString(b, p.FactHousehold)
	}
	b = binary.AppendVarint(b, p.OccurredAt.Unix())
	b = binary.AppendUvarint(b, uint64(p.OccurredAt.Nanosecond()))
	return appendPersonString(b, p.EventID)
}

func appendPersonString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// errPersonRow is the error of a row that ends early or says more than it holds.
var errPersonRow = errors.New("decode person row: truncated or corrupt")

// decodePersonRow reads a row in either form.
func decodePersonRow(v []byte) (Person, error) {
	var p Person
	if len(v) > 0 && v[0] == '{' {
		if err := json.Unmarshal(v, &p); err != nil {
			return p, fmt.Errorf("decode person row: %w", err)
		}
		return p, nil
	}
	if len(v) == 0 {
		return p, errPersonRow
	}
	if v[0] != personRowV1 {
		return p, fmt.Errorf("decode person row: unknown format %d (a newer release wrote it?)", v[0])
	}
	r := personReader{b: v[1:]}
	p.HouseholdID = r.string()
	mark := r.byte()
	switch code := int(mark &^ personSameHousehold); {
	case code == 0:
		p.Fact = r.string()
	case code <= len(personFacts):
		p.Fact = personFacts[code-1]
	default:
		return Person{}, fmt.Errorf("decode person row: unknown fact code %d (a newer release wrote it?)", code)
	}
	if mark&personSameHousehold != 0 {
		p.FactHousehold = p.HouseholdID
	} else {
		p.FactHousehold = r.string()
	}
	sec, nsec := r.varint(), r.uvarint()
	p.EventID = r.string()
	if r.bad || len(r.b) != 0 || nsec >= 1e9 {
		return Person{}, errPersonRow
	}
	p.OccurredAt = time.Unix(sec, int64(nsec)).UTC()
	return p, nil
}

// personReader reads a binary person row; bad is set at the first read past its end.
type personReader struct {
	b   []byte
	bad bool
}

func (r *personReader) uvarint() uint64 { return readVarint(r, binary.Uvarint) }
func (r *personReader) varint() int64   { return readVarint(r, binary.Varint) }

// readVarint takes one varint off the row with read (binary.Uvarint or binary.Varint).
func readVarint[T uint64 | int64](r *personReader, read func([]byte) (T, int)) T {
	x, n := read(r.b)
	if n <= 0 {
		r.bad, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *personReader) byte() byte {
	if len(r.b) == 0 {
		r.bad = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *personReader) string() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.bad, r.b = true, nil
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
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
	err = it.Value(func(v []byte) error {
		p, err = decodePersonRow(v)
		return err
	})
	if err != nil {
		return p, false, err
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

// scanPersons counts the rows that name a household, reading only their households.
func (s *Store) scanPersons() (int, error) {
	n := 0
	err := s.EachPerson(func(_, householdID string) error {
		if householdID != "" {
			n++
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

// personHousehold is the HouseholdID of an encoded row. PutPerson writes it first, as the
// JSON rows of earlier releases did, so the row of a member is read without a full decode.
func personHousehold(v []byte) (string, error) {
	if len(v) > 0 && v[0] == personRowV1 {
		r := personReader{b: v[1:]}
		if hh := r.string(); !r.bad {
			return hh, nil
		}
		return "", errPersonRow
	}
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
	p, err := decodePersonRow(v)
	return p.HouseholdID, err
}
