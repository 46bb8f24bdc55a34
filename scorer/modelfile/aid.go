package modelfile

import (
	"math"
	"slices"
	"strings"
	"time"
)

// Aid is the model's aid section: how often a household receiving aid is reviewed, per
// programme (sooner when it has a member of working age able to work), how long a caseworker
// has for a verification, review or spot check case, and the monthly spot check's share and
// seed.
type Aid struct {
	// ReviewMonths is the months between reviews per programme; ReviewMonthsAbleToWork
	// replaces it for a household with a member of working age able to work. A programme not
	// listed is not reviewed.
	ReviewMonths           map[string]int
	ReviewMonthsAbleToWork map[string]int
	// WorkingAgeFrom and WorkingAgeTo: a member is of working age from the first birthday to
	// before the second; able to work when alive and with no disability registered (or it was
	// revoked).
	WorkingAgeFrom, WorkingAgeTo int
	// CaseWithin is how long a caseworker has for a verification, review or spot check case.
	CaseWithin time.Duration
	// SpotCheckShare is the share of households receiving aid drawn each month (0: none);
	// SpotCheckSeed the key of the draw (SAFETYNET_SPOTCHECK_SEED overrides it).
	SpotCheckShare float64
	SpotCheckSeed  string
	// RecoveredMonths: a household receiving aid whose per-capita income is above the exit line
	// at the start of this many consecutive months is up for an eligibility review (0: never
	// by income). ExitLine is that line as a multiple of the standard; 0 takes the income
	// dimension's zero point (margin × standard).
	RecoveredMonths int
	ExitLine        float64
}

// DefaultAid are the aid section's defaults.
var DefaultAid = Aid{
	ReviewMonths:           map[string]int{"dibao": 12, "tekun": 12},
	ReviewMonthsAbleToWork: map[string]int{"dibao": 6},
	WorkingAgeFrom:         16, WorkingAgeTo: 60,
	CaseWithin:      30 * 24 * time.Hour,
	SpotCheckShare:  0.05,
	RecoveredMonths: 3,
}

// aidFile is the optional aid section as written.
type aidFile struct {
	ReviewMonths           map[string]int `yaml:"review_months"`
	ReviewMonthsAbleToWork map[string]int `yaml:"review_months_able_to_work"`
	WorkingAge             []int          `yaml:"working_age"`
	CaseWithin             string         `yaml:"case_within"`
	SpotCheckShare         *float64       `yaml:"spot_check_share"`
	SpotCheckSeed          string         `yaml:"spot_check_seed"`
	RecoveredMonths        *int           `yaml:"recovered_months"`
	ExitLine               *float64       `yaml:"exit_line"`
}

// AidPrograms are the programmes an aid section may name.
var AidPrograms = []string{"dibao", "tekun", "temporary", "medical", "other"}

// buildAid reads the optional aid section; what it leaves out takes the defaults.
func (m *Spec) buildAid(f *modelFile) error {
	a := DefaultAid
	s := f.Aid
	if s == nil {
		m.Aid = a
		return nil
	}
	for _, mp := range []struct {
		field string
		v     map[string]int
		dst   *map[string]int
	}{
		{"aid.review_months", s.ReviewMonths, &a.ReviewMonths},
		{"aid.review_months_able_to_work", s.ReviewMonthsAbleToWork, &a.ReviewMonthsAbleToWork},
	} {
		if mp.v == nil {
			continue
		}
		for p, n := range mp.v {
			if !slices.Contains(AidPrograms, p) {
				return fail("%s.%s: not a programme (want one of %s)", mp.field, p, strings.Join(AidPrograms, ", "))
			}
			if n < 1 || n > 120 {
				return fail("%s.%s: %d: want months from 1 to 120", mp.field, p, n)
			}
		}
		*mp.dst = mp.v
	}
	if s.WorkingAge != nil {
		if len(s.WorkingAge) != 2 || s.WorkingAge[0] < 0 || s.WorkingAge[1] <= s.WorkingAge[0] || s.WorkingAge[1] > 120 {
			return fail("aid.working_age: %v: want [from, to] in years, from below to", s.WorkingAge)
		}
		a.WorkingAgeFrom, a.WorkingAgeTo = s.WorkingAge[0], s.WorkingAge[1]
	}
	if s.CaseWithin != "" {
		d, err := fixedSpan("aid.case_within", s.CaseWithin)
		if err != nil {
			return err
		}
		if d <= 0 {
			return fail("aid.case_within: %s: want a span above zero", s.CaseWithin)
		}
		a.CaseWithin = d
	}
	if p := s.SpotCheckShare; p != nil {
		if math.IsNaN(*p) || *p < 0 || *p > 1 {
			return fail("aid.spot_check_share: %v: want a share from 0 to 1", *p)
		}
		a.SpotCheckShare = *p
	}
	a.SpotCheckSeed = s.SpotCheckSeed
	if n := s.RecoveredMonths; n != nil {
		if *n < 0 || *n > 24 {
			return fail("aid.recovered_months: %d: want months from 0 (off) to 24", *n)
		}
		a.RecoveredMonths = *n
	}
	if x := s.ExitLine; x != nil {
		if math.IsNaN(*x) || *x < 0 || *x > 20 {
			return fail("aid.exit_line: %v: want a multiple of the standard from 0 (the income dimension's zero point) to 20", *x)
		}
		a.ExitLine = *x
	}
	m.Aid = a
	return nil
}
