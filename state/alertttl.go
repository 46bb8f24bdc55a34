package state

import (
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// IndexAlertUntil adds a published alert to the alert index (Store.Alerts reads it) until
// expires: past it Badger no longer returns the entry and compaction drops it (the retention of
// alerts kept on this instance).
func (t *Tx) IndexAlertUntil(emitted time.Time, alertID string, v []byte, expires time.Time) error {
	e := badger.NewEntry(AlertKey(emitted, alertID), v)
	if s := expires.Unix(); s > 0 {
		e.ExpiresAt = uint64(s)
	}
	if err := t.txn.SetEntry(e); err != nil {
		return fmt.Errorf("index alert: %w", err)
	}
	return nil
}
