package household

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"time"

	"safetynet/scorer/declare"
	"safetynet/stream/feed"
)

// Cases of declarations and aid: a declaration check that found discrepancies opens a
// verification case; a household receiving aid is reviewed when its review falls due and may be
// drawn for a monthly spot check. The caseworker's outcome is recorded on the household: a
// confirmed false declaration (with its expiry), aid continued, adjusted or terminated.
// safetynet records; it does not punish.

// Draw is how a household was drawn for a spot check: the seed, the month, the share drawn and
// the household's draw value (below the share: drawn). Anyone with the seed and the household
// id can recompute Value (SpotCheckValue).
type Draw struct {
	Seed  string  `json:"seed"`
	Month string  `json:"month"`
	Share float64 `json:"share"`
	Value float64 `json:"value"`
	Area  string  `json:"area,omitempty"`
}

// openCase adds a case, keeping the newest keepCases.
func (h *Household) openCase(c Case) *Case {
	if h.Casework == nil {
		h.Casework = &Casework{}
	}
	cw := h.Casework
	cw.Cases = append(cw.Cases, c)
	if len(cw.Cases) > keepCases {
		cw.Cases = slices.Clone(cw.Cases[len(cw.Cases)-keepCases:])
	}
	return &cw.Cases[len(cw.Cases)-1]
}

// NoteVerification puts a declaration check's result on the application's verification case:
// discrepancies open it (or reopen one closed by data, naming the newest check); a later check
// that finds none closes an open case nobody visited as resolved_by_data. due is when a
// caseworker must have seen a case opened now.
func (h *Household) NoteVerification(v *Verification, now, due time.Time) *Case {
	if v == nil || v.Kind != VerificationCheck {
		return nil
	}
	id := feed.VerificationCaseID(h.ID, v.ApplicationID)
	c := h.Case(id)
	var codes []string
	for _, d := range v.Discrepancies {
		if !slices.Contains(codes, d.Code) {
			codes = append(codes, d.Code)
		}
	}
	if v.Result == declare.CheckDiscrepancies {
		if c == nil {
			return h.openCase(Case{ID: id, Kind: KindVerification, Status: CaseOpen, Triggers: codes, OpenedAt: now, DueBy: due,
				ApplicationID: v.ApplicationID, VerificationID: v.VerificationID})
		}
		if c.Status == CaseClosed && c.ClosedAs == ClosedResolvedByData {
			c.Status, c.ClosedAt, c.ClosedAs, c.DueBy = CaseOpen, time.Time{}, "", due
			if c.Assignee != "" {
				c.Status = CaseAssigned
			}
		}
		if c.Status != CaseClosed {
			c.VerificationID, c.Triggers = v.VerificationID, codes
		}
		return c
	}
	if c != nil && c.Status != CaseClosed && c.VisitedAt.IsZero() {
		c.VerificationID = v.VerificationID
		c.Status, c.ClosedAt, c.ClosedAs = CaseClosed, now, ClosedResolvedByData
	}
	return c
}

// applyAidOutcome records the outcome of a visit on a verification, review or spot check case.
func (h *Household) applyAidOutcome(c *Case, outcome string, at time.Time, cx CaseContext) {
	switch outcome {
	case feed.OutcomeFalseDeclarationConfirmed:
		if h.Declarations == nil {
			h.Declarations = &Declarations{}
		}
		d := h.Declarations
		if slices.ContainsFunc(d.FalseDeclarations, func(f FalseDeclaration) bool { return f.CaseID == c.ID }) {
			return
		}
		d.FalseDeclarations = append(d.FalseDeclarations, FalseDeclaration{ApplicationID: c.ApplicationID,
			VerificationID: c.VerificationID, CaseID: c.ID, ConfirmedAt: at, ExpiresAt: at.Add(cx.FalseDeclarationExpiry),
			Codes: slices.Clone(c.Triggers)})
		if len(d.FalseDeclarations) > keepVerifications {
			d.FalseDeclarations = slices.Clone(d.FalseDeclarations[len(d.FalseDeclarations)-keepVerifications:])
		}
	case feed.OutcomeContinued, feed.OutcomeAdjusted:
		if a := h.ReceivingAid(); a != nil && c.Kind == KindReview {
			a.ReviewFrom, a.ReviewDue = at, cx.NextReview
		}
	case feed.OutcomeTerminated:
		if a := h.ReceivingAid(); a != nil {
			a.Until, a.EndedBy, a.ReviewDue = at, c.ID, time.Time{}
		}
	}
}

