package feed

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// The applications feed (safetynet.feed.applications) carries aid applications under the
// self-declaration and commitment system (告知承诺制): what the applicant declared about the
// household's members, income and assets, and the agency's decision. The assets feed
// (safetynet.feed.assets) carries registrations of vehicles, property and businesses, deposit
// balances and housing provident fund payments. Both are keyed by resident ID number and
// pseudonymised like the other person feeds; every person_id inside a declaration is too.
const (
	Applications = "applications"
	Assets       = "assets"
)

// Application event types.
const (
	AppSubmitted = "submitted"
	AppWithdrawn = "withdrawn"
	AppDecided   = "decided"
)

// Asset event types.
const (
	VehicleRegistered    = "vehicle_registered"
	VehicleDeregistered  = "vehicle_deregistered"
	PropertyRegistered   = "property_registered"
	PropertyTransferred  = "property_transferred"
	BusinessRegistered   = "business_registered"
	BusinessDeregistered = "business_deregistered"
	DepositsReported     = "deposits_reported"
	ProvidentFundPaid    = "provident_fund_paid"
)

// ApplicationPrograms are the programmes an application is for; Decisions the values of a
// decided event's decision.
var (
	ApplicationPrograms = []string{"dibao", "tekun", "temporary", "medical"}
	Decisions           = []string{"approved", "rejected"}
)

// MaxDeclaredMembers bounds the members of one declaration.
const MaxDeclaredMembers = 30

// Application is what an applications event carries beyond the common fields.
type Application struct {
	ApplicationID    string       `json:"application_id"`
	Program          string       `json:"program,omitempty"`
	CommitmentSigned *bool        `json:"commitment_signed,omitempty"`
	Declared         *Declaration `json:"declared,omitempty"` // submitted
	Decision         string       `json:"decision,omitempty"` // decided
	MonthlyBenefit   *float64     `json:"monthly_benefit,omitempty"`
}

// Declaration is what an applicant declared about the household.
type Declaration struct {
	Members         []DeclaredMember `json:"members"`
	Vehicles        int              `json:"vehicles"`
	Properties      int              `json:"properties"`
	FinancialAssets float64          `json:"financial_assets"` // yuan
	BusinessOwner   bool             `json:"business_owner"`
}

// DeclaredMember is one declared member: pseudonymised like an event's person.
type DeclaredMember struct {
	PersonKey     string  `json:"person_key"`
	PersonMasked  string  `json:"person_masked"`
	MonthlyIncome float64 `json:"monthly_income"` // yuan
}

// decodeApplication reads the application fields of an applications record. ids receives the
// declared members' resident ID numbers, in order, for the pseudonymiser.
func decodeApplication(d *fields, ev *HouseholdEvent, now time.Time) ([]string, *DecodeError) {
	a := &Application{}
	ev.Application = a
	var ok bool
	if a.ApplicationID, ok = d.str("application_id", true); !ok {
		return nil, d.err
	}
	if e := checkToken("application_id", a.ApplicationID); e != nil {
		return nil, e
	}
	if a.Program, ok = d.enum("program", ev.Type != AppWithdrawn, ApplicationPrograms...); !ok {
		return nil, d.err
	}
	var ids []string
	switch ev.Type {
	case AppSubmitted:
		if a.CommitmentSigned, ok = d.boolean("commitment_signed", true); !ok {
			return nil, d.err
		}
		raw, ok := d.get("declared", true)
		if !ok {
			return nil, d.err
		}
		var e *DecodeError
		if a.Declared, ids, e = decodeDeclaration(raw, now); e != nil {
			return nil, e
		}
	case AppDecided:
		if a.Decision, ok = d.enum("decision", true, Decisions...); !ok {
			return nil, d.err
		}
		if a.MonthlyBenefit, ok = d.amount("monthly_benefit", a.Decision == "approved"); !ok {
			return nil, d.err
		}
	}
	if ev.Type != AppSubmitted && present(d.obj, "declared") {
		return nil, refuse(ReasonBadValue, "declared", "only a submitted application carries a declaration")
	}
	if ev.Type != AppDecided && present(d.obj, "decision") {
		return nil, refuse(ReasonBadValue, "decision", "only a decided application carries a decision")
	}
	return ids, nil
}

