package state

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// An alert past its retention is no longer listed; one within it is.
func TestAlertIndexRetention(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	retention := 3 * 365 * 24 * time.Hour
	old, recent := now.Add(-retention-time.Hour), now.Add(-time.Hour)
	err = s.Update(func(tx *Tx) error {
		if err := tx.IndexAlertUntil(old, "old", []byte(`{"alert_id":"old"}`), old.Add(retention)); err != nil {
			return err
		}
		return tx.IndexAlertUntil(recent, "recent", []byte(`{"alert_id":"recent"}`), recent.Add(retention))
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := s.Alerts(nil, func(_, v []byte) bool { got = append(got, string(v)); return true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != `{"alert_id":"recent"}` {
		t.Errorf("alerts listed %q, want only the recent one", got)
	}
}

// The alert index stores its values compressed and gives them back as they were given; an
// entry written before the index compressed (no mark) is read as it is, and the audit walk
// (EachRecord) sees the alert as given, not its compressed bytes.
func TestAlertIndexCompressed(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	alert := []byte(`{"alert_id":"new","summary":"` + strings.Repeat("人均收入低于低保标准 per-capita income below the standard; ", 30) + `"}`)
	old := []byte(`{"alert_id":"old"}`)
	err = s.Update(func(tx *Tx) error {
		if err := tx.IndexAlertUntil(now, "new", alert, now.Add(time.Hour)); err != nil {
			return err
		}
		// as the index wrote alerts before it compressed them
		return tx.txn.SetEntry(badger.NewEntry(AlertKey(now.Add(-time.Second), "old"), old))
	})
	if err != nil {
		t.Fatal(err)
	}
	var got [][]byte
	if err := s.Alerts(nil, func(_, v []byte) bool { got = append(got, v); return true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !bytes.Equal(got[0], alert) || !bytes.Equal(got[1], old) {
		t.Fatalf("alerts listed %q, want the new alert as given and the old one", got)
	}
	usage, err := s.Usage()
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range usage {
		if u.Kind == "alert index" && u.Bytes > int64(len(alert)/2) {
			t.Errorf("the alert index takes %d bytes for an alert of %d and one of %d: not compressed", u.Bytes, len(alert), len(old))
		}
	}
	var audited bool
	err = s.EachRecord(func(k, v []byte) error {
		audited = audited || bytes.Equal(v, alert)
		return nil
	})
	if err != nil || !audited {
		t.Errorf("EachRecord did not give the alert as given (err %v)", err)
	}
}
