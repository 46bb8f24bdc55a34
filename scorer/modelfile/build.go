package modelfile

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// build checks a parsed model file section by section and returns the model; the first error
// names the field that is wrong.
func build(f *modelFile) (*Spec, error) {
	m := &Spec{Version: strings.TrimSpace(f.Version)}
	if m.Version == "" {
		return nil, fail("version: missing")
	}
	for _, section := range []func(*modelFile) error{
		m.buildWeights, m.buildStandard, m.buildWindows, m.buildCriticalIllness,
		m.buildLevels, m.buildResolveAfter, m.buildTriggers, m.buildCasework, m.buildDeclarations, m.buildAid,
	} {
		if err := section(f); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// fail is a model file error: what is wrong, where.
func fail(format string, args ...any) error { return fmt.Errorf("model: "+format, args...) }

// buildWeights reads weights: six, each between 0 and 1, summing to 1.
func (m *Spec) buildWeights(f *modelFile) error {
	ws := []*float64{f.Weights.Demographic, f.Weights.Income, f.Weights.Employment, f.Weights.Health, f.Weights.Disability, f.Weights.RigidExpenditure}
	sum := 0.0
	for i, w := range ws {
		switch {
		case w == nil:
			return fail("weights.%s: missing", WeightNames[i])
		case math.IsNaN(*w) || *w < 0 || *w > 1:
			return fail("weights.%s: %v is not between 0 and 1", WeightNames[i], *w)
		}
		m.Weights[i] = *w
		sum += *w
	}
	if math.Abs(sum-1) > 1e-6 {
		return fail("weights: sum to %s, must sum to 1", trimFloat(sum))
	}
	return nil
}

// buildStandard reads standard (低保标准) and margin.
func (m *Spec) buildStandard(f *modelFile) error {
	switch {
	case f.Standard == nil:
		return fail("standard: missing (低保标准, yuan per person per month)")
	case math.IsNaN(*f.Standard) || math.IsInf(*f.Standard, 0):
		return fail("standard: %v is not a number of yuan", *f.Standard)
	case *f.Standard < 0:
		return fail("standard: %s is negative", trimFloat(*f.Standard))
	case *f.Standard == 0:
		return fail("standard: must be above 0")
	}
	m.Standard = *f.Standard
	m.Margin = 2
	if f.Margin != nil {
		if math.IsNaN(*f.Margin) || *f.Margin <= 1 || *f.Margin > 100 {
			return fail("margin: %v must be above 1 (and at most 100)", *f.Margin)
		}
		m.Margin = *f.Margin
	}
	return nil
}

// buildWindows reads windows, with their defaults.
func (m *Spec) buildWindows(f *modelFile) error {
	var err error
	span := func(name, text, def string) Span {
		if err != nil {
			return Span{}
		}
		if text == "" {
			text = def
		}
		s, e := ParseSpan(text)
		if e != nil {
			err = fmt.Errorf("model: windows.%s: %w", name, e)
		}
		return s
	}
	m.Health = span("health", f.Windows.Health, "12mo")
	m.HealthRecent = span("health_recent", f.Windows.HealthRecent, "6mo")
	m.Critical = span("critical_illness", f.Windows.CriticalIllness, "12mo")
	m.NewDisability = span("new_disability", f.Windows.NewDisability, "12mo")
	m.MainEarnerDeath = span("main_earner_death", f.Windows.MainEarnerDeath, "12mo")
	steps := f.Windows.UnemploymentSteps
	if steps == nil {
		steps = []string{"3mo", "6mo"}
	}
	if len(steps) > 8 {
		return fail("windows.unemployment_steps: %d steps, at most 8", len(steps))
	}
	ref := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, s := range steps {
		sp := span(fmt.Sprintf("unemployment_steps[%d]", i), s, "")
		if err == nil && i > 0 && !sp.After(ref).After(m.UnemploymentSteps[i-1].After(ref)) {
			return fail("windows.unemployment_steps[%d]: %s is not longer than %s", i, sp, m.UnemploymentSteps[i-1])
		}
		m.UnemploymentSteps = append(m.UnemploymentSteps, sp)
	}
	if err != nil {
		return err
	}
	if m.HealthRecent.After(ref).After(m.Health.After(ref)) {
		return fail("windows.health_recent: %s is longer than windows.health %s", m.HealthRecent, m.Health)
	}
	return nil
}

// buildCriticalIllness reads critical_illness_icd10.
func (m *Spec) buildCriticalIllness(f *modelFile) error {
	if f.CriticalIllness == nil {
		return fail("critical_illness_icd10: missing (list ICD-10 ranges such as C00-C97)")
	}
	for i, s := range f.CriticalIllness {
		r, err := ParseICDRange(s)
		if err != nil {
			return fail("critical_illness_icd10[%d]: %v", i, err)
		}
		m.CriticalICD10 = append(m.CriticalICD10, r)
	}
	return nil
}

// buildLevels reads levels: watch, warning, urgent in that order, thresholds rising.
func (m *Spec) buildLevels(f *modelFile) error {
	if len(f.Levels) != len(LevelNames) {
		return fail("levels: %d given, want %s in that order", len(f.Levels), strings.Join(LevelNames, ", "))
	}
	for i, l := range f.Levels {
		switch {
		case l.Name != LevelNames[i]:
			return fail("levels[%d].name: %q, want %q (levels are %s in that order)", i, l.Name, LevelNames[i], strings.Join(LevelNames, ", "))
		case l.Threshold == nil:
			return fail("levels[%d].threshold: missing", i)
		case math.IsNaN(*l.Threshold) || *l.Threshold <= 0 || *l.Threshold > 100:
			return fail("levels[%d].threshold: %v is not above 0 and at most 100", i, *l.Threshold)
		case i > 0 && *l.Threshold <= m.Levels[i-1].Threshold:
			return fail("levels[%d].threshold: %s is not above %s's %s", i, trimFloat(*l.Threshold), m.Levels[i-1].Name, trimFloat(m.Levels[i-1].Threshold))
		}
		h := 0.0
		if l.Hysteresis != nil {
			h = *l.Hysteresis
			if math.IsNaN(h) || h < 0 || h >= *l.Threshold {
				return fail("levels[%d].hysteresis: %v must be at least 0 and below the threshold %s", i, h, trimFloat(*l.Threshold))
			}
		}
		m.Levels[i] = Level{Name: l.Name, Threshold: *l.Threshold, Hysteresis: h}
	}
	return nil
}

// buildResolveAfter reads resolve_after (default 180d).
func (m *Spec) buildResolveAfter(f *modelFile) error {
	ra := f.ResolveAfter
	if ra == "" {
		ra = "180d"
	}
	sp, e := ParseSpan(ra)
	if e != nil {
		return fail("resolve_after: %v", e)
	}
	d, ok := sp.Fixed()
	if !ok {
		return fail("resolve_after: %s: give it in hours, days or weeks (e.g. 180d)", sp)
	}
	m.ResolveAfter = d
	return nil
}

// buildTriggers reads triggers.
func (m *Spec) buildTriggers(f *modelFile) error {
	seen := map[string]bool{}
	for i, t := range f.Triggers {
		idx := -1
		for j, c := range TriggerCodes {
			if c == t.Code {
				idx = j
			}
		}
		switch {
		case idx < 0:
			return fail("triggers[%d].code: %q is not one of %s", i, t.Code, strings.Join(TriggerCodes, ", "))
		case seen[t.Code]:
			return fail("triggers[%d].code: %q listed twice", i, t.Code)
		case LevelRank(t.Level) == 0:
			return fail("triggers[%d].level: %q is not one of %s", i, t.Level, strings.Join(LevelNames, ", "))
		case strings.TrimSpace(t.ZH) == "" || strings.TrimSpace(t.EN) == "":
			return fail("triggers[%d]: zh and en texts are required", i)
		}
		seen[t.Code] = true
		m.Triggers[idx] = Trigger{Enabled: t.Enabled == nil || *t.Enabled, Level: t.Level, ZH: strings.TrimSpace(t.ZH), EN: strings.TrimSpace(t.EN)}
	}
	return nil
}
