package household

import (
	"slices"
	"time"

	"safetynet/stream/feed"
)

// NotReceivingAid reports whether the household is at a level (watch or above) yet receives no
// aid and has no application pending or approved: a household in need that the agency may not
// have reached (应保尽保, every eligible household covered). A rejected or withdrawn
// application does not lift the flag: the household is still at a level without aid.
func (h *Household) NotReceivingAid() bool {
	if h.Level == "" || h.ReceivingAid() != nil {
		return false
	}
	if h.Declarations != nil {
		for i := range h.Declarations.Applications {
			switch h.Declarations.Applications[i].Status() {
			case feed.AppSubmitted, feed.DecisionApproved:
				return false
			}
		}
	}
	return true
}

// StatusEligibilityReview is the status of the alert that announces an eligibility review: a
// household receiving aid whose records show it has recovered (docs/alerts.md). Its level and
// previous_level are the household's level, unchanged; its eligibility field has the reasons.
const StatusEligibilityReview = "eligibility_review"

// EligibilityFrom is the instant from which the household's records count for an eligibility
// review: the start of its aid, or the visit of its newest eligibility review closed since
// then (a caseworker who found it still eligible saw what was there).
func (h *Household) EligibilityFrom() time.Time {
	a := h.ReceivingAid()
	if a == nil {
		return time.Time{}
	}
	from := a.Since
	for i := range h.Casework.Cases {
		c := &h.Casework.Cases[i]
		if c.Kind != KindEligibility || c.Status != CaseClosed || !c.OpenedAt.After(a.Since) {
			continue
		}
		t := c.VisitedAt
		if t.IsZero() {
			t = c.ClosedAt
		}
		if t.After(from) {
			from = t
		}
	}
	return from
}

// OpenEligibilityReview opens an eligibility case for the household's aid with the reasons'
// codes as its triggers, unless one is open or one was opened this month; due is the visit
// deadline. An open case takes the newest codes.
func (h *Household) OpenEligibilityReview(codes []string, now, due time.Time) *Case {
	a := h.ReceivingAid()
	if a == nil || len(codes) == 0 {
		return nil
	}
	for i := range h.Casework.Cases {
		c := &h.Casework.Cases[i]
		if c.Kind == KindEligibility && c.Status != CaseClosed {
			c.Triggers = slices.Clone(codes)
			return nil
		}
	}
	id := feed.EligibilityCaseID(h.ID, now)
	if h.Case(id) != nil {
		return nil
	}
	return h.openCase(Case{ID: id, Kind: KindEligibility, Status: CaseOpen, Triggers: slices.Clone(codes), OpenedAt: now, DueBy: due,
		Program: a.Program, Month: now.UTC().Format(feed.MonthLayout)})
}
