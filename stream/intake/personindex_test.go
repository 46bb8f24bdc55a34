package intake

import (
	"fmt"
	"safetynet/stream/feed"
	"strings"
	"sync"
	"testing"
	"time"

	"safetynet/state"
)

func TestPersonIndexLoadAndSet(t *testing.T) {
	store, err := state.Open(state.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	p, err := feed.NewPseudonymizer([]byte("5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d"))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	member, left, newer, absent := p.Key("a"), p.Key("b"), p.Key("c"), p.Key("d")
	odd := "not-a-hex-person-key" // never made by Key; the index leaves it to the store
	rows := map[string]state.Person{
		member: {HouseholdID: "hh-1", Fact: "member_joined", FactHousehold: "hh-1", OccurredAt: at, EventID: "e1"},
		left:   {Fact: "member_left", FactHousehold: "hh-2", OccurredAt: at, EventID: "e2"},
		newer:  {HouseholdID: "hh-old", Fact: "member_joined", FactHousehold: "hh-old", OccurredAt: at, EventID: "e3"},
		odd:    {HouseholdID: "hh-odd", Fact: "member_joined", FactHousehold: "hh-odd", OccurredAt: at, EventID: "e4"},
	}
	if err := store.Update(func(tx *state.Tx) error {
		for k, r := range rows {
			if err := tx.PutPerson(k, r); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	x := newPersonIndex()
	if _, ok := x.lookup(member); ok {
		t.Fatalf("lookup before the load is definitive; want it left to the store")
	}
	if x.noRow(absent) {
		t.Fatalf("noRow before the load; want the registry reader to ask the store")
	}
	x.set(newer, "hh-new") // the registry reader committed a newer row before the load read it
	var mu sync.Mutex
	if err := x.load(store, &mu, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, key, want string
		definitive      bool
	}{
		{"member", member, "hh-1", true},
		{"left", left, "", true},
		{"set during the load wins", newer, "hh-new", true},
		{"not in the table", absent, "", true},
		{"not a person key", odd, "", false},
	} {
		got, ok := x.lookup(c.key)
		if got != c.want || ok != c.definitive {
			t.Errorf("%s: lookup = %q, %v; want %q, %v", c.name, got, ok, c.want, c.definitive)
		}
	}
	// The registry reader skips its read of the store only for a key with no row at all: a
	// person who left has a row, whose fact orders the facts that come after it.
	for key, want := range map[string]bool{member: false, left: false, newer: false, absent: true, odd: false} {
		if got := x.noRow(key); got != want {
			t.Errorf("noRow(%s) = %v, want %v", key, got, want)
		}
	}
	stop := make(chan struct{})
	close(stop)
	y := newPersonIndex()
	if err := y.load(store, &mu, stop); err == nil || y.loaded.Load() {
		t.Errorf("stopped load: err %v, loaded %v; want an error and not loaded", err, y.loaded.Load())
	}
}

// TestPersonIndexMovesAndArena moves persons between households again and again and checks
// every answer against a plain map, that ids too long for the arena are kept, and that the
// records left behind by moves are reclaimed (the arena stays near what the live rows need).
func TestPersonIndexMovesAndArena(t *testing.T) {
	const persons, households, rounds = 5000, 1500, 40
	key := func(i int) string { return fmt.Sprintf("%032x", i*7919+1) }
	hh := func(i int) string { return fmt.Sprintf("HH-%06d", i) }
	long := strings.Repeat("L", maxArenaID+1)
	x := newPersonIndex()
	want := map[string]string{}
	for r := range rounds {
		for i := range persons {
			var h string
			switch {
			case (i+r)%11 == 0:
				h = "" // left
			case i%97 == 0:
				h = long + hh(r)
			default:
				h = hh((i/3 + r*131) % households) // about three persons a household
			}
			x.set(key(i), h)
			want[key(i)] = h
		}
		x.loaded.Store(true)
		for k, h := range want {
			if got, ok := x.lookup(k); got != h || !ok {
				t.Fatalf("round %d: lookup(%s) = %q, %v; want %q, true", r, k, got, ok, h)
			}
		}
	}
	if got, ok := x.lookup(key(persons)); got != "" || !ok {
		t.Errorf("unknown person: lookup = %q, %v; want \"\", true", got, ok)
	}
	if x.ids.bytes() == 0 || len(x.long) == 0 {
		t.Fatalf("arena %d bytes, %d long ids: want both used", x.ids.bytes(), len(x.long))
	}
	// What the live rows need: one record a household. The arena may hold besides the records
	// left behind since the last compaction: at most one for each of the changes that trigger one.
	need, distinct := 0, map[string]bool{}
	for _, h := range want {
		if h != "" && len(h) <= maxArenaID && !distinct[h] {
			distinct[h] = true
			need += 1 + len(h)
		}
	}
	if got, most := x.ids.bytes(), need+max(len(want)/2, minCompact)*(1+len(hh(0))); got > most {
		t.Errorf("arena holds %d bytes after %d rounds of moves; want at most %d (live records %d)", got, rounds, most, need)
	}
	// Members of a household added together share one record.
	y := newPersonIndex()
	for i := range 3000 {
		y.set(key(i), hh(i/3))
	}
	if got, most := y.ids.bytes(), 1000*(1+len(hh(0))); got > most {
		t.Errorf("3,000 persons in 1,000 households take %d arena bytes; want at most %d (one record a household)", got, most)
	}
}
