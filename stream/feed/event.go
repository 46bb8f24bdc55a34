package feed

import "time"

// EventVersion is the version of the canonical household event written by intake.
const EventVersion = 1

// Feed names. A feed's topic is configurable; these names are fixed and appear in metrics.
const (
	Registry   = "registry"
	Hospital   = "hospital"
	Pension    = "pension"
	Employment = "employment"
	Disability = "disability"
	// Applications and Assets are in declare.go.
)

// Feeds lists every feed in a stable order.
var Feeds = []string{Registry, Hospital, Pension, Employment, Disability, Applications, Assets}

// Source locates the Kafka record an event came from.
type Source struct {
	Topic     string `json:"topic"`
	Partition int    `json:"partition"`
	Offset    int64  `json:"offset"`
}

// HouseholdEvent is the canonical, validated and pseudonymised form of one feed event, as intake
// writes it to the household-events topic keyed by HouseholdID. It carries no resident ID number:
// PersonKey is the keyed HMAC, PersonMasked the display form.
type HouseholdEvent struct {
	V            int       `json:"v"`
	EventID      string    `json:"event_id"` // the agency's id, unique within the feed
	Feed         string    `json:"feed"`
	Type         string    `json:"type"`
	HouseholdID  string    `json:"household_id"`
	PersonKey    string    `json:"person_key"`
	PersonMasked string    `json:"person_masked"`
	OccurredAt   time.Time `json:"occurred_at"`
	Source       Source    `json:"source"`
	// ProducedAt is the feed record's timestamp (when the agency produced it), and IngestedAt
	// when intake accepted the event (wall clock); both for latency measurement.
	ProducedAt time.Time `json:"produced_at,omitzero"`
	IngestedAt time.Time `json:"ingested_at"`

	// Type-specific fields; nil when the feed does not carry them.
	BirthDate       *time.Time `json:"birth_date,omitempty"` // registry
	Sex             string     `json:"sex,omitempty"`
	Relation        string     `json:"relation,omitempty"`
	AreaCode        string     `json:"area_code,omitempty"`    // registry: 12-digit statistical division code
	AdmissionID     string     `json:"admission_id,omitempty"` // hospital
	ICD10           string     `json:"icd10,omitempty"`
	CriticalIllness *bool      `json:"critical_illness,omitempty"`
	TotalCost       *float64   `json:"total_cost,omitempty"`
	InsuredCost     *float64   `json:"insured_cost,omitempty"`
	OutOfPocket     *float64   `json:"out_of_pocket,omitempty"`
	MonthlyAmount   *float64   `json:"monthly_amount,omitempty"` // pension
	MonthlyWage     *float64   `json:"monthly_wage,omitempty"`   // employment
	Registered      *bool      `json:"registered,omitempty"`
	Grade           *int       `json:"grade,omitempty"` // disability
	Kind            string     `json:"kind,omitempty"`
	// assets
	AssetID             string   `json:"asset_id,omitempty"`
	Value               *float64 `json:"value,omitempty"`
	Balance             *float64 `json:"balance,omitempty"`
	MonthlyContribution *float64 `json:"monthly_contribution,omitempty"`

	// Application is what an applications event carries; nil for the other feeds.
	Application *Application `json:"application,omitempty"`

	// Case is the action of a casework event (feed casework); nil for the other feeds.
	Case *CaseAction `json:"case,omitempty"`
}
