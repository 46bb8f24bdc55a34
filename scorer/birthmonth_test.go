package scorer

import (
	"path/filepath"
	"testing"
	"time"
)

// Past intake a birth date is known to the month only (the 1st of the birth month): the exact
// date beside the masked ID number would give the hidden digits back. These tests show what the
// model loses by that.

func monthOnly(h Household) Household {
	out := h
	out.Members = append([]Member(nil), h.Members...)
	for i := range out.Members {
		if b := out.Members[i].BirthDate; !b.IsZero() {
			y, m, _ := b.Date()
			out.Members[i].BirthDate = time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
		}
	}
	return out
}

// The stories give the same level and total with birth months as with exact birth dates.
func TestStoriesSameWithBirthMonth(t *testing.T) {
	m := Default()
	for _, tc := range []struct {
		file string
		at   time.Time
	}{
		{"1-unemployed-nephritis.json", date("2025-06-30")},
		{"2-rural-leukaemia.json", date("2025-06-30")},
		{"3-elderly-alone-disabled.json", date("2025-06-30")},
		{"4-two-earners.json", date("2025-06-30")},
		{"5-recovered.json", date("2026-07-12")},
		{"6a-sole-earner.json", date("2025-06-30")},
		{"6b-sole-earner-died.json", date("2025-06-30")},
	} {
		h := loadHousehold(t, filepath.Join("testdata", "stories", tc.file))
		exact, month := Assess(m, h, tc.at), Assess(m, monthOnly(h), tc.at)
		if got, want := m.Classify(month, LevelNone), m.Classify(exact, LevelNone); got != want {
			t.Errorf("%s: level with birth month %q, with exact birth date %q", tc.file, got, want)
		}
		if month.Total != exact.Total {
			t.Errorf("%s: total with birth month %v, with exact birth date %v", tc.file, month.Total, exact.Total)
		}
	}
}

// Over random households at random times, the level or total differs only when an age
// threshold (6, 16, 18, 60) falls in the month of the assessment: the 1st of the month moves a
// birthday at most 30 days earlier. The count is logged.
func TestPropertyBirthMonthDiffersOnlyNearABirthday(t *testing.T) {
	m := Default()
	const n = 20000
	differ := 0
	for seed := range uint64(n) {
		g := newGen(seed)
		h := g.household()
		exact, month := Assess(m, h, g.now), Assess(m, monthOnly(h), g.now)
		if m.Classify(exact, LevelNone) == m.Classify(month, LevelNone) && exact.Total == month.Total {
			continue
		}
		differ++
		if !nearBirthday(h, g.now) {
			t.Errorf("seed %d: total %v with birth months, %v exact, and no threshold birthday within a month of %v",
				seed, month.Total, exact.Total, g.now)
		}
	}
	t.Logf("%d of %d random households score differently with birth months (%.2f%%)", differ, n, 100*float64(differ)/n)
}

// nearBirthday reports whether some member turns 6, 16, 18 or 60 within 31 days after now.
func nearBirthday(h Household, now time.Time) bool {
	for _, mem := range h.Members {
		if mem.BirthDate.IsZero() {
			continue
		}
		for _, age := range []int{ageSchool, ageAdult, ageSchoolEnd, ageElderly} {
			if d := mem.BirthDate.AddDate(age, 0, 0); !d.Before(now.AddDate(0, 0, -1)) && d.Before(now.AddDate(0, 0, 32)) {
				return true
			}
		}
	}
	return false
}
