package state

import (
	"encoding/json"
	"testing"
	"time"
)

func TestPersonHouseholdMatchesJSON(t *testing.T) {
	at := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, p := range []Person{
		{HouseholdID: "hh-1", Fact: "member_joined", FactHousehold: "hh-1", OccurredAt: at, EventID: "e"},
		{Fact: "member_left", FactHousehold: "hh-1", OccurredAt: at, EventID: "e"},
		{HouseholdID: `hh "quoted" \ é`, Fact: "died", OccurredAt: at},
		{HouseholdID: "<&>", Fact: "member_joined"},
	} {
		v, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := personHousehold(v)
		if err != nil || got != p.HouseholdID {
			t.Errorf("personHousehold(%s) = %q, %v; want %q", v, got, err, p.HouseholdID)
		}
	}
	if _, err := personHousehold([]byte(`{"household_id":`)); err == nil {
		t.Errorf("truncated row: no error")
	}
}

func FuzzPersonHousehold(f *testing.F) {
	f.Add([]byte(`{"household_id":"hh-1","fact":"member_joined"}`))
	f.Add([]byte(`{"fact":"member_left","fact_household":"x"}`))
	f.Add([]byte(`{"household_id":"a\"b"}`))
	f.Fuzz(func(t *testing.T, v []byte) {
		got, err := personHousehold(v)
		var p Person
		jerr := json.Unmarshal(v, &p)
		if err == nil && jerr == nil && got != p.HouseholdID {
			t.Fatalf("personHousehold(%q) = %q; encoding/json reads %q", v, got, p.HouseholdID)
		}
	})
}
