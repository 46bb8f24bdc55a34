package intake

import (
	"fmt"
	"safetynet/stream/feed"
	"testing"
	"time"

	"safetynet/state"
)

// TestApplyRegistryFactOrder: the table row is a function of the set of registry facts, not of
// the order they arrive in.
func TestApplyRegistryFactOrder(t *testing.T) {
	at := func(d int) time.Time { return time.Date(2024, 1, d, 0, 0, 0, 0, time.UTC) }
	facts := []feed.HouseholdEvent{
		{EventID: "e1", Type: "member_joined", HouseholdID: "H1", OccurredAt: at(1)},
		{EventID: "e2", Type: "member_left", HouseholdID: "H1", OccurredAt: at(5)},
		{EventID: "e3", Type: "member_joined", HouseholdID: "H2", OccurredAt: at(6)},
		{EventID: "e4", Type: "member_left", HouseholdID: "H1", OccurredAt: at(7)}, // stale: already in H2
		{EventID: "e5", Type: "died", HouseholdID: "H2", OccurredAt: at(9)},
	}
	tests := []struct {
		name  string
		order []int
		want  string // household after all facts
	}{
		{"in order", []int{0, 1, 2, 3, 4}, "H2"},
		{"reversed", []int{4, 3, 2, 1, 0}, "H2"},
		{"shuffled", []int{2, 0, 4, 1, 3}, "H2"},
		{"left last", []int{0, 1}, ""},
		{"left before joined arrives", []int{1, 0}, ""},
		{"moved", []int{0, 2, 1}, "H2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var row state.Person
			found := false
			for _, n := range tc.order {
				if next, changed := applyRegistryFact(row, found, facts[n]); changed {
					row, found = next, true
				}
			}
			if row.HouseholdID != tc.want {
				t.Errorf("got household %q (%+v), want %q", row.HouseholdID, row, tc.want)
			}
		})
	}
	// Every permutation of all five facts gives the same row.
	var want state.Person
	perm(len(facts), func(order []int) {
		var row state.Person
		found := false
		for _, n := range order {
			if next, changed := applyRegistryFact(row, found, facts[n]); changed {
				row, found = next, true
			}
		}
		if want.EventID == "" {
			want = row
		}
		if fmt.Sprint(row) != fmt.Sprint(want) {
			t.Fatalf("order %v: got %+v, want %+v", order, row, want)
		}
	})
	if want.Fact != "died" || want.HouseholdID != "H2" {
		t.Errorf("final row %+v: want died in H2 (the dead stay resolvable)", want)
	}
}

func perm(n int, f func([]int)) {
	a := make([]int, n)
	for i := range a {
		a[i] = i
	}
	var rec func(k int)
	rec = func(k int) {
		if k == n {
			f(a)
			return
		}
		for i := k; i < n; i++ {
			a[k], a[i] = a[i], a[k]
			rec(k + 1)
			a[k], a[i] = a[i], a[k]
		}
	}
	rec(0)
}
