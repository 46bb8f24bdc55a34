package household

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"safetynet/stream/feed"
)

// A person read from a stored value keeps its stored form, and AppendEncode copies it until
// the person changes: the bytes are those it was read from, and a changed person is encoded
// again with its new fact.
func TestStoredFormCopiedUntilChanged(t *testing.T) {
	b, err := Encode(codecSample())
	if err != nil {
		t.Fatal(err)
	}
	h, err := DecodeImmutable(b)
	if err != nil {
		t.Fatal(err)
	}
	for k, p := range h.Persons {
		if !p.pending || p.raw == nil {
			t.Fatalf("person %s: pending %v, stored form kept %v; want its facts left in stored form", k, p.pending, p.raw != nil)
		}
	}
	if again, _ := Encode(h); !bytes.Equal(again, b) {
		t.Fatal("a household read and not changed encodes to other bytes")
	}
	if area := h.AreaCode(); area != "420106001001" {
		t.Errorf("area code of the pending persons: %q", area)
	}
	if sh := h.Scorer(); len(sh.Members) != 1 || sh.Members[0].Employment == nil || sh.Members[0].Employment.MonthlyWage != 3100.5 {
		t.Errorf("the scorer's view of the pending persons: %+v", sh.Members)
	}
	if !h.Persons["k1"].pending {
		t.Error("scoring read a person's facts into the household: they should stay pending")
	}

	wage := 4000.0
	e := &feed.HouseholdEvent{Feed: feed.Employment, Type: "employed", EventID: "e3", PersonKey: "k1",
		OccurredAt: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC), MonthlyWage: &wage}
	if changed, err := h.Apply(e); err != nil || !changed {
		t.Fatalf("apply: changed %v, %v", changed, err)
	}
	k1, k0 := h.Persons["k1"], h.Persons["k0"]
	if k1.pending || k1.raw != nil {
		t.Error("the changed person still holds its stored form: its new fact would not be written")
	}
	if !k0.pending || k0.raw == nil {
		t.Error("the unchanged person lost its stored form")
	}
	out, err := Encode(h)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(h)
	if got, _ := json.Marshal(back); !bytes.Equal(got, want) {
		t.Errorf("encoded after the change:\n got %s\nwant %s", got, want)
	}
	if !strings.Contains(string(want), `"id":"e3"`) {
		t.Error("the new fact is missing from the household's JSON")
	}
	// Applying the same event again changes nothing, and keeps the person's form.
	again, _ := DecodeImmutable(out)
	if changed, _ := again.Apply(e); changed {
		t.Error("an event applied twice changed the household")
	}
	if again.Persons["k1"].raw == nil {
		t.Error("an event that changed nothing dropped the person's stored form")
	}
}

// A stored value whose facts are not as this build writes them (a birth date with its day,
// from before the month-only rule) is read whole and encoded again: its stored form is not
// copied, so the day does not survive the next write.
func TestStoredFormNotCopiedWhenReadDifferently(t *testing.T) {
	h := codecSample()
	day := time.Date(1961, 3, 17, 0, 0, 0, 0, time.UTC)
	h.Persons["k1"].Registry[0].BirthDate = &day
	b, err := Encode(h)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeImmutable(b)
	if err != nil {
		t.Fatal(err)
	}
	p := got.Persons["k1"]
	if p.pending || p.raw != nil {
		t.Fatal("a person read with its birth day dropped kept its stored form")
	}
	if bd := p.Registry[0].BirthDate; bd == nil || bd.Day() != 1 {
		t.Fatalf("birth date read as %v, want the first of the month", bd)
	}
	out, _ := Encode(got)
	if bytes.Equal(out, b) {
		t.Fatal("the value was written back with the birth day")
	}
	if !got.Persons["k0"].pending {
		t.Error("the other person, read as stored, was not left pending")
	}
}
