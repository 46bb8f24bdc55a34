package feed

import (
	"regexp"
	"strings"
	"time"
)

// Case ids. An alert case is the household id, a dash and the alert episode ("H123-2"); the
// other kinds put a letter between the household and what the case is about:
//
//	H123-v-<application_id>  verification of an application's declaration
//	H123-r-2026-11           review of a household receiving aid, due that month
//	H123-s-2026-11           spot check of that month
//	H123-e-2026-11           eligibility review of a household receiving aid, opened that month
//
// A household id containing "-v-", or ending in "-r-" or "-s-" and a year, is read as the
// household part of such a case id only when the household is known (CaseOf); ParseCaseID,
// which reads a bare id (request routing, the API), gives review and spot check ids precedence,
// then verification ids (at the first "-v-"), then alert ids.

// Case kinds (household.Kind* are the same names).
const (
	CaseKindAlert        = "alert"
	CaseKindReview       = "review"
	CaseKindSpotCheck    = "spot_check"
	CaseKindVerification = "verification"
	CaseKindEligibility  = "eligibility"
)

// CaseRef is what a case id says: the household, the kind, and the alert episode, the
// application or the month.
type CaseRef struct {
	HouseholdID   string
	Kind          string
	Episode       int    // alert
	ApplicationID string // verification
	Month         string // review, spot_check, eligibility: "2026-11"
}

// MonthLayout is the form of a case's month.
const MonthLayout = "2006-01"

// VerificationCaseID is the id of the verification case of an application.
func VerificationCaseID(householdID, applicationID string) string {
	return householdID + "-v-" + applicationID
}

// ReviewCaseID is the id of the review case due in month (the month of at, UTC).
func ReviewCaseID(householdID string, at time.Time) string {
	return householdID + "-r-" + at.UTC().Format(MonthLayout)
}

// SpotCheckCaseID is the id of the spot check case of month ("2026-11").
func SpotCheckCaseID(householdID, month string) string {
	return householdID + "-s-" + month
}

// EligibilityCaseID is the id of the eligibility review opened in the month of at (UTC).
func EligibilityCaseID(householdID string, at time.Time) string {
	return householdID + "-e-" + at.UTC().Format(MonthLayout)
}

var monthCase = regexp.MustCompile(`^(.+)-([rse])-([0-9]{4}-(?:0[1-9]|1[0-2]))$`)

// monthKinds are the case kinds of the letters of month cases.
var monthKinds = map[byte]string{'r': CaseKindReview, 's': CaseKindSpotCheck, 'e': CaseKindEligibility}

// ParseCaseID reads a case id without knowing its household.
func ParseCaseID(id string) (CaseRef, bool) {
	if m := monthCase.FindStringSubmatch(id); m != nil {
		return CaseRef{HouseholdID: m[1], Kind: monthKinds[m[2][0]], Month: m[3]}, true
	}
	if i := strings.Index(id, "-v-"); i > 0 && len(id) > i+3 {
		return CaseRef{HouseholdID: id[:i], Kind: CaseKindVerification, ApplicationID: id[i+3:]}, true
	}
	if hid, ep, ok := SplitCaseID(id); ok {
		return CaseRef{HouseholdID: hid, Kind: CaseKindAlert, Episode: ep}, true
	}
	return CaseRef{}, false
}

// CaseOf reads a case id of household householdID; false when it is not one of its cases.
func CaseOf(householdID, id string) (CaseRef, bool) {
	rest, ok := strings.CutPrefix(id, householdID+"-")
	if !ok || rest == "" {
		return CaseRef{}, false
	}
	ref := CaseRef{HouseholdID: householdID}
	switch {
	case strings.HasPrefix(rest, "v-") && len(rest) > 2:
		ref.Kind, ref.ApplicationID = CaseKindVerification, rest[2:]
	case len(rest) == 9 && monthKinds[rest[0]] != "" && rest[1] == '-':
		if _, err := time.Parse(MonthLayout, rest[2:]); err != nil {
			return CaseRef{}, false
		}
		ref.Kind, ref.Month = monthKinds[rest[0]], rest[2:]
	default:
		hid, ep, ok := SplitCaseID(id)
		if !ok || hid != householdID {
			return CaseRef{}, false
		}
		ref.Kind, ref.Episode = CaseKindAlert, ep
	}
	return ref, true
}

// Visit outcomes of the case kinds other than alert.
const (
	OutcomeFalseDeclarationConfirmed = "false_declaration_confirmed"
	OutcomeExplained                 = "explained"
	OutcomeContinued                 = "continued"
	OutcomeAdjusted                  = "adjusted"
	OutcomeTerminated                = "terminated"
)

// OutcomesOf lists the visit outcomes of a case kind: a verification case ends with a false
// declaration confirmed or explained; a review, spot check or eligibility review with the aid
// continued, adjusted or terminated; an alert case with Outcomes.
func OutcomesOf(kind string) []string {
	switch kind {
	case CaseKindVerification:
		return []string{OutcomeFalseDeclarationConfirmed, OutcomeExplained}
	case CaseKindReview, CaseKindSpotCheck, CaseKindEligibility:
		return []string{OutcomeContinued, OutcomeAdjusted, OutcomeTerminated}
	}
	return Outcomes
}

// AllOutcomes lists every visit outcome of every kind.
func AllOutcomes() []string {
	out := append([]string{}, Outcomes...)
	out = append(out, OutcomesOf(CaseKindVerification)...)
	return append(out, OutcomesOf(CaseKindReview)...)
}

// DecisionApproved is the decision of an approved application: the household receives aid.
const DecisionApproved = "approved"
