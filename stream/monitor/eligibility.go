package monitor

import (
	"strings"

	"safetynet/scorer"
	"safetynet/scorer/declare"
	"safetynet/stream/household"
	"safetynet/stream/monitor/episode"
)

// eligibility is the other way of eligibility (docs/verifications.md#eligibility-reviews): after
// a household receiving aid was assessed, its records since the aid began (or since its last
// eligibility visit) are checked for recovery — per-capita income above the exit line for the
// model's aid.recovered_months, or a vehicle, property or business registered. Signs of recovery
// open an eligibility case (<household>-e-<YYYY-MM>) and publish an eligibility_review alert with
// the reasons, in the batch's write-ahead step like every alert. Nothing for the past during a
// backfill.
func (b *batch) eligibility(h *household.Household) {
	if b.quiet || h.ReceivingAid() == nil {
		return
	}
	reasons := declare.CheckEligibility(b.model.Aid().Aid, b.model.Declarations(), b.model.AidExitLine(), h.Records, h.EligibilityFrom(), b.now)
	if len(reasons) == 0 {
		return
	}
	codes := make([]string, len(reasons))
	for i, r := range reasons {
		codes[i] = r.Code
	}
	c := h.OpenEligibilityReview(codes, b.now, b.now.Add(b.model.Aid().CaseWithin))
	if c == nil {
		return
	}
	a := scorer.Assess(b.model, h.Scorer(), b.now)
	al := episode.NewAlert(b.model, h, a, household.StatusEligibilityReview, h.Level, h.Level, household.Cause{Kind: household.CauseAidCheck}, b.now)
	al.AlertID = household.AlertID(h.ID, 0, 0, household.StatusEligibilityReview, c.ID)
	al.Eligibility = reasons
	zh, en := make([]string, len(reasons)), make([]string, len(reasons))
	for i, r := range reasons {
		zh[i], en[i] = r.ZH, r.EN
	}
	al.Summary = "救助资格复核：" + strings.Join(zh, "；") + " / eligibility review: " + strings.Join(en, "; ")
	b.alerts = append(b.alerts, al)
}
