package household

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"safetynet/stream/feed"
)

// Casework on a household: its cases (one per alert episode for kind alert), the snooze a
// no-need visit sets, and the aid a visit granted. It lives in the household state, so it is on
// the changelog, restored with the household and applied in order with the household's events.

// Case kinds: an alert episode's case, and those of declarations and aid (aidcases.go).
const (
	KindAlert        = feed.CaseKindAlert
	KindReview       = feed.CaseKindReview
	KindSpotCheck    = feed.CaseKindSpotCheck
	KindEligibility  = feed.CaseKindEligibility
	KindVerification = feed.CaseKindVerification
)

// Case statuses. Overdue is not stored: it is an open or assigned case past its due time.
const (
	CaseOpen     = "open"
	CaseAssigned = "assigned"
	CaseClosed   = "closed"
	CaseOverdue  = "overdue"
)

// How a case closed.
const (
	ClosedVisited        = "visited"          // a visit with an outcome other than unreachable
	ClosedResolvedByData = "resolved_by_data" // the episode resolved before any visit
	ClosedBySupervisor   = "supervisor"       // a supervisor closed it (CloseReason says why)
)

// Why a snooze was broken (Alert.SnoozeBroken).
const (
	SnoozeBrokenTrigger   = "trigger"
	SnoozeBrokenScoreRise = "score_rise"
)

// keepCases bounds the cases a household keeps (the newest); keepCaseEntries the alerts and
// actions of one case's timeline.
const (
	keepCases       = 20
	keepCaseEntries = 50
)

// Casework is a household's casework state.
type Casework struct {
	Cases  []Case  `json:"cases,omitempty"` // oldest first
	Snooze *Snooze `json:"snooze,omitempty"`
	Aid    *Aid    `json:"aid,omitempty"`
	// SpotChecked is the last month ("2026-11") the household was in a spot check draw.
	SpotChecked string `json:"spot_checked,omitempty"`
}

// Snooze holds back raised and escalated alerts at or below Level until Until, after a visit
// found no need; a trigger not firing at the visit, or a score Points above the visit's, breaks it.
type Snooze struct {
	Until    time.Time `json:"until"`
	Level    string    `json:"level"`
	Score    float64   `json:"score"`
	Triggers []string  `json:"triggers,omitempty"`
	CaseID   string    `json:"case_id"`
}

// Aid is the household's receiving aid, as a visit granted it or an application was approved
// (ApplicationID); Until is set when a review ended it (aidcases.go).
type Aid struct {
	Program       string    `json:"program"`
	Since         time.Time `json:"since"`
	CaseID        string    `json:"case_id,omitempty"`
	ApplicationID string    `json:"application_id,omitempty"`
	ReviewFrom    time.Time `json:"review_from,omitzero"` // Since, or the last review's visit
	ReviewDue     time.Time `json:"review_due,omitzero"`
	Until         time.Time `json:"until,omitzero"`
	EndedBy       string    `json:"ended_by,omitempty"` // the case that terminated it
}

// Case is one case: why it opened, its alerts and actions, and its outcome.
type Case struct {
	ID       string    `json:"case_id"`
	Kind     string    `json:"kind"`
	Episode  int       `json:"episode"`
	Level    string    `json:"level"` // the highest level of its alerts
	Status   string    `json:"status"`
	Triggers []string  `json:"triggers,omitempty"` // trigger codes of the alert that opened it
	OpenedAt time.Time `json:"opened_at"`
	DueBy    time.Time `json:"due_by,omitzero"`
	Assignee string    `json:"assignee,omitempty"`

	VisitedAt time.Time `json:"visited_at,omitzero"`
	Outcome   string    `json:"outcome,omitempty"`
	Program   string    `json:"program,omitempty"`
	Reason    string    `json:"reason,omitempty"`

	ClosedAt    time.Time `json:"closed_at,omitzero"`
	ClosedAs    string    `json:"closed_as,omitempty"`
	CloseReason string    `json:"close_reason,omitempty"`

	// What a verification, review or spot check case is about (aidcases.go).
	ApplicationID  string `json:"application_id,omitempty"`  // verification
	VerificationID string `json:"verification_id,omitempty"` // verification: the check it opened on
	Month          string `json:"month,omitempty"`           // review, spot_check
	Draw           *Draw  `json:"draw,omitempty"`            // spot_check

	Alerts  []CaseAlert  `json:"alerts,omitempty"`
	Actions []CaseAction `json:"actions,omitempty"`
}

