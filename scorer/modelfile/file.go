// Package modelfile reads the risk model file (YAML; docs/model.md): it refuses unknown keys
// and more than one document, checks every section (weights, standard and margin, windows,
// critical-illness ICD-10 ranges, levels, resolve_after, triggers, and the optional casework,
// declarations and aid sections, which take their defaults when left out), and returns a Spec
// of plain, validated values. Errors start with "model: " and name the field and why.
//
// It does not score: package scorer builds its Model from a Spec and owns Assess, Score and
// Classify; package scorer/declare checks declarations against the declarations section.
package modelfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Level names, in rank order (a model file lists its levels so).
const (
	LevelWatch   = "watch"
	LevelWarning = "warning"
	LevelUrgent  = "urgent"
)

// Trigger codes: the single facts a model may list under triggers.
const (
	TriggerMainEarnerDeath     = "main_earner_death"
	TriggerCriticalIllness     = "critical_illness"
	TriggerNewSevereDisability = "new_severe_disability"
	TriggerIncomeBelowStandard = "income_below_standard"
)

// LevelNames lists the levels in rank order (rank = index + 1).
var LevelNames = []string{LevelWatch, LevelWarning, LevelUrgent}

// TriggerCodes lists the trigger codes in report order; a trigger's index in Spec.Triggers.
var TriggerCodes = []string{TriggerMainEarnerDeath, TriggerCriticalIllness, TriggerNewSevereDisability, TriggerIncomeBelowStandard}

// WeightNames are the names of the six weights, in the order of Spec.Weights (the scorer's
// dimensions).
var WeightNames = []string{"demographic", "income", "employment", "health", "disability", "rigid_expenditure"}

// Spec is a validated model file.
type Spec struct {
	Version string

	Weights  [6]float64 // in the order of WeightNames
	Standard float64    // yuan per person per month
	Margin   float64

	Health, HealthRecent, Critical, NewDisability, MainEarnerDeath Span
	UnemploymentSteps                                              []Span

	CriticalICD10 []ICDRange
	Levels        [3]Level // watch, warning, urgent
	ResolveAfter  time.Duration
	Triggers      [4]Trigger // in the order of TriggerCodes; a trigger not listed is disabled
	Casework      Casework
	Declarations  Declarations
	Aid           Aid
}

// Level is one level: entered at Threshold, left below Threshold − Hysteresis.
type Level struct {
	Name       string
	Threshold  float64
	Hysteresis float64
}

// Trigger is one trigger as the file sets it.
type Trigger struct {
	Enabled bool
	Level   string
	ZH, EN  string
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

// Parse validates a model file. Errors start with "model: " and name the field and why, for
// example "model: weights: sum to 0.95, must sum to 1". Unknown keys are refused.
func Parse(data []byte) (*Spec, error) {
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
	for i, n := range LevelNames {
		if n == level {
			return i + 1
		}
	}
	return 0
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
