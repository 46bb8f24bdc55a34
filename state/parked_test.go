package state

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// TestParkedTimeIndex: ParkedBefore reads the time index — the due events only, oldest first, a
// re-parked event once at its newer time — DeleteParked removes both keys, ParkedAfter pages
// through every event, and IndexParked indexes events of a directory written without the index.
func TestParkedTimeIndex(t *testing.T) {
	s := openPersonsTest(t)
	t0 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	wb := s.NewBatch()
	var total int64
	for i := range 10 { // parked in reverse key order: the index, not the key, orders them
		n, err := wb.PutParked(fmt.Sprintf("p%02d", 9-i), Parked{ParkedAt: t0.Add(time.Duration(i) * time.Minute), Feed: "hospital", EventID: "e", Event: []byte("{}")})
		if err != nil {
			t.Fatal(err)
		}
		total += int64(n)
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
	// p09 is parked again, later: it is due at its newer time only.
	wb = s.NewBatch()
	_, err := wb.PutParked("p09", Parked{ParkedAt: t0.Add(time.Hour), Feed: "hospital", EventID: "e", Event: []byte("{}")})
	if err != nil || wb.Flush() != nil {
		t.Fatal(err)
	}
	if got, size, err := s.ParkedUsage(); err != nil || got != 10 || size != total {
		t.Errorf("ParkedUsage: %d events, %d bytes, %v; want 10, %d", got, size, err, total)
	}
	due := func(before time.Time, limit int) (persons []string) {
		t.Helper()
		err := s.View(func(tx *Tx) error {
			es, err := tx.ParkedBefore(before, limit)
			for _, e := range es {
				persons = append(persons, e.PersonKey)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return persons
	}
	if got, want := fmt.Sprint(due(t0.Add(4*time.Minute), 0)), "[p08 p07 p06]"; got != want {
		t.Errorf("due before +4m: %s, want %s (p09 was parked again at +1h)", got, want)
	}
	if got, want := fmt.Sprint(due(t0.Add(2*time.Hour), 2)), "[p08 p07]"; got != want {
		t.Errorf("first 2 due: %s, want %s", got, want)
	}
	if got := len(due(t0.Add(2*time.Hour), 0)); got != 10 {
		t.Errorf("all due: %d, want 10", got)
	}
	var page []ParkedEntry
	var seen int
	for {
		var last []byte
		if len(page) > 0 {
			last = page[len(page)-1].Key
		}
		if err := s.View(func(tx *Tx) (err error) { page, err = tx.ParkedAfter(last, 3); return err }); err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		seen += len(page)
	}
	if seen != 10 {
		t.Errorf("ParkedAfter pages: %d events, want 10", seen)
	}
	var first []ParkedEntry
	s.View(func(tx *Tx) (err error) { first, err = tx.ParkedBefore(t0.Add(3*time.Minute), 0); return err })
	if err := s.Update(func(tx *Tx) error { return tx.DeleteParked(first[0].Key, first[1].Key) }); err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(due(t0.Add(4*time.Minute), 0)), "[p06]"; got != want {
		t.Errorf("due after deleting two: %s, want %s", got, want)
	}
	indexKeys := 0
	s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: parkedAtPrefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			indexKeys++
		}
		return nil
	})
	if indexKeys != 9 { // 8 events and the stale entry of p09's first parking
		t.Errorf("%d index keys, want 9", indexKeys)
	}

	// A directory written before the index: IndexParked indexes its events, once.
	old := openPersonsTest(t)
	if err := old.db.Update(func(txn *badger.Txn) error {
		v, _ := json.Marshal(Parked{ParkedAt: t0, Feed: "pension", EventID: "old"})
		return txn.Set(ParkedKey("px", "pension", "old"), v)
	}); err != nil {
		t.Fatal(err)
	}
	var before []ParkedEntry
	old.View(func(tx *Tx) (err error) { before, err = tx.ParkedBefore(t0.Add(time.Hour), 0); return err })
	if len(before) != 0 {
		t.Fatalf("unindexed event found before IndexParked")
	}
	if n, err := old.IndexParked(); err != nil || n != 1 {
		t.Errorf("IndexParked: %d, %v; want 1", n, err)
	}
	if n, err := old.IndexParked(); err != nil || n != 0 {
		t.Errorf("IndexParked again: %d, %v; want 0", n, err)
	}
	old.View(func(tx *Tx) (err error) { before, err = tx.ParkedBefore(t0.Add(time.Hour), 0); return err })
	if len(before) != 1 || before[0].EventID != "old" {
		t.Errorf("after IndexParked: %+v", before)
	}
}