// CaseAlert is an alert on a case's timeline.
type CaseAlert struct {
	AlertID string    `json:"alert_id"`
	Status  string    `json:"status"`
	Level   string    `json:"level"`
	Score   float64   `json:"score"`
	At      time.Time `json:"at"`
}

// CaseAction is an applied casework event on a case's timeline.
type CaseAction struct {
	EventID string    `json:"event_id"`
	Type    string    `json:"type"`
	At      time.Time `json:"at"` // occurred_at
	feed.CaseAction
}

// Overdue reports whether the case waits for a visit past its due time at now.
func (c *Case) Overdue(now time.Time) bool {
	return c.Status != CaseClosed && !c.DueBy.IsZero() && now.After(c.DueBy)
}

// ListStatus is the status the case list shows: overdue for an open case past its due time.
func (c *Case) ListStatus(now time.Time) string {
	if c.Overdue(now) {
		return CaseOverdue
	}
	return c.Status
}

// Case returns the household's case id, or nil.
func (h *Household) Case(id string) *Case {
	if h.Casework == nil {
		return nil
	}
	for i := range h.Casework.Cases {
		if h.Casework.Cases[i].ID == id {
			return &h.Casework.Cases[i]
		}
	}
	return nil
}

// CaseAlertInfo is what opening or updating a case takes from an alert.
type CaseAlertInfo struct {
	Alert    CaseAlert
	Episode  int
	Triggers []string
	DueBy    time.Time // the visit deadline of the alert's level from now
}

// NoteAlert puts an alert on the case of its episode: a raised or escalated alert opens the
// case (or reopens a closed one: the level went above what the visit saw) and moves its due
// time forward when the new level's deadline is earlier; a resolved alert closes a case no one
// visited as resolved_by_data. It returns the case touched, or nil.
func (h *Household) NoteAlert(info CaseAlertInfo) *Case {
	a := info.Alert
	id := feed.CaseID(h.ID, info.Episode)
	c := h.Case(id)
	switch a.Status {
	case StatusRaised, StatusEscalated:
		if c == nil {
			if h.Casework == nil {
				h.Casework = &Casework{}
			}
			cw := h.Casework
			cw.Cases = append(cw.Cases, Case{ID: id, Kind: KindAlert, Episode: info.Episode, Level: a.Level,
				Status: CaseOpen, Triggers: info.Triggers, OpenedAt: a.At, DueBy: info.DueBy})
			if len(cw.Cases) > keepCases {
				cw.Cases = slices.Clone(cw.Cases[len(cw.Cases)-keepCases:])
			}
			c = &cw.Cases[len(cw.Cases)-1]
		} else {
			if c.Status == CaseClosed {
				c.Status, c.ClosedAt, c.ClosedAs, c.CloseReason = CaseOpen, time.Time{}, "", ""
				if c.Assignee != "" {
					c.Status = CaseAssigned
				}
				c.DueBy = info.DueBy
			} else if !info.DueBy.IsZero() && (c.DueBy.IsZero() || info.DueBy.Before(c.DueBy)) {
				c.DueBy = info.DueBy
			}
			if levelRank(a.Level) > levelRank(c.Level) {
				c.Level = a.Level
			}
		}
	case StatusResolved:
		if c == nil {
			return nil
		}
		if c.Status != CaseClosed && c.VisitedAt.IsZero() {
			c.Status, c.ClosedAt, c.ClosedAs = CaseClosed, a.At, ClosedResolvedByData
		}
	default:
		if c == nil {
			return nil
		}
	}
	c.Alerts = appendCapped(c.Alerts, a)
	return c
}

