package state

import (
	"testing"
	"time"
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
