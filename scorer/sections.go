package scorer

import (
	"time"

	"safetynet/scorer/modelfile"
)

// The model's casework, declarations and aid sections (package modelfile reads and checks
// them, with their defaults), and the aid section's rules that need a household.

// Casework returns the model's casework settings (a copy).
func (m *Model) Casework() modelfile.Casework {
	c := m.casework
	out := c
	out.VisitWithin = make(map[string]time.Duration, len(c.VisitWithin))
	for k, v := range c.VisitWithin {
		out.VisitWithin[k] = v
	}
	return out
}

// VisitDue returns when a case opened at opened at level must have been visited by.
func (m *Model) VisitDue(level string, opened time.Time) time.Time {
	d := m.casework.VisitWithin[level] // every level has one (modelfile fills the defaults)
	if d == 0 {
		return time.Time{}
	}
	return opened.Add(d)
}

// Declarations returns the model's declarations settings (package scorer/declare checks a
// declaration with them).
func (m *Model) Declarations() modelfile.Declarations { return m.declarations }

// Aid is the model's aid section (modelfile.Aid), with the rules that need a household.
type Aid struct{ modelfile.Aid }

// Aid returns the model's aid settings.
func (m *Model) Aid() Aid { return Aid{m.aid} }

// AbleToWork reports whether a member is of working age at at, alive and with no disability
// registered.
func (a Aid) AbleToWork(mb Member, at time.Time) bool {
	if mb.Died != nil && !mb.Died.After(at) || mb.BirthDate.IsZero() {
		return false
	}
	if d := mb.Disability; d != nil && !d.Revoked && d.Grade > 0 {
		return false
	}
	from := mb.BirthDate.AddDate(a.WorkingAgeFrom, 0, 0)
	to := mb.BirthDate.AddDate(a.WorkingAgeTo, 0, 0)
	return !at.Before(from) && at.Before(to)
}

// ReviewDue returns when a household receiving aid under program since (or last reviewed then)
// is next due for review: the zero time for a programme that is not reviewed.
func (a Aid) ReviewDue(program string, h Household, since time.Time) time.Time {
	n := a.ReviewMonths[program]
	if k, ok := a.ReviewMonthsAbleToWork[program]; ok {
		for _, mb := range h.Members {
			if a.AbleToWork(mb, since) {
				n = k
				break
			}
		}
	}
	if n == 0 {
		return time.Time{}
	}
	return since.AddDate(0, n, 0)
}