func levelRank(l string) int {
	switch l {
	case "watch":
		return 1
	case "warning":
		return 2
	case "urgent":
		return 3
	}
	return 0
}

func appendCapped[T any](list []T, v T) []T {
	list = append(list, v)
	if len(list) > keepCaseEntries {
		list = slices.Clone(list[len(list)-keepCaseEntries:])
	}
	return list
}

// Errors of ApplyCase: the action does not fit the case (the event is dead-lettered).
var (
	ErrUnknownCase = errors.New("no such case")
	ErrCaseClosed  = errors.New("the case is closed")
)

// CaseContext is what applying a visit needs from the model and the latest assessment.
type CaseContext struct {
	Snooze   time.Duration
	Triggers []string // trigger codes firing now
	// NextReview is when aid granted or continued by the visit is next due for review (zero:
	// not reviewed); FalseDeclarationExpiry how long a confirmed false declaration stays.
	NextReview             time.Time
	FalseDeclarationExpiry time.Duration
}

// ApplyCase applies a casework event and reports whether the state changed: false for an event
// already applied (same event id). An action on an unknown or closed case is an error naming
// the field.
func (h *Household) ApplyCase(e *feed.HouseholdEvent, cx CaseContext) (bool, error) {
	if e.Case == nil {
		return false, fmt.Errorf("casework event %s: no case action", e.EventID)
	}
	if h.Casework != nil {
		for i := range h.Casework.Cases {
			for _, act := range h.Casework.Cases[i].Actions {
				if act.EventID == e.EventID {
					return false, nil
				}
			}
		}
	}
	c := h.Case(e.Case.CaseID)
	if c == nil {
		return false, fmt.Errorf("casework event %s: case_id: %w", e.EventID, ErrUnknownCase)
	}
	if c.Status == CaseClosed {
		return false, fmt.Errorf("casework event %s: case_id: %w", e.EventID, ErrCaseClosed)
	}
	at := e.OccurredAt.UTC()
	switch e.Type {
	case feed.CaseAssign:
		c.Assignee, c.Status = e.Case.Assignee, CaseAssigned
	case feed.CaseVisit:
		if e.Case.VisitedAt == nil {
			return false, fmt.Errorf("casework event %s: visited_at: required", e.EventID)
		}
		v := e.Case.VisitedAt.UTC()
		c.VisitedAt, c.Outcome, c.Program, c.Reason = v, e.Case.Outcome, e.Case.Program, e.Case.Reason
		if e.Case.Outcome != feed.OutcomeUnreachable {
			c.Status, c.ClosedAt, c.ClosedAs = CaseClosed, v, ClosedVisited
		}
		switch e.Case.Outcome {
		case feed.OutcomeNotNeeded:
			level := c.Level
			if levelRank(h.Level) > levelRank(level) {
				level = h.Level
			}
			h.Casework.Snooze = &Snooze{Until: v.Add(cx.Snooze), Level: level, Score: h.Score,
				Triggers: slices.Clone(cx.Triggers), CaseID: c.ID}
		case feed.OutcomeAidGranted:
			h.Casework.Aid = &Aid{Program: e.Case.Program, Since: v, CaseID: c.ID, ReviewFrom: v, ReviewDue: cx.NextReview}
		default:
			h.applyAidOutcome(c, e.Case.Outcome, v, cx)
		}
	case feed.CaseClose:
		c.Status, c.ClosedAt, c.ClosedAs, c.CloseReason = CaseClosed, at, ClosedBySupervisor, e.Case.Reason
	default:
		return false, fmt.Errorf("casework event %s: type: %q is not a casework event type", e.EventID, e.Type)
	}
	c.Actions = appendCapped(c.Actions, CaseAction{EventID: e.EventID, Type: e.Type, At: at, CaseAction: *e.Case})
	if at.After(h.Updated) {
		h.Updated = at
	}
	return true, nil
}

