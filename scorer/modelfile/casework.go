package modelfile

import (
	"math"
	"strings"
	"time"
)

// Casework is the model's casework section: how soon a caseworker must visit a household
// after its case opens, per level, and how long a visit that found no need quiets the
// household's alerts (the snooze), unless a trigger fires or the score rises by
// SnoozeBreakPoints.
type Casework struct {
	VisitWithin       map[string]time.Duration // by level
	Snooze            time.Duration
	SnoozeBreakPoints float64
}

// DefaultCasework are the casework section's defaults.
var DefaultCasework = Casework{
	VisitWithin:       map[string]time.Duration{LevelUrgent: 3 * 24 * time.Hour, LevelWarning: 7 * 24 * time.Hour, LevelWatch: 30 * 24 * time.Hour},
	Snooze:            90 * 24 * time.Hour,
	SnoozeBreakPoints: 15,
}

// caseworkFile is the optional casework section as written.
type caseworkFile struct {
	VisitWithin       map[string]string `yaml:"visit_within"`
	Snooze            string            `yaml:"snooze"`
	SnoozeBreakPoints *float64          `yaml:"snooze_break_points"`
}

// fixedSpan reads a span of fixed length (hours, days, weeks) for field.
func fixedSpan(field, text string) (time.Duration, error) {
	sp, e := ParseSpan(text)
	if e != nil {
		return 0, fail("%s: %v", field, e)
	}
	d, ok := sp.Fixed()
	if !ok {
		return 0, fail("%s: %s: give it in hours, days or weeks (e.g. 7d)", field, sp)
	}
	return d, nil
}

// buildCasework reads the optional casework section; what it leaves out takes the defaults.
func (m *Spec) buildCasework(f *modelFile) error {
	c := DefaultCasework
	c.VisitWithin = map[string]time.Duration{}
	for k, v := range DefaultCasework.VisitWithin {
		c.VisitWithin[k] = v
	}
	if f.Casework != nil {
		for level, text := range f.Casework.VisitWithin {
			if LevelRank(level) == 0 {
				return fail("casework.visit_within.%s: not a level (want one of %s)", level, strings.Join(LevelNames, ", "))
			}
			d, err := fixedSpan("casework.visit_within."+level, text)
			if err != nil {
				return err
			}
			c.VisitWithin[level] = d
		}
		if f.Casework.Snooze != "" {
			d, err := fixedSpan("casework.snooze", f.Casework.Snooze)
			if err != nil {
				return err
			}
			c.Snooze = d
		}
		if p := f.Casework.SnoozeBreakPoints; p != nil {
			if math.IsNaN(*p) || *p <= 0 || *p > 100 {
				return fail("casework.snooze_break_points: %v: want a number of points above 0 and at most 100", *p)
			}
			c.SnoozeBreakPoints = *p
		}
	}
	if c.VisitWithin[LevelUrgent] > c.VisitWithin[LevelWarning] || c.VisitWithin[LevelWarning] > c.VisitWithin[LevelWatch] {
		return fail("casework.visit_within: a higher level must not allow longer to visit (urgent %v, warning %v, watch %v)",
			c.VisitWithin[LevelUrgent], c.VisitWithin[LevelWarning], c.VisitWithin[LevelWatch])
	}
	m.Casework = c
	return nil
}
