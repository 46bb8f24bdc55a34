package state

import (
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Tx is a transaction on the store: its reads see one snapshot and its writes commit together
// or not at all. A stage writes a batch of state and the offsets it was built from in one Tx.
// Only this package touches Badger: the stages see the operations below, not keys.
type Tx struct{ txn *badger.Txn }

// ErrTxnTooBig is the error (wrapped) of a write that would make the transaction larger than
// Badger takes in one commit (about 15% of the memtable size, 2.4 MB at the default 16 MiB):
// the caller splits its work into smaller transactions.
var ErrTxnTooBig = badger.ErrTxnTooBig

// Begin starts a read-write transaction; Commit or Discard ends it.
func (s *Store) Begin() *Tx { return &Tx{txn: s.db.NewTransaction(true)} }

// Commit writes the transaction's changes.
func (t *Tx) Commit() error { return t.txn.Commit() }

// Discard drops the transaction's changes (a no-op after Commit).
func (t *Tx) Discard() { t.txn.Discard() }

// Update runs fn in a read-write transaction and commits it when fn returns nil.
func (s *Store) Update(fn func(*Tx) error) error {
	return s.db.Update(func(txn *badger.Txn) error { return fn(&Tx{txn: txn}) })
}

// View runs fn in a read-only transaction.
func (s *Store) View(fn func(*Tx) error) error {
	return s.db.View(func(txn *badger.Txn) error { return fn(&Tx{txn: txn}) })
}

// Household reads a household's stored state inside the transaction; nil when absent.
func (t *Tx) Household(id string) ([]byte, error) {
	v, err := t.get(HouseholdKey(id))
	if err != nil {
		return nil, fmt.Errorf("read household: %w", err)
	}
	return v, nil
}

// PutHousehold writes a household's state.
func (t *Tx) PutHousehold(id string, v []byte) error {
	if err := t.txn.Set(HouseholdKey(id), v); err != nil {
		return fmt.Errorf("write household: %w", err)
	}
	return nil
}

// MoveTimer moves a household's timer in partition p from was to next (either zero for none)
// and returns the change in the partition's number of timers (-1, 0 or 1).
func (t *Tx) MoveTimer(partition int, id string, was, next time.Time) (int64, error) {
	if was.Equal(next) {
		return 0, nil
	}
	var delta int64
	if !was.IsZero() {
		if err := t.txn.Delete(TimerKey(partition, was, id)); err != nil {
			return 0, fmt.Errorf("move timer: %w", err)
		}
		delta--
	}
	if !next.IsZero() {
		if err := t.txn.Set(TimerKey(partition, next, id), nil); err != nil {
			return 0, fmt.Errorf("move timer: %w", err)
		}
		delta++
	}
	return delta, nil
}

// Batch is a write-only batch: many writes that need no reads (a restore, intake's bookkeeping),
// flushed in large transactions. Flush writes it; Cancel drops what was not flushed.
type Batch struct{ wb *badger.WriteBatch }

// NewBatch starts a write batch.
func (s *Store) NewBatch() *Batch { return &Batch{wb: s.db.NewWriteBatch()} }

// Flush writes everything set on the batch.
func (b *Batch) Flush() error { return b.wb.Flush() }

// Cancel drops the batch (a no-op after Flush).
func (b *Batch) Cancel() { b.wb.Cancel() }

// PutHousehold writes a household's state.
func (b *Batch) PutHousehold(id string, v []byte) error {
	if err := b.wb.Set(HouseholdKey(id), v); err != nil {
		return fmt.Errorf("write household: %w", err)
	}
	return nil
}

// SetTimer sets a household's timer in partition p.
func (b *Batch) SetTimer(partition int, id string, due time.Time) error {
	if err := b.wb.Set(TimerKey(partition, due, id), nil); err != nil {
		return fmt.Errorf("write timer: %w", err)
	}
	return nil
}

// EachRecord calls fn with every key and value the store holds, older versions included, each
// value as it was given to the store (decompressed): for audits of what is stored (the privacy
// tests look for raw ID numbers in it).
func (s *Store) EachRecord(fn func(key, value []byte) error) error {
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{AllVersions: true, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := valueOf(it.Item())
			if err != nil {
				return err
			}
			if err := fn(it.Item().KeyCopy(nil), v); err != nil {
				return err
			}
		}
		return nil
	})
}