// HasAction reports whether the household applied the casework event eventID.
func (h *Household) HasAction(caseID, eventID string) bool {
	c := h.Case(caseID)
	if c == nil {
		return false
	}
	for _, a := range c.Actions {
		if a.EventID == eventID {
			return true
		}
	}
	return false
}

// canonical clears what depends on when the monitor ran (a case opens, falls due and resolves
// at assessment time), for CanonicalJSON.
func (cw *Casework) canonical() {
	if cw == nil {
		return
	}
	for i := range cw.Cases {
		c := &cw.Cases[i]
		c.OpenedAt, c.DueBy = time.Time{}, time.Time{}
		if c.ClosedAs == ClosedResolvedByData {
			c.ClosedAt = time.Time{}
		}
		for j := range c.Alerts {
			c.Alerts[j].At = time.Time{}
		}
	}
}

// CaseSummary is a case as the case index holds it and the case list shows it.
type CaseSummary struct {
	CaseID      string    `json:"case_id"`
	HouseholdID string    `json:"household_id"`
	Area        string    `json:"area,omitempty"`
	Kind        string    `json:"kind"`
	Episode     int       `json:"episode"`
	Level       string    `json:"level"`
	Status      string    `json:"status"`
	Triggers    []string  `json:"triggers,omitempty"`
	OpenedAt    time.Time `json:"opened_at"`
	DueBy       time.Time `json:"due_by,omitzero"`
	Assignee    string    `json:"assignee,omitempty"`
	VisitedAt   time.Time `json:"visited_at,omitzero"`
	Outcome     string    `json:"outcome,omitempty"`
	ClosedAt    time.Time `json:"closed_at,omitzero"`
	ClosedAs    string    `json:"closed_as,omitempty"`
	// ApplicationID (verification) and Month (review, spot_check): what the case is about.
	ApplicationID string `json:"application_id,omitempty"`
	Month         string `json:"month,omitempty"`
	// NotReceivingAid: the household is at a level with no aid and no application pending or
	// approved (Household.NotReceivingAid), as of its last write.
	NotReceivingAid bool `json:"not_receiving_aid,omitempty"`
}

// CaseSummary returns the summary of one of the household's cases.
func (h *Household) CaseSummary(c *Case) CaseSummary {
	return CaseSummary{CaseID: c.ID, HouseholdID: h.ID, Area: h.AreaCode(), Kind: c.Kind, Episode: c.Episode, Level: c.Level,
		Status: c.Status, Triggers: c.Triggers, OpenedAt: c.OpenedAt, DueBy: c.DueBy, Assignee: c.Assignee,
		VisitedAt: c.VisitedAt, Outcome: c.Outcome, ClosedAt: c.ClosedAt, ClosedAs: c.ClosedAs,
		ApplicationID: c.ApplicationID, Month: c.Month, NotReceivingAid: h.NotReceivingAid()}
}

// Same reports whether two summaries say the same (times compared as instants).
func (s *CaseSummary) Same(o *CaseSummary) bool {
	return s.CaseID == o.CaseID && s.HouseholdID == o.HouseholdID && s.Area == o.Area && s.Kind == o.Kind &&
		s.Episode == o.Episode && s.Level == o.Level && s.Status == o.Status && slices.Equal(s.Triggers, o.Triggers) &&
		s.OpenedAt.Equal(o.OpenedAt) && s.DueBy.Equal(o.DueBy) && s.Assignee == o.Assignee &&
		s.VisitedAt.Equal(o.VisitedAt) && s.Outcome == o.Outcome && s.ClosedAt.Equal(o.ClosedAt) &&
		s.ClosedAs == o.ClosedAs && s.ApplicationID == o.ApplicationID && s.Month == o.Month &&
		s.NotReceivingAid == o.NotReceivingAid
}

// Overdue reports whether the summarised case waits for a visit past its due time at now.
func (s *CaseSummary) Overdue(now time.Time) bool {
	return s.Status != CaseClosed && !s.DueBy.IsZero() && now.After(s.DueBy)
}
