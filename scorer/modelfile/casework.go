package scorer

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

// Defaults of the casework section.
var defaultCasework = Casework{
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

// Casework returns the model's casework settings (a copy).
func (m *Model) Casework() Casework {
	c := m.casework
	if c.VisitWithin == nil {
		c = defaultCasework
	}
	out := c
	out.VisitWithin = make(map[string]time.Duration, len(c.VisitWithin))
	for k, v := range c.VisitWithin {
		out.VisitWithin[k] = v
	}
	return out
}

// VisitDue returns when a case opened at opened at level must have been visited by.
func (m *Model) VisitDue(level string, opened time.Time) time.Time {
	d, ok := m.casework.VisitWithin[level]
	if !ok {
		d = defaultCasework.VisitWithin[level]
	}
	if d == 0 {
		return time.Time{}
	}
	return opened.Add(d)
}

// fixedSpan reads a span of fixed length (hours, days, weeks) for field.
func fixedSpan(field, text string) (time.Duration, error) {
	sp, e := parseSpan(text)
	if e != nil {
		return 0, fail("%s: %v", field, e)
	}
	d, ok := sp.fixed()
	if !ok {
		return 0, fail("%s: %s: give it in hours, days or weeks (e.g. 7d)", field, sp)
	}
	return d, nil
}

// buildCasework reads the optional casework section; what it leaves out takes the defaults.
func (m *Model) buildCasework(f *modelFile) error {
	c := defaultCasework
	c.VisitWithin = map[string]time.Duration{}
	for k, v := range defaultCasework.VisitWithin {
		c.VisitWithin[k] = v
	}
	if f.Casework != nil {
		for level, text := range f.Casework.VisitWithin {
			if LevelRank(level) == 0 {
				return fail("casework.visit_within.%s: not a level (want one of %s)", level, strings.Join(levelNames, ", "))
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
	m.casework = c
	return nil
}