// ReceivingAid returns the household's aid while it receives it, or nil.
func (h *Household) ReceivingAid() *Aid {
	if h.Casework == nil || h.Casework.Aid == nil || !h.Casework.Aid.Until.IsZero() {
		return nil
	}
	return h.Casework.Aid
}

// ReceivedAidAt reports whether the household received aid at t (by the aid it holds now: a
// later grant replaces an ended one).
func (h *Household) ReceivedAidAt(t time.Time) bool {
	if h.Casework == nil || h.Casework.Aid == nil {
		return false
	}
	a := h.Casework.Aid
	return a.Since.Before(t) && (a.Until.IsZero() || !a.Until.Before(t))
}

// AidFromApplications makes the newest approved application the household's aid, when it is
// newer than the aid the household has; true when it did. The review date is the monitor's to
// set (it needs the model).
func (h *Household) AidFromApplications() bool {
	if h.Declarations == nil {
		return false
	}
	var best *Application
	var at time.Time
	for i := range h.Declarations.Applications {
		a := &h.Declarations.Applications[i]
		if a.Status() != feed.DecisionApproved {
			continue
		}
		if t := a.Facts[len(a.Facts)-1].At; best == nil || t.After(at) {
			best, at = a, t
		}
	}
	if best == nil {
		return false
	}
	if h.Casework != nil && h.Casework.Aid != nil {
		cur := h.Casework.Aid
		if cur.ApplicationID == best.ID || !at.After(cur.Since) {
			return false
		}
	}
	program := best.Facts[len(best.Facts)-1].App.Program
	if sub := best.Submitted(); program == "" && sub != nil {
		program = sub.App.Program
	}
	if h.Casework == nil {
		h.Casework = &Casework{}
	}
	h.Casework.Aid = &Aid{Program: program, Since: at, ApplicationID: best.ID, ReviewFrom: at}
	return true
}

// OpenReview opens the review case of the household's aid when its review is due at now and
// no case for that review exists; due is the visit deadline.
func (h *Household) OpenReview(now, due time.Time) *Case {
	a := h.ReceivingAid()
	if a == nil || a.ReviewDue.IsZero() || now.Before(a.ReviewDue) {
		return nil
	}
	id := feed.ReviewCaseID(h.ID, a.ReviewDue)
	if h.Case(id) != nil {
		return nil
	}
	return h.openCase(Case{ID: id, Kind: KindReview, Status: CaseOpen, OpenedAt: now, DueBy: due,
		Program: a.Program, Month: a.ReviewDue.UTC().Format(feed.MonthLayout)})
}

// MonthStart is the first instant (UTC) of the month of t.
func MonthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// SpotCheckValue is a household's draw value for month under seed: HMAC-SHA256(seed, month,
// household id) read as a number in [0, 1). The same for every instance and offline.
func SpotCheckValue(seed, month, householdID string) float64 {
	m := hmac.New(sha256.New, []byte(seed))
	m.Write([]byte("spotcheck\x00" + month + "\x00" + householdID))
	return float64(binary.BigEndian.Uint64(m.Sum(nil))>>11) / (1 << 53)
}

