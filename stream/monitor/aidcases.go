package monitor

import (
	"safetynet/scorer"
	"safetynet/stream/feed"
	"safetynet/stream/household"
)

// Cases of declarations and aid in the monitor (household/aidcases.go has the rules): a check
// with discrepancies opens a verification case; a confirmed false declaration is recorded on
// the household and published as a false_declaration verification; an approved application
// makes the household receive aid; a review falls due on its date, when the household's timer
// opens its case; and on the first tick of each month a household receiving aid is in the
// month's spot check draw. Nothing of this happens for the past during a backfill.

// spotCheckSeed is the seed of the spot check draw: SAFETYNET_SPOTCHECK_SEED (Config), else
// the model's aid.spot_check_seed; "" draws nothing.
func (mo *Monitor) spotCheckSeed(m *scorer.Model) string {
	if mo.cfg.SpotCheckSeed != "" {
		return mo.cfg.SpotCheckSeed
	}
	return m.Aid().SpotCheckSeed
}

// aidCases runs after a household was assessed or a casework event applied to it: it keeps
// its aid and review date, opens the review and spot check cases due at the batch's clock, and
// brings the household's timer forward to its next review or the next month's draw.
func (b *batch) aidCases(h *household.Household) {
	aid := b.model.Aid()
	h.AidFromApplications()
	a := h.ReceivingAid()
	if a == nil {
		return
	}
	// The review date follows the household's members (a member able to work brings it
	// forward) until its case opens: whatever order the registry and the decision arrive in.
	if a.ReviewDue.IsZero() || h.Case(feed.ReviewCaseID(h.ID, a.ReviewDue)) == nil {
		from := a.ReviewFrom
		if from.IsZero() {
			from = a.Since
		}
		a.ReviewDue = aid.ReviewDue(a.Program, h.Scorer(), from)
	}
	b.eligibility(h)
	if !b.quiet {
		due := b.now.Add(aid.CaseWithin)
		h.OpenReview(b.now, due)
		h.SpotCheck(b.w.mo.spotCheckSeed(b.model), aid.SpotCheckShare, b.now, due)
	}
	if t := h.AidTimer(b.now, true); !t.IsZero() && (h.NextCheck.IsZero() || t.Before(h.NextCheck)) {
		h.NextCheck = t
	}
}

// noteVerification opens or closes the application's verification case on a check's result.
func (b *batch) noteVerification(h *household.Household, v *household.Verification) {
	h.NoteVerification(v, b.now, b.now.Add(b.model.Aid().CaseWithin))
}

// falseDeclaration publishes the false_declaration verification of a visit that confirmed one.
func (b *batch) falseDeclaration(h *household.Household, e *feed.HouseholdEvent) {
	if b.quiet || e.Type != feed.CaseVisit || e.Case.Outcome != feed.OutcomeFalseDeclarationConfirmed || h.Declarations == nil {
		return
	}
	for _, f := range h.Declarations.FalseDeclarations {
		if f.CaseID == e.Case.CaseID {
			b.verifications = append(b.verifications, h.FalseDeclarationVerification(f, b.model.Version, b.now))
		}
	}
}
