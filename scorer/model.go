package scorer

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

//go:embed default_model.yaml
var defaultYAML []byte

// Trigger codes: the single facts a model may list under triggers.
const (
	TriggerMainEarnerDeath     = "main_earner_death"
	TriggerCriticalIllness     = "critical_illness"
	TriggerNewSevereDisability = "new_severe_disability"
	TriggerIncomeBelowStandard = "income_below_standard"
)

// triggerCodes lists the trigger codes in report order; a trigger's index is its bit.
var triggerCodes = []string{TriggerMainEarnerDeath, TriggerCriticalIllness, TriggerNewSevereDisability, TriggerIncomeBelowStandard}

// levelNames lists the levels in rank order (rank = index + 1).
var levelNames = []string{LevelWatch, LevelWarning, LevelUrgent}

// Model is a validated risk model. Build it with Default, Parse or LoadFile; it is immutable
// and safe for concurrent use.
type Model struct {
	Version string

	weights  [6]float64 // in the order of Dimensions
	standard float64    // yuan per person per month
	margin   float64

	health, healthRecent, critical, newDisability, mainEarnerDeath Span
	unemploymentSteps                                              []Span

	critical10 []icdRange
	levels     [3]levelDef // watch, warning, urgent
	resolve    time.Duration
	triggers   [4]triggerDef // in the order of triggerCodes
	casework   Casework
	// declarations is the declarations section (declare.go); nil in a model not built from a file.
	declarations *Declarations
	aid          *Aid // the aid section (aid.go)
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

// The model file, as written. Pointers tell a missing field from a zero one.
type modelFile struct {
	Version         string            `yaml:"version"`
	Weights         weightsFile       `yaml:"weights"`
	Standard        *float64          `yaml:"standard"`
	Margin          *float64          `yaml:"margin"`
	Windows         windowsFile       `yaml:"windows"`
	CriticalIllness []string          `yaml:"critical_illness_icd10"`
	Levels          []levelFile       `yaml:"levels"`
	ResolveAfter    string            `yaml:"resolve_after"`
	Triggers        []triggerFile     `yaml:"triggers"`
	Casework        *caseworkFile     `yaml:"casework"`
	Declarations    *declarationsFile `yaml:"declarations"`
	Aid             *aidFile          `yaml:"aid"`
}

type weightsFile struct {
	Demographic      *float64 `yaml:"demographic"`
	Income           *float64 `yaml:"income"`
	Employment       *float64 `yaml:"employment"`
	Health           *float64 `yaml:"health"`
	Disability       *float64 `yaml:"disability"`
	RigidExpenditure *float64 `yaml:"rigid_expenditure"`
}

type windowsFile struct {
	Health            string   `yaml:"health"`
	HealthRecent      string   `yaml:"health_recent"`
	UnemploymentSteps []string `yaml:"unemployment_steps"`
	CriticalIllness   string   `yaml:"critical_illness"`
	NewDisability     string   `yaml:"new_disability"`
	MainEarnerDeath   string   `yaml:"main_earner_death"`
}

type levelFile struct {
	Name       string   `yaml:"name"`
	Threshold  *float64 `yaml:"threshold"`
	Hysteresis *float64 `yaml:"hysteresis"`
}

type triggerFile struct {
	Code    string `yaml:"code"`
	Level   string `yaml:"level"`
	Enabled *bool  `yaml:"enabled"`
	ZH      string `yaml:"zh"`
	EN      string `yaml:"en"`
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

// LoadFile reads and validates a model file.
func LoadFile(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	return Parse(data)
}

// Parse validates a model file. Errors start with "model: " and name the field and why, for
// example "model: weights: sum to 0.95, must sum to 1". Unknown keys are refused.
func Parse(data []byte) (*Model, error) {
	var f modelFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("model: empty file")
		}
		var node yaml.Node
		if yaml.Unmarshal(data, &node) == nil {
			if path := unknownKey(&node, reflect.TypeFor[modelFile](), ""); path != "" {
				return nil, fmt.Errorf("model: %s: unknown key", path)
			}
		}
		return nil, fmt.Errorf("model: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("model: more than one YAML document")
	}
	return build(&f)
}

// unknownKey finds the first mapping key of node that the type t does not declare and returns
// its path ("windows.helth"), or "".
func unknownKey(node *yaml.Node, t reflect.Type, path string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch node.Kind {
	case yaml.DocumentNode:
		for _, c := range node.Content {
			if p := unknownKey(c, t, path); p != "" {
				return p
			}
		}
	case yaml.SequenceNode:
		if t.Kind() != reflect.Slice {
			return ""
		}
		for i, c := range node.Content {
			if p := unknownKey(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	case yaml.MappingNode:
		if t.Kind() != reflect.Struct {
			return ""
		}
		for i := 0; i+1 < len(node.Content); i += 2 {
			key := node.Content[i].Value
			p := key
			if path != "" {
				p = path + "." + key
			}
			field, ok := fieldByTag(t, key)
			if !ok {
				return p
			}
			if q := unknownKey(node.Content[i+1], field.Type, p); q != "" {
				return q
			}
		}
	}
	return ""
}

// trimFloat prints a float without trailing zeros: 0.95, 45, 1000.5.
func trimFloat(f float64) string {
	return fmt.Sprintf("%.6g", math.Round(f*1e6)/1e6)
}

// LevelRank orders levels: 0 none (or unknown), 1 watch, 2 warning, 3 urgent.
func LevelRank(level string) int {
	for i, n := range levelNames {
		if n == level {
			return i + 1
		}
	}
	return 0
}

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

// fieldByTag finds the field of t whose yaml tag names key.
func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}
