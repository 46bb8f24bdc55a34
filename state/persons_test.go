package state

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
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

// Person rows are written in the binary form and read back field for field; rows written as
// JSON by earlier releases are still read by every reader (GetPerson, EachPerson,
// CountPersons); a row cut short is an error, not a row.
func TestPersonRowForms(t *testing.T) {
	shanghai := time.FixedZone("CST", 8*3600)
	rows := map[string]Person{
		"joined": {HouseholdID: "hh-000123", Fact: "member_joined", FactHousehold: "hh-000123", OccurredAt: time.Date(2024, 5, 1, 9, 30, 0, 123456789, shanghai), EventID: "reg-1cc520-000087333"},
		"left":   {Fact: "member_left", FactHousehold: "hh-000123", OccurredAt: time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC), EventID: "reg-2"},
		"died":   {HouseholdID: "hh-9", Fact: "died", FactHousehold: "hh-9", OccurredAt: time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC), EventID: "e"},
		"moved":  {HouseholdID: "hh-new", Fact: "member_joined", FactHousehold: "hh-old", OccurredAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), EventID: "x"},
		"other":  {HouseholdID: "户-1", Fact: "a_fact_of_a_later_release", FactHousehold: "户-1", EventID: "零时"},
	}
	same := func(a, b Person) bool {
		return a.HouseholdID == b.HouseholdID && a.Fact == b.Fact && a.FactHousehold == b.FactHousehold &&
			a.OccurredAt.Equal(b.OccurredAt) && a.EventID == b.EventID && a.OccurredAt.IsZero() == b.OccurredAt.IsZero()
	}
	for name, p := range rows {
		v := appendPersonRow(nil, p)
		got, err := decodePersonRow(v)
		if err != nil || !same(got, p) {
			t.Errorf("%s: %+v, %v; want %+v", name, got, err, p)
		}
		if hh, err := personHousehold(v); err != nil || hh != p.HouseholdID {
			t.Errorf("%s: personHousehold %q, %v", name, hh, err)
		}
		for n := range len(v) {
			if _, err := decodePersonRow(v[:n]); err == nil {
				t.Errorf("%s: a row cut to %d of %d bytes decoded", name, n, len(v))
			}
		}
		if _, err := decodePersonRow(append(v[:len(v):len(v)], 0)); err == nil {
			t.Errorf("%s: a row with a byte more decoded", name)
		}
	}
	if v := appendPersonRow(nil, rows["joined"]); len(v) > 45 {
		t.Errorf("a member's row takes %d bytes, want at most 45 (its JSON took %d)", len(v), len(mustJSON(t, rows["joined"])))
	}
	if _, err := decodePersonRow([]byte{9, 0}); err == nil || !strings.Contains(err.Error(), "unknown format 9") {
		t.Errorf("a row of an unknown format: %v", err)
	}

	// A store holding rows of both forms: the JSON rows as PutPerson wrote them before.
	s := openPersonsTest(t)
	err := s.db.Update(func(txn *badger.Txn) error {
		for name, p := range rows {
			v := appendPersonRow(nil, p)
			if strings.HasPrefix(name, "l") || strings.HasPrefix(name, "d") {
				v = mustJSON(t, p)
			}
			if err := txn.Set(PersonKey(name), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range rows {
		if got, ok, err := s.Person(name); err != nil || !ok || !same(got, p) {
			t.Errorf("Person(%s): %+v %v %v; want %+v", name, got, ok, err, p)
		}
	}
	seen := map[string]string{}
	if err := s.EachPerson(func(k, hh string) error { seen[k] = hh; return nil }); err != nil {
		t.Fatal(err)
	}
	for name, p := range rows {
		if hh, ok := seen[name]; !ok || hh != p.HouseholdID {
			t.Errorf("EachPerson: %s → %q, %v; want %q", name, hh, ok, p.HouseholdID)
		}
	}
	if n, err := s.CountPersons(); err != nil || n != 4 {
		t.Errorf("CountPersons (a scan of both forms): %d, %v; want 4", n, err)
	}
}

func mustJSON(t *testing.T, p Person) []byte {
	t.Helper()
	v, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// FuzzPersonRow: no input makes the decoder panic, and a row it accepts encodes back to bytes
// that decode to the same person.
func FuzzPersonRow(f *testing.F) {
	f.Add(appendPersonRow(nil, Person{HouseholdID: "hh-1", Fact: "member_joined", FactHousehold: "hh-1", OccurredAt: time.Unix(1700000000, 5), EventID: "e1"}))
	f.Add(appendPersonRow(nil, Person{Fact: "x", FactHousehold: "hh-2"}))
	f.Add([]byte(`{"household_id":"hh-1","fact":"died"}`))
	f.Fuzz(func(t *testing.T, v []byte) {
		p, err := decodePersonRow(v)
		if err != nil || len(v) == 0 || v[0] != personRowV1 {
			return
		}
		again := appendPersonRow(nil, p)
		if q, err := decodePersonRow(again); err != nil || q != p {
			t.Fatalf("%x decodes to %+v, which encodes to %x, which decodes to %+v, %v", v, p, again, q, err)
		}
	})
}
