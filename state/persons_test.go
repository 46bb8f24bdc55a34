package state

import (
	"testing"
	"time"
)

func openPersonsTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPersons(t *testing.T) {
	s := openPersonsTest(t)
	at := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	err := s.Update(func(tx *Tx) error {
		if err := tx.PutPerson("k1", Person{HouseholdID: "H1", Fact: "member_joined", OccurredAt: at, EventID: "e1"}); err != nil {
			return err
		}
		if err := tx.PutPerson("k2", Person{Fact: "member_left", FactHousehold: "H1", OccurredAt: at, EventID: "e2"}); err != nil {
			return err
		}
		return tx.PutPerson("k3", Person{HouseholdID: "H3", OccurredAt: at})
	})
	if err != nil {
		t.Fatal(err)
	}
	p, ok, err := s.Person("k1")
	if err != nil || !ok || p.HouseholdID != "H1" || !p.OccurredAt.Equal(at) || p.EventID != "e1" {
		t.Errorf("Person(k1): got %+v %v %v", p, ok, err)
	}
	if p, ok, _ := s.Person("k2"); !ok || p.Known() {
		t.Errorf("Person(k2): got %+v %v; want a row that resolves to no household", p, ok)
	}
	if _, ok, _ := s.Person("nobody"); ok {
		t.Error("Person(nobody) found")
	}
	if n, err := s.CountPersons(); err != nil || n != 2 {
		t.Errorf("CountPersons: got %d, %v; want 2", n, err)
	}
	// Writers keep the count in the same transaction as the row.
	if err := s.Update(func(tx *Tx) error {
		if err := tx.DeletePerson("k3"); err != nil {
			return err
		}
		return tx.AddPersonCount(-1)
	}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountPersons(); n != 1 {
		t.Errorf("after delete: %d persons, want 1", n)
	}
	if !p.Before(at, "e2") || p.Before(at, "e0") || !p.Before(at.Add(time.Second), "") || p.Before(at.Add(-time.Second), "z") {
		t.Error("Before does not order by (occurred_at, event_id)")
	}
}

func TestSeen(t *testing.T) {
	s := openPersonsTest(t)
	wb := s.NewBatch()
	if err := wb.MarkSeen("hospital", "e1", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
	err := s.View(func(tx *Tx) error {
		for _, c := range []struct {
			feed, id string
			want     bool
		}{{"hospital", "e1", true}, {"pension", "e1", false}, {"hospital", "e2", false}} {
			got, err := tx.Seen(c.feed, c.id)
			if err != nil {
				return err
			}
			if got != c.want {
				t.Errorf("Seen(%s, %s): got %v, want %v", c.feed, c.id, got, c.want)
			}
		}
		item, err := tx.txn.Get(SeenKey("hospital", "e1"))
		if err != nil {
			return err
		}
		exp := time.Unix(int64(item.ExpiresAt()), 0)
		if d := time.Until(exp); d < 50*time.Minute || d > 61*time.Minute {
			t.Errorf("seen mark expires in %v, want about 1h", d)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestParked(t *testing.T) {
	s := openPersonsTest(t)
	t0 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	wb := s.NewBatch()
	for _, p := range []struct {
		person string
		Parked
	}{
		{"pa", Parked{ParkedAt: t0, Feed: "hospital", EventID: "e1", Event: []byte("{}"), Sealed: []byte{1}}},
		{"pa", Parked{ParkedAt: t0.Add(time.Hour), Feed: "pension", EventID: "e2"}},
		{"pb", Parked{ParkedAt: t0.Add(2 * time.Hour), Feed: "hospital", EventID: "e3"}},
		{"pa", Parked{ParkedAt: t0, Feed: "hospital", EventID: "e1", Event: []byte("{}"), Sealed: []byte{1}}}, // redelivered
	} {
		if _, err := wb.PutParked(p.person, p.Parked); err != nil {
			t.Fatal(err)
		}
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
	if n, err := s.CountParked(); err != nil || n != 3 {
		t.Fatalf("CountParked: got %d, %v; want 3", n, err)
	}
	var forA, old []ParkedEntry
	err := s.View(func(tx *Tx) error {
		var err error
		if forA, err = tx.ParkedFor("pa"); err != nil {
			return err
		}
		old, err = tx.ParkedBefore(t0.Add(90*time.Minute), 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(forA) != 2 || forA[0].PersonKey != "pa" || forA[0].EventID != "e1" || string(forA[0].Event) != "{}" || forA[1].EventID != "e2" {
		t.Errorf("ParkedFor(pa): got %+v", forA)
	}
	if len(old) != 2 {
		t.Errorf("ParkedBefore: got %d entries, want 2", len(old))
	}
	if err := s.Update(func(tx *Tx) error { return tx.DeleteParked(forA[0].Key, forA[1].Key) }); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountParked(); n != 1 {
		t.Errorf("after delete: %d parked, want 1", n)
	}
}
