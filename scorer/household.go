package scorer

import "time"

// Household is everything the model knows about one household at one moment: plain values,
// already folded from the feed events by the caller. Dates are civil dates at midnight UTC.
type Household struct {
	ID      string   `json:"id"`
	Members []Member `json:"members"`
}

// Member is one person of the household. Members who left are not listed; members who died are
// listed with Died set, so that the model can see whose income the household lost.
type Member struct {
	// Key identifies the person inside safetynet (the pseudonym); never a resident ID number.
	Key string `json:"key"`
	// Masked is the display form of the resident ID number, e.g. "420106***********4".
	Masked    string     `json:"masked,omitempty"`
	BirthDate time.Time  `json:"birth_date"`
	Sex       string     `json:"sex,omitempty"`      // "F" or "M"
	Relation  string     `json:"relation,omitempty"` // head, spouse, child, parent, other
	Died      *time.Time `json:"died,omitempty"`     // when the registry recorded the death

	Employment *Employment `json:"employment,omitempty"` // nil: nothing known
	Pension    *Pension    `json:"pension,omitempty"`    // nil: none known
	Disability *Disability `json:"disability,omitempty"` // nil: none registered
	Admissions []Admission `json:"admissions,omitempty"`
}

// Employment is a member's latest known work status.
type Employment struct {
	Employed    bool      `json:"employed"`
	MonthlyWage float64   `json:"monthly_wage,omitempty"` // yuan, when employed
	Since       time.Time `json:"since"`                  // when this status began
	Registered  bool      `json:"registered,omitempty"`   // registered as unemployed
}

// Pension statuses.
const (
	PensionActive    = "active"
	PensionSuspended = "suspended"
	PensionStopped   = "stopped"
)

// Pension is a member's latest known pension.
type Pension struct {
	MonthlyAmount float64   `json:"monthly_amount"` // yuan
	Status        string    `json:"status"`         // active, suspended, stopped
	Since         time.Time `json:"since"`
}

// Disability is a member's latest registered disability. Grade 1 is the most severe, 4 the least.
type Disability struct {
	Grade   int       `json:"grade"`
	Kind    string    `json:"kind,omitempty"`
	Since   time.Time `json:"since"` // when this grade was registered
	Revoked bool      `json:"revoked,omitempty"`
}

// Admission is one hospital stay. Discharged is nil while the member is in hospital; the costs
// are known at discharge.
type Admission struct {
	ID              string     `json:"id"`
	Admitted        time.Time  `json:"admitted"`
	Discharged      *time.Time `json:"discharged,omitempty"`
	ICD10           string     `json:"icd10"`
	CriticalIllness bool       `json:"critical_illness,omitempty"` // flagged by the insurer
	TotalCost       float64    `json:"total_cost,omitempty"`
	InsuredCost     float64    `json:"insured_cost,omitempty"`
	OutOfPocket     float64    `json:"out_of_pocket,omitempty"`
}
