package scorer

import (
	"time"

	"safetynet/scorer/modelfile"
)

// Dimension names, in the order they are reported.
const (
	DimDemographic = "demographic"
	DimIncome      = "income"
	DimEmployment  = "employment"
	DimHealth      = "health"
	DimDisability  = "disability"
	DimRigid       = "rigid_expenditure"
)

// Dimensions lists the six dimensions in report order.
var Dimensions = []string{DimDemographic, DimIncome, DimEmployment, DimHealth, DimDisability, DimRigid}

// Level names. None is the empty string.
const (
	LevelNone    = ""
	LevelWatch   = modelfile.LevelWatch
	LevelWarning = modelfile.LevelWarning
	LevelUrgent  = modelfile.LevelUrgent
)

// Assessment is the model's verdict on one household at one instant, with its reasons.
type Assessment struct {
	ModelVersion string           `json:"model_version"`
	At           time.Time        `json:"at"`
	Total        float64          `json:"total"` // 0–100, rounded to one decimal
	Dimensions   []DimensionScore `json:"dimensions"`
	// Reasons: triggers first, then by contribution to the total, largest first.
	Reasons []Reason `json:"reasons"`
	// Triggers that fired, each with the minimum level it sets.
	Triggers []Trigger `json:"triggers,omitempty"`
	// NextChange is the earliest instant after At at which the assessment would change with no
	// new event; zero when nothing is scheduled.
	NextChange time.Time `json:"next_change,omitzero"`
}

// DimensionScore is one of the six dimensions.
type DimensionScore struct {
	Name   string  `json:"name"`
	Score  float64 `json:"score"`  // 0–100
	Weight float64 `json:"weight"` // from the model; weights sum to 1
}

// Reason is one explained contribution to a dimension or a trigger.
type Reason struct {
	Code      string  `json:"code"`      // stable, e.g. "health.admissions"
	Dimension string  `json:"dimension"` // one of Dimensions, or "trigger"
	Points    float64 `json:"points"`    // contribution to the dimension score (0 for triggers)
	// Contribution is the reason's share of the total: points × weight, scaled down when the
	// dimension is capped at 100. The contributions of all reasons sum to the total.
	Contribution float64 `json:"contribution"`
	ZH           string  `json:"zh"`
	EN           string  `json:"en"`
}

// Trigger is a single fact that sets a minimum level whatever the total.
type Trigger struct {
	Code  string `json:"code"`
	Level string `json:"level"`
}
