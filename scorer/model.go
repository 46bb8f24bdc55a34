package scorer

import (
	"bytes"
	_ "embed"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"safetynet/scorer/modelfile"
)

//go:embed default_model.yaml
var defaultYAML []byte

// Trigger codes: the single facts a model may list under triggers.
const (
	TriggerMainEarnerDeath     = modelfile.TriggerMainEarnerDeath
	TriggerCriticalIllness     = modelfile.TriggerCriticalIllness
	TriggerNewSevereDisability = modelfile.TriggerNewSevereDisability
	TriggerIncomeBelowStandard = modelfile.TriggerIncomeBelowStandard
)

// triggerCodes lists the trigger codes in report order; a trigger's index is its bit.
var triggerCodes = modelfile.TriggerCodes

// levelNames lists the levels in rank order (rank = index + 1).
var levelNames = modelfile.LevelNames

// Model is a validated risk model. Build it with Default, Parse or LoadFile; it is immutable
// and safe for concurrent use.
type Model struct {
	Version string

	weights  [6]float64 // in the order of Dimensions
	standard float64    // yuan per person per month
	margin   float64

	health, healthRecent, critical, newDisability, mainEarnerDeath modelfile.Span
	unemploymentSteps                                              []modelfile.Span

	critical10   []modelfile.ICDRange
	levels       [3]levelDef // watch, warning, urgent
	resolve      time.Duration
	triggers     [4]triggerDef // in the order of triggerCodes
	casework     modelfile.Casework
	declarations modelfile.Declarations
	aid          modelfile.Aid
}

type levelDef struct {
	name       string
	threshold  float64
	hysteresis float64
}

type triggerDef struct {
	enabled bool
	level   string
	zh, en  string
}

var defaultModel = func() *Model {
	m, err := Parse(defaultYAML)
	if err != nil {
		panic("scorer: embedded default model: " + err.Error())
	}
	return m
}()

// Default returns the embedded default model (scorer/default_model.yaml).
func Default() *Model { return defaultModel }

// DefaultYAML returns the text of the embedded default model.
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// Parse validates a model file (package modelfile). Errors start with "model: " and name the
// field and why, for example "model: weights: sum to 0.95, must sum to 1". Unknown keys are
// refused.
func Parse(data []byte) (*Model, error) {
	s, err := modelfile.Parse(data)
	if err != nil {
		return nil, err
	}
	m := &Model{Version: s.Version, weights: s.Weights, standard: s.Standard, margin: s.Margin,
		health: s.Health, healthRecent: s.HealthRecent, critical: s.Critical, newDisability: s.NewDisability,
		mainEarnerDeath: s.MainEarnerDeath, unemploymentSteps: s.UnemploymentSteps, critical10: s.CriticalICD10,
		resolve: s.ResolveAfter, casework: s.Casework, declarations: s.Declarations, aid: s.Aid}
	for i, l := range s.Levels {
		m.levels[i] = levelDef{name: l.Name, threshold: l.Threshold, hysteresis: l.Hysteresis}
	}
	for i, t := range s.Triggers {
		m.triggers[i] = triggerDef{enabled: t.Enabled, level: t.Level, zh: t.ZH, en: t.EN}
	}
	return m, nil
}

// LoadFile reads and validates a model file.
func LoadFile(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	return Parse(data)
}

// trimFloat prints a float without trailing zeros: 0.95, 45, 1000.5.
func trimFloat(f float64) string {
	return fmt.Sprintf("%.6g", math.Round(f*1e6)/1e6)
}

// LevelRank orders levels: 0 none (or unknown), 1 watch, 2 warning, 3 urgent.
func LevelRank(level string) int { return modelfile.LevelRank(level) }

// levelOfRank is the inverse of LevelRank.
func levelOfRank(r int) string {
	if r <= 0 || r > len(levelNames) {
		return LevelNone
	}
	return levelNames[r-1]
}

// Threshold returns the total at which a level is entered; 0 for none or an unknown level.
func (m *Model) Threshold(level string) float64 {
	if r := LevelRank(level); r > 0 {
		return m.levels[r-1].threshold
	}
	return 0
}

// ExitLine returns the total below which a household leaves a level (threshold − hysteresis);
// 0 for none or an unknown level.
func (m *Model) ExitLine(level string) float64 {
	if r := LevelRank(level); r > 0 {
		return m.levels[r-1].threshold - m.levels[r-1].hysteresis
	}
	return 0
}

// ResolveAfter is how long the total must stay below the lowest level's exit line (with no
// trigger active) before an alert episode resolves.
func (m *Model) ResolveAfter() time.Duration { return m.resolve }

// Standard is the local minimum living standard (低保标准), yuan per person per month.
func (m *Model) Standard() float64 { return m.standard }

// Weight returns the weight of a dimension, 0 for an unknown name.
func (m *Model) Weight(dimension string) float64 {
	for i, d := range Dimensions {
		if d == dimension {
			return m.weights[i]
		}
	}
	return 0
}

// Classify returns the level of an assessment given the household's previous level:
//   - a level is entered when the total reaches its threshold;
//   - a household keeps its previous level (or the highest lower one) as long as the total
//     stays at or above that level's exit line, threshold − hysteresis, so a total hovering at
//     a line does not flap;
//   - every trigger sets a minimum level whatever the total.
func (m *Model) Classify(a Assessment, prev string) string {
	rank := 0
	for i := len(m.levels) - 1; i >= 0; i-- {
		if a.Total >= m.levels[i].threshold {
			rank = i + 1
			break
		}
	}
	for r := LevelRank(prev); r > rank; r-- {
		l := m.levels[r-1]
		if a.Total >= l.threshold-l.hysteresis {
			rank = r
			break
		}
	}
	for _, t := range a.Triggers {
		rank = max(rank, LevelRank(t.Level))
	}
	return levelOfRank(rank)
}

// Summary is a one-line description of the model, as `safetynet model check` prints it.
func (m *Model) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "model %s, standard ¥%s/person/month, margin %s, levels", m.Version, yuanEN(m.standard), trimFloat(m.margin))
	for i, l := range m.levels {
		sep := ","
		if i == 0 {
			sep = ""
		}
		fmt.Fprintf(&b, "%s %s %s (exit %s)", sep, l.name, trimFloat(l.threshold), trimFloat(l.threshold-l.hysteresis))
	}
	n := 0
	for _, t := range m.triggers {
		if t.enabled {
			n++
		}
	}
	fmt.Fprintf(&b, ", %d critical-illness ICD-10 ranges, %d triggers enabled", len(m.critical10), n)
	return b.String()
}