// decodeDeclaration reads the declared object; errors name the field inside it
// (declared.members[1].person_id).
func decodeDeclaration(raw json.RawMessage, now time.Time) (*Declaration, []string, *DecodeError) {
	obj, e := object("declared", raw)
	if e != nil {
		return nil, nil, e
	}
	d := fields{obj: obj}
	decl := &Declaration{}
	mraw, ok := d.get("members", true)
	if !ok {
		return nil, nil, prefixed("declared.", d.err)
	}
	var members []json.RawMessage
	if jsonKind(mraw) != "an array" || json.Unmarshal(mraw, &members) != nil {
		return nil, nil, refuse(ReasonBadType, "declared.members", "want an array, got %s", jsonKind(mraw))
	}
	if len(members) == 0 {
		return nil, nil, refuse(ReasonBadValue, "declared.members", "empty: a declaration names at least the applicant")
	}
	if len(members) > MaxDeclaredMembers {
		return nil, nil, refuse(ReasonBadValue, "declared.members", "%d members, the limit is %d", len(members), MaxDeclaredMembers)
	}
	ids := make([]string, 0, len(members))
	seen := map[string]bool{}
	for i, m := range members {
		field := fmt.Sprintf("declared.members[%d]", i)
		mo, e := object(field, m)
		if e != nil {
			return nil, nil, e
		}
		md := fields{obj: mo}
		pid, ok := md.str("person_id", true)
		if !ok {
			if md.err.Reason == ReasonBadType {
				md.err.Reason = ReasonBadPersonID
			}
			return nil, nil, prefixed(field+".", md.err)
		}
		id, e := CheckResidentID(pid, now)
		if e != nil {
			return nil, nil, prefixed(field+".", e)
		}
		if seen[id] {
			return nil, nil, refuse(ReasonBadValue, field+".person_id", "%s is declared twice", Mask(id))
		}
		seen[id] = true
		inc, ok := md.amount("monthly_income", true)
		if !ok {
			return nil, nil, prefixed(field+".", md.err)
		}
		ids = append(ids, id)
		decl.Members = append(decl.Members, DeclaredMember{MonthlyIncome: *inc})
	}
	for _, c := range []struct {
		name string
		dst  *int
	}{{"vehicles", &decl.Vehicles}, {"properties", &decl.Properties}} {
		n, ok := d.number(c.name, true)
		if !ok {
			return nil, nil, prefixed("declared.", d.err)
		}
		if *n != math.Trunc(*n) || *n < 0 || *n > 1000 {
			return nil, nil, refuse(ReasonBadValue, "declared."+c.name, "%v is not a count (want a whole number 0 to 1000)", *n)
		}
		*c.dst = int(*n)
	}
	fa, ok := d.amount("financial_assets", true)
	if !ok {
		return nil, nil, prefixed("declared.", d.err)
	}
	decl.FinancialAssets = *fa
	bo, ok := d.boolean("business_owner", true)
	if !ok {
		return nil, nil, prefixed("declared.", d.err)
	}
	decl.BusinessOwner = *bo
	return decl, ids, nil
}

// object splits a nested JSON object for field.
func object(field string, raw json.RawMessage) (map[string]json.RawMessage, *DecodeError) {
	if jsonKind(raw) != "an object" {
		return nil, refuse(ReasonBadType, field, "want an object, got %s", jsonKind(raw))
	}
	obj, err := splitObject(raw)
	if err != nil {
		return nil, refuse(ReasonMalformedJSON, field, "%s", jsonErrText(err))
	}
	return obj, nil
}

// prefixed puts the path of a nested object before the field of e.
func prefixed(prefix string, e *DecodeError) *DecodeError {
	if e != nil && e.Field != "" {
		e.Field = prefix + e.Field
	}
	return e
}

// decodeAsset reads the fields of an assets record.
func decodeAsset(d *fields, ev *HouseholdEvent) *DecodeError {
	var ok bool
	switch ev.Type {
	case DepositsReported:
		if ev.Balance, ok = d.amount("balance", true); !ok {
			return d.err
		}
	case ProvidentFundPaid:
		if ev.MonthlyContribution, ok = d.amount("monthly_contribution", true); !ok {
			return d.err
		}
	default:
		if ev.AssetID, ok = d.str("asset_id", true); !ok {
			return d.err
		}
		if e := checkToken("asset_id", ev.AssetID); e != nil {
			return e
		}
		if ev.Value, ok = d.amount("value", false); !ok {
			return d.err
		}
	}
	return nil
}