// SpotCheckDraw decides whether the household is in month's spot check: it must have received
// aid at the first instant of the month, and its draw value be below share. It returns the
// draw and whether the household was drawn; ok is false when it is not in the draw at all.
func (h *Household) SpotCheckDraw(seed, month string, share float64) (d Draw, drawn, ok bool) {
	start, err := time.Parse(feed.MonthLayout, month)
	if err != nil || !h.ReceivedAidAt(start) {
		return Draw{}, false, false
	}
	d = Draw{Seed: seed, Month: month, Share: share, Value: SpotCheckValue(seed, month, h.ID), Area: h.AreaCode()}
	return d, d.Value < share, true
}

// SpotCheck runs the household's draw for the month of now once (the first time the monitor
// sees it in the month) and opens a spot check case when it is drawn.
func (h *Household) SpotCheck(seed string, share float64, now, due time.Time) *Case {
	if seed == "" || share <= 0 || h.Casework == nil || h.Casework.Aid == nil {
		return nil
	}
	month := now.UTC().Format(feed.MonthLayout)
	if h.Casework.SpotChecked >= month {
		return nil
	}
	d, drawn, ok := h.SpotCheckDraw(seed, month, share)
	if !ok {
		return nil
	}
	h.Casework.SpotChecked = month
	if !drawn {
		return nil
	}
	id := feed.SpotCheckCaseID(h.ID, month)
	if h.Case(id) != nil {
		return nil
	}
	a := h.Casework.Aid
	return h.openCase(Case{ID: id, Kind: KindSpotCheck, Status: CaseOpen, OpenedAt: now, DueBy: due,
		Program: a.Program, Month: month, Draw: &d})
}

// AidTimer is when the household's aid next needs the monitor: its review date, and the first
// instant of the month after now for the next spot check draw (zero: never).
func (h *Household) AidTimer(now time.Time, spotChecks bool) time.Time {
	a := h.ReceivingAid()
	if a == nil {
		return time.Time{}
	}
	var t time.Time
	if !a.ReviewDue.IsZero() && a.ReviewDue.After(now) {
		t = a.ReviewDue
	}
	if spotChecks {
		if next := MonthStart(now).AddDate(0, 1, 0); t.IsZero() || next.Before(t) {
			t = next
		}
	}
	return t
}

// ActiveFalseDeclarations lists the confirmed false declarations not expired at now.
func (h *Household) ActiveFalseDeclarations(now time.Time) []FalseDeclaration {
	if h.Declarations == nil {
		return nil
	}
	var out []FalseDeclaration
	for _, f := range h.Declarations.FalseDeclarations {
		if now.Before(f.ExpiresAt) {
			out = append(out, f)
		}
	}
	return out
}

// FalseDeclarationVerification is the false_declaration verification of a confirmed false
// declaration, for the verifications topic.
func (h *Household) FalseDeclarationVerification(f FalseDeclaration, modelVersion string, now time.Time) *Verification {
	v := &Verification{Kind: VerificationFalseDeclaration, HouseholdID: h.ID, AreaCode: h.AreaCode(), ApplicationID: f.ApplicationID,
		Result: feed.OutcomeFalseDeclarationConfirmed, Discrepancies: []declare.Discrepancy{}, CheckID: f.VerificationID, CaseID: f.CaseID, Codes: f.Codes,
		ConfirmedAt: f.ConfirmedAt, ExpiresAt: f.ExpiresAt, ModelVersion: modelVersion, CheckedAt: now}
	if a := h.Application(f.ApplicationID); a != nil {
		if sub := a.Submitted(); sub != nil {
			v.Program, v.SubmittedAt = sub.App.Program, sub.At
		}
	}
	if h.Declarations != nil {
		for _, r := range h.Declarations.Verifications {
			if r.VerificationID == f.VerificationID {
				v.SubmittedAt = r.SubmittedAt
			}
		}
	}
	v.VerificationID = VerificationID(h.ID, f.ApplicationID, VerificationFalseDeclaration, 1)
	return v
}
