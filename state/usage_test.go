package state

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// Usage counts each kind's live keys and bytes, in the tree and in the value log alike, and
// does not count a household's older versions or an expired alert.
func TestUsageByKind(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	small := bytes.Repeat([]byte{'h'}, 100) // stays in the tree
	large := make([]byte, 2000)             // random, so that compressed it still goes to the value log
	_, _ = rand.NewChaCha8([32]byte{1}).Read(large)
	var wantHH, wantAlerts int64
	err = s.Update(func(tx *Tx) error {
		for i := range 10 {
			id := fmt.Sprintf("H%03d", i)
			if err := tx.PutHousehold(id, []byte("an older version, replaced below")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(func(tx *Tx) error {
		for i := range 10 {
			id := fmt.Sprintf("H%03d", i)
			if err := tx.PutHousehold(id, small); err != nil {
				return err
			}
			wantHH += int64(len(HouseholdKey(id)) + len(small))
		}
		for i := range 3 {
			id := fmt.Sprintf("A%d", i)
			if err := tx.IndexAlertUntil(now, id, large, now.Add(time.Hour)); err != nil {
				return err
			}
			wantAlerts += int64(len(AlertKey(now, id)) + len(large))
		}
		// expired: not counted
		return tx.IndexAlertUntil(now.Add(-2*time.Hour), "gone", large, now.Add(-time.Hour))
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Usage()
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]KindUsage{}
	for _, u := range got {
		by[u.Kind] = u
	}
	if u := by["households"]; u.Keys != 10 || u.Bytes != wantHH {
		t.Errorf("households: %+v, want 10 keys and %d bytes", u, wantHH)
	}
	// a value in the value log is measured from its pointer, within a few bytes (its header),
	// and the alert index stores its values compressed (S2 adds a few bytes to random ones)
	if u := by["alert index"]; u.Keys != 3 || u.Bytes < wantAlerts-3*8 || u.Bytes > wantAlerts+3*24 {
		t.Errorf("alert index: %+v, want 3 keys and about %d bytes", u, wantAlerts)
	}
	if len(got) < 2 || got[0].Kind != "alert index" || got[1].Kind != "households" {
		t.Errorf("usage %+v is not largest first", got)
	}
}
