package state

import (
	"encoding/binary"
	"fmt"
	"time"
)

// kindCase is the key kind of the case index: one entry per case, keyed by when the case opened
// and its id, so that the newest sort last. The value is the caller's summary of the case,
// rewritten whenever the case changes; the case itself lives in its household's state.
const kindCase = 'c'

// CaseKey is the key of a case in the case index.
func CaseKey(opened time.Time, caseID string) []byte {
	k := binary.BigEndian.AppendUint64([]byte{kindCase, '/'}, uint64(opened.UnixNano()))
	return append(k, caseID...)
}

// CasePrefix is the prefix of the case index.
func CasePrefix() []byte { return []byte{kindCase, '/'} }

// IndexCase writes a case's summary to the case index.
func (t *Tx) IndexCase(opened time.Time, caseID string, v []byte) error {
	if err := t.txn.Set(CaseKey(opened, caseID), v); err != nil {
		return fmt.Errorf("index case: %w", err)
	}
	return nil
}

// IndexCase writes a case's summary to the case index.
func (b *Batch) IndexCase(opened time.Time, caseID string, v []byte) error {
	if err := b.wb.Set(CaseKey(opened, caseID), v); err != nil {
		return fmt.Errorf("index case: %w", err)
	}
	return nil
}

// Cases walks the case index from the newest case to the oldest, starting after the key
// `after` (nil for the newest), calling fn with each key and summary until fn returns false.
func (s *Store) Cases(after []byte, fn func(key, value []byte) bool) error {
	return s.newestFirst(CasePrefix(), after, fn)
}
