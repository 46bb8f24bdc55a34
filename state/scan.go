package state

import (
	"encoding/binary"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// ScanHouseholds reads stored households in id order, starting after the id `after` ("" for
// the first), and calls fn with each until fn returns false or maxScan households have been read.
// It returns the id of the last household read (the cursor to pass as `after` next time) and
// whether it reached the end of the store.
//
// Households are keyed by id alone (any instance answers a look-up by id), so a partition's
// households are found by reading all of them and letting fn keep those whose value names the
// partition: the store does not know the value's layout. The re-scoring after a model change and
// the end of a backfill walk each partition once this way: a walk over 130,000 households takes
// about half a second (BenchmarkScanHouseholds), far less than re-scoring them, so a
// per-partition index, written on every batch and needing a migration, would not pay for itself.
func (s *Store) ScanHouseholds(after string, maxScan int, fn func(id string, value []byte) bool) (last string, end bool, err error) {
	prefix := HouseholdPrefix()
	last = after
	err = s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefix
		it := txn.NewIterator(opts)
		defer it.Close()
		seek := append(HouseholdKey(after), 0) // the first key after `after`
		if after == "" {
			seek = prefix
		}
		n := 0
		for it.Seek(seek); ; it.Next() {
			if !it.ValidForPrefix(prefix) {
				end = true
				return nil
			}
			if n >= maxScan {
				return nil
			}
			n++
			item := it.Item()
			id := string(item.Key()[len(prefix):])
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			last = id
			if !fn(id, v) {
				return nil
			}
		}
	})
	if err != nil {
		return after, false, fmt.Errorf("scan households after %q: %w", after, err)
	}
	return last, end, nil
}

// Per-partition marks: small values a stage records about a partition in the same transaction
// as the state they describe (which model its households were last re-scored with, how far a
// backfill got). The store does not interpret them.
func markKey(partition int, name string) []byte {
	k := binary.BigEndian.AppendUint32([]byte{kindMeta, '/', 'k', '/'}, uint32(partition))
	return append(append(k, '/'), name...)
}

// SetMark records the value of the partition's mark name inside the transaction.
func (t *Tx) SetMark(partition int, name, value string) error {
	if err := t.txn.Set(markKey(partition, name), []byte(value)); err != nil {
		return fmt.Errorf("write mark %s of partition %d: %w", name, partition, err)
	}
	return nil
}

// Mark reads the partition's mark name; found is false when it was never set.
func (s *Store) Mark(partition int, name string) (value string, found bool, err error) {
	v, err := s.get(markKey(partition, name))
	if err != nil {
		return "", false, fmt.Errorf("read mark %s of partition %d: %w", name, partition, err)
	}
	return string(v), v != nil, nil
}
