package state

import (
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/klauspost/compress/s2"
)

// metaS2 marks (in the entry's user meta byte) a value stored compressed with S2. The alert
// index is the only kind written so: its values are the alerts' JSON, about 1.8 KB each, kept
// for the alert retention (three years by default) on every instance, and in the value log,
// which Badger does not compress. S2 takes them to about 1.15 KB in 1.5 µs and gives them back
// in 0.5 µs (docs/performance.md, sixteenth round). Entries written before, without the mark,
// are read as they are.
const metaS2 = 1 << 0

// IndexAlertUntil adds a published alert to the alert index (Store.Alerts reads it) until
// expires: past it Badger no longer returns the entry and compaction drops it (the retention of
// alerts kept on this instance).
func (t *Tx) IndexAlertUntil(emitted time.Time, alertID string, v []byte, expires time.Time) error {
	e := badger.NewEntry(AlertKey(emitted, alertID), s2.Encode(nil, v)).WithMeta(metaS2)
	if s := expires.Unix(); s > 0 {
		e.ExpiresAt = uint64(s)
	}
	if err := t.txn.SetEntry(e); err != nil {
		return fmt.Errorf("index alert: %w", err)
	}
	return nil
}

// valueOf is a copy of the item's value as it was given to the store: decompressed when it
// was stored compressed (metaS2).
func valueOf(item *badger.Item) ([]byte, error) {
	if item.UserMeta()&metaS2 == 0 {
		return item.ValueCopy(nil)
	}
	var v []byte
	err := item.Value(func(stored []byte) error {
		var err error
		v, err = s2.Decode(nil, stored)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("decompress a stored value (key kind %q): %w", item.Key()[0], err)
	}
	return v, nil
}
