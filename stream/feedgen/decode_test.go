package feedgen

import (
	"slices"
	"testing"
	"time"

	"safetynet/stream/feed"
)

// TestStreamDecoderAgrees runs every generated event through intake's decoder: valid events are
// accepted, malformed ones refused with the reason the generator claims.
func TestStreamDecoderAgrees(t *testing.T) {
	g := New(Config{Seed: 5, Households: 3000, Start: testStart, MalformedRate: 0.05, DuplicateRate: 0.01, UnknownPersonRate: 0.01})
	// The simulated clock runs years past Start in this many events; judge them from after it.
	now := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, ev := range g.Registry() {
		if _, err := feed.Decode(ev.Feed, ev.Value, 64<<10, 24*time.Hour, now); err != nil {
			t.Fatalf("registry event %s refused: %v", ev.Value, err)
		}
	}
	reasons := map[string]int{}
	for i := range 30_000 {
		ev := g.Next()
		_, err := feed.Decode(ev.Feed, ev.Value, 64<<10, 24*time.Hour, now)
		switch {
		case ev.Malformed && err == nil:
			t.Fatalf("event %d %s (%s) accepted", i, ev.Value, ev.Reason)
		case ev.Malformed && err.Reason != ev.Reason:
			t.Errorf("event %d %s: decoder says %v, generator %s", i, ev.Value, err, ev.Reason)
		case !ev.Malformed && err != nil:
			t.Fatalf("event %d %s refused: %v", i, ev.Value, err)
		}
		if ev.Malformed {
			reasons[ev.Reason]++
		}
	}
	if len(reasons) != 7 {
		t.Errorf("reasons seen: %v, want all seven", reasons)
	}
}

// Every household's registry events carry one area code, under the county of its members' ID
// numbers' area list, and households spread over many communities.
func TestRegistryAreaCodes(t *testing.T) {
	g := New(Config{Seed: 9, Households: 2000, Start: testStart})
	now := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	areaOf := map[string]string{}
	distinct := map[string]bool{}
	for _, ev := range g.Registry() {
		r, err := feed.Decode(ev.Feed, ev.Value, 64<<10, 24*time.Hour, now)
		if err != nil {
			t.Fatalf("registry event %s refused: %v", ev.Value, err)
		}
		e := r.Event
		if len(e.AreaCode) != 12 {
			t.Fatalf("registry event %s: area_code %q", ev.Value, e.AreaCode)
		}
		if a, ok := areaOf[e.HouseholdID]; ok && a != e.AreaCode {
			t.Fatalf("household %s in two areas: %s and %s", e.HouseholdID, a, e.AreaCode)
		}
		areaOf[e.HouseholdID] = e.AreaCode
		distinct[e.AreaCode] = true
		county := e.AreaCode[:6]
		if !slices.ContainsFunc(areaCodes, func(a areaCode) bool { return a.code == county }) {
			t.Fatalf("area %s is not under a county of the population", e.AreaCode)
		}
	}
	if len(distinct) < 500 {
		t.Errorf("%d distinct area codes over %d households, want communities spread out", len(distinct), len(areaOf))
	}
}
