package household

import (
	"testing"
	"time"

	"safetynet/stream/feed"
)

// A household's area is its head's latest registry area, else the newest of any member's.
func TestAreaCode(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	reg := func(key, id, relation, area string, days int) *feed.HouseholdEvent {
		return &feed.HouseholdEvent{EventID: id, Feed: feed.Registry, Type: "member_joined", PersonKey: key,
			OccurredAt: at.AddDate(0, 0, days), Relation: relation, AreaCode: area}
	}
	for _, tc := range []struct {
		name   string
		events []*feed.HouseholdEvent
		want   string
	}{
		{"none", []*feed.HouseholdEvent{reg("a", "1", "head", "", 0)}, ""},
		{"head's latest", []*feed.HouseholdEvent{reg("a", "1", "head", "420106001001", 0), reg("a", "2", "", "420106002003", 5), reg("b", "3", "child", "420106009009", 9)}, "420106002003"},
		{"head's over a newer member's", []*feed.HouseholdEvent{reg("b", "3", "spouse", "420106009009", 9), reg("a", "1", "head", "420106001001", 0)}, "420106001001"},
		{"no head: newest member's", []*feed.HouseholdEvent{reg("b", "3", "spouse", "420106009009", 9), reg("c", "1", "child", "420106001001", 0)}, "420106009009"},
		{"head without area: a member's", []*feed.HouseholdEvent{reg("a", "1", "head", "", 0), reg("c", "2", "child", "420106001001", 1)}, "420106001001"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := New("H", 0)
			for _, e := range tc.events {
				if _, err := h.Apply(e); err != nil {
					t.Fatal(err)
				}
			}
			if got := h.AreaCode(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			v, err := Encode(h)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Decode(v)
			if err != nil {
				t.Fatal(err)
			}
			if got := back.AreaCode(); got != tc.want {
				t.Errorf("after the codec: got %q, want %q", got, tc.want)
			}
		})
	}
}
