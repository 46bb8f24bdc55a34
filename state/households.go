package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// ErrNotFound is returned for a household, or other record, the store does not hold.
var ErrNotFound = errors.New("not found")

// HouseholdKey is the key of a household's state. Households are keyed by id alone, so that
// any instance can answer a look-up; the value records the partition.
func HouseholdKey(id string) []byte {
	return append([]byte{kindHousehold, '/'}, id...)
}

// HouseholdPrefix is the prefix of every household key.
func HouseholdPrefix() []byte { return []byte{kindHousehold, '/'} }

// Household returns the stored state of household id, or ErrNotFound.
func (s *Store) Household(id string) ([]byte, error) {
	v, err := s.get(HouseholdKey(id))
	if err != nil {
		return nil, fmt.Errorf("read household: %w", err)
	}
	if v == nil {
		return nil, ErrNotFound
	}
	return v, nil
}

// get reads key inside the transaction; nil, nil when absent.
func (t *Tx) get(key []byte) ([]byte, error) {
	txn := t.txn
	it, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return it.ValueCopy(nil)
}

// get reads key in a read transaction of its own; nil, nil when absent.
func (s *Store) get(key []byte) ([]byte, error) {
	var v []byte
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		v, err = (&Tx{txn}).get(key)
		return err
	})
	return v, err
}

// TimerKey is the key of a household's timer in partition p: it sorts by due time.
func TimerKey(partition int, due time.Time, id string) []byte {
	k := TimerPrefix(partition)
	k = binary.BigEndian.AppendUint64(k, uint64(due.UnixNano()))
	return append(k, id...)
}

// TimerPrefix is the prefix of every timer of partition p.
func TimerPrefix(partition int) []byte {
	return binary.BigEndian.AppendUint32([]byte{kindTimer, '/'}, uint32(partition))
}

// DueTimers returns the ids of up to limit households of partition p whose timer is due at or
// before now, earliest first. Timer keys sort by due time, so it reads only the due ones.
func (s *Store) DueTimers(partition int, now time.Time, limit int) ([]string, error) {
	prefix := TimerPrefix(partition)
	cut := uint64(now.UnixNano())
	var due []string
	err := s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = prefix
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek(prefix); it.ValidForPrefix(prefix) && len(due) < limit; it.Next() {
			k := it.Item().Key()
			if len(k) < len(prefix)+8 || binary.BigEndian.Uint64(k[len(prefix):]) > cut {
				break
			}
			due = append(due, string(k[len(prefix)+8:]))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan timers of partition %d: %w", partition, err)
	}
	return due, nil
}

// AlertKey is the key of an alert in the alert index: newest last by emission time.
func AlertKey(emitted time.Time, alertID string) []byte {
	k := binary.BigEndian.AppendUint64([]byte{kindAlert, '/'}, uint64(emitted.UnixNano()))
	return append(k, alertID...)
}

// AlertPrefix is the prefix of the alert index.
func AlertPrefix() []byte { return []byte{kindAlert, '/'} }

// Alerts walks the alert index from newest to oldest, starting before the key `before` (nil for
// the newest), calling fn with each key and value until fn returns false.
func (s *Store) Alerts(before []byte, fn func(key, value []byte) bool) error {
	return s.newestFirst(AlertPrefix(), before, fn)
}

// newestFirst walks the keys under prefix from the greatest to the least, starting below the
// key `before` (nil: from the greatest), calling fn with each key and value until it returns
// false. The alert and case indexes sort by time, so this is newest first with a cursor.
func (s *Store) newestFirst(prefix, before []byte, fn func(key, value []byte) bool) error {
	return s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Reverse = true
		opts.Prefix = prefix
		it := txn.NewIterator(opts)
		defer it.Close()
		seek := before
		if seek == nil {
			seek = append(append([]byte{}, prefix...), 0xff)
		}
		for it.Seek(seek); it.ValidForPrefix(prefix); it.Next() {
			k := it.Item().KeyCopy(nil)
			if before != nil && string(k) >= string(before) {
				continue
			}
			v, err := valueOf(it.Item())
			if err != nil {
				return err
			}
			if !fn(k, v) {
				return nil
			}
		}
		return nil
	})
}

// Households calls fn with every stored household's id and value, in key order.
func (s *Store) Households(fn func(id string, value []byte) error) error {
	prefix := HouseholdPrefix()
	return s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefix
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			if err := fn(string(it.Item().Key()[len(prefix):]), v); err != nil {
				return err
			}
		}
		return nil
	})
}
