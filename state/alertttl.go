package state

import (
	"bytes"
	_ "embed"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/klauspost/compress/s2"
)

// The alert index keeps every alert's JSON for the alert retention (three years by default) on
// every instance, so it is the largest part of a store that has raised alerts. Its values are
// compressed, and the entry's user meta byte says how:
//
//   - metaS2: S2 alone (1.8 KB → 1.15 KB, 1.5 µs; the sixteenth round of docs/performance.md).
//   - metaS2Dict1: S2 with alertDict1 as the dictionary. An alert repeats little of itself but
//     much of every other alert (the field names, the levels, the dimensions, the texts of the
//     reasons in two languages), so with a dictionary of alerts the same alert takes about
//     380 bytes, at the same speed (the seventeenth round).
//   - neither: stored as given, as the index wrote alerts before it compressed them.
//
// Every kind stays readable: a new dictionary gets a new mark, and alertdict1.jsonl never
// changes (TestAlertDictionaryUnchanged), or the alerts stored with it could not be read.
const (
	metaS2      = 1 << 0
	metaS2Dict1 = 1 << 1
)

// alertdict1.jsonl is six alerts of a `safetynet bench` run (synthetic households of the feed
// generator, no real person), chosen so that between them they hold every status, level, cause,
// feed, reason and trigger that run raised: 34 in all.
//
//go:embed alertdict1.jsonl
var alertDict1Text []byte

// alertDict1 starts its first match where an alert starts, at the last alert of the text.
var alertDict1 = func() *s2.Dict {
	d := s2.MakeDictManual(alertDict1Text, uint16(bytes.LastIndex(alertDict1Text, []byte(`{"alert_id"`))))
	if d == nil {
		panic("state: alertdict1.jsonl is not a usable S2 dictionary")
	}
	return d
}()

// IndexAlertUntil adds a published alert to the alert index (Store.Alerts reads it) until
// expires: past it Badger no longer returns the entry and compaction drops it (the retention of
// alerts kept on this instance).
func (t *Tx) IndexAlertUntil(emitted time.Time, alertID string, v []byte, expires time.Time) error {
	e := badger.NewEntry(AlertKey(emitted, alertID), alertDict1.Encode(nil, v)).WithMeta(metaS2Dict1)
	if s := expires.Unix(); s > 0 {
		e.ExpiresAt = uint64(s)
	}
	if err := t.txn.SetEntry(e); err != nil {
		return fmt.Errorf("index alert: %w", err)
	}
	return nil
}

// valueOf is a copy of the item's value as it was given to the store: decompressed when it
// was stored compressed (metaS2, metaS2Dict1).
func valueOf(item *badger.Item) ([]byte, error) {
	var decode func(dst, src []byte) ([]byte, error)
	switch m := item.UserMeta(); {
	case m&metaS2Dict1 != 0:
		decode = alertDict1.Decode
	case m&metaS2 != 0:
		decode = s2.Decode
	default:
		return item.ValueCopy(nil)
	}
	var v []byte
	err := item.Value(func(stored []byte) error {
		var err error
		v, err = decode(nil, stored)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("decompress a stored value (key kind %q): %w", item.Key()[0], err)
	}
	return v, nil
}
