package household

import (
	"fmt"
	"math"
	"testing"
	"time"

	"safetynet/stream/feed"
)

// The spot check draw is a pure function of seed, month and household: the same sample for the
// same month and seed, another for another month or seed, about share of the households, only
// those receiving aid at the first instant of the month, and once per month.
func TestSpotCheckDraw(t *testing.T) {
	since := time.Date(2026, 9, 15, 0, 0, 0, 0, time.UTC)
	var hs []*Household
	for i := range 2000 {
		h := New(fmt.Sprintf("H%04d", i), 0)
		h.Casework = &Casework{Aid: &Aid{Program: "dibao", Since: since}}
		hs = append(hs, h)
	}
	sample := func(seed, month string) map[string]bool {
		out := map[string]bool{}
		for _, h := range hs {
			if _, drawn, ok := h.SpotCheckDraw(seed, month, 0.1); ok && drawn {
				out[h.ID] = true
			}
		}
		return out
	}
	nov, again, dec, other := sample("k1", "2026-11"), sample("k1", "2026-11"), sample("k1", "2026-12"), sample("k2", "2026-11")
	if fmt.Sprint(nov) != fmt.Sprint(again) {
		t.Fatal("the same month and seed drew different households")
	}
	if n := len(nov); math.Abs(float64(n)-200) > 60 {
		t.Errorf("%d of 2000 drawn at share 0.1", n)
	}
	if fmt.Sprint(nov) == fmt.Sprint(dec) || fmt.Sprint(nov) == fmt.Sprint(other) {
		t.Error("another month or seed drew the same households")
	}
	if len(sample("k1", "2026-09")) != 0 {
		t.Error("households whose aid began mid-September were in September's draw")
	}

	// Online: the first tick of November draws once and opens the case with the draw recorded.
	now := time.Date(2026, 11, 1, 0, 0, 30, 0, time.UTC)
	opened := map[string]bool{}
	for _, h := range hs {
		if c := h.SpotCheck("k1", 0.1, now, now.Add(30*24*time.Hour)); c != nil {
			opened[h.ID] = true
			if c.ID != feed.SpotCheckCaseID(h.ID, "2026-11") || c.Kind != KindSpotCheck || c.Draw == nil || c.Draw.Seed != "k1" || c.Draw.Value >= 0.1 {
				t.Fatalf("spot check case: %+v", c)
			}
		}
		if h.SpotCheck("k1", 0.1, now.Add(time.Hour), now) != nil {
			t.Fatal("a second tick in the month drew again")
		}
	}
	if fmt.Sprint(opened) != fmt.Sprint(nov) {
		t.Error("the cases opened online differ from the offline draw")
	}
}

// Case ids of every kind read back to their household and what they are about.
func TestCaseIDs(t *testing.T) {
	for _, tc := range []struct{ id, hid, kind string }{
		{"HH-1-3", "HH-1", KindAlert},
		{"HH-1-v-APP-9", "HH-1", KindVerification},
		{"HH-1-r-2026-11", "HH-1", KindReview},
		{"HH-1-s-2026-01", "HH-1", KindSpotCheck},
		{"HH-1-e-2026-03", "HH-1", KindEligibility},
	} {
		ref, ok := feed.ParseCaseID(tc.id)
		if !ok || ref.HouseholdID != tc.hid || ref.Kind != tc.kind {
			t.Errorf("ParseCaseID(%s) = %+v %v", tc.id, ref, ok)
		}
		if ref2, ok := feed.CaseOf(tc.hid, tc.id); !ok || ref2 != ref {
			t.Errorf("CaseOf(%s, %s) = %+v %v", tc.hid, tc.id, ref2, ok)
		}
	}
	if _, ok := feed.CaseOf("HH-2", "HH-1-v-APP-9"); ok {
		t.Error("a case of another household read as HH-2's")
	}
}
