package intake

import (
	"safetynet/stream/feed"
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
	stop := make(chan struct{})
	close(stop)
	y := newPersonIndex()
	if err := y.load(store, &mu, stop); err == nil || y.loaded.Load() {
		t.Errorf("stopped load: err %v, loaded %v; want an error and not loaded", err, y.loaded.Load())
	}
}
