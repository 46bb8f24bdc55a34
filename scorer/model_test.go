package scorer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"safetynet/scorer/modelfile"
)

func TestDefaultModel(t *testing.T) {
	m := Default()
	if m.Version == "" {
		t.Fatal("default model has no version")
	}
	for _, tc := range []struct {
		level string
		want  float64
	}{{LevelNone, 0}, {LevelWatch, 30}, {LevelWarning, 45}, {LevelUrgent, 65}, {"bogus", 0}} {
		if got := m.Threshold(tc.level); got != tc.want {
			t.Errorf("Threshold(%q) = %v, want %v", tc.level, got, tc.want)
		}
	}
	if got, want := m.ResolveAfter(), 180*24*time.Hour; got != want {
		t.Errorf("ResolveAfter() = %v, want %v", got, want)
	}
	if got := m.Standard(); got != 1000 {
		t.Errorf("Standard() = %v, want 1000", got)
	}
	sum := 0.0
	for _, d := range Dimensions {
		sum += m.Weight(d)
	}
	if sum < 1-1e-9 || sum > 1+1e-9 {
		t.Errorf("weights sum to %v", sum)
	}
}

// replace edits the default model text; each edit must apply.
func replace(t *testing.T, pairs ...string) []byte {
	t.Helper()
	s := string(DefaultYAML())
	for i := 0; i < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("default model has no %q", pairs[i])
		}
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	return []byte(s)
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name  string
		edits []string
		want  string
	}{
		{"weights not summing to 1", []string{"income: 0.25", "income: 0.20"}, "model: weights: sum to 0.95, must sum to 1"},
		{"negative weight", []string{"income: 0.25", "income: -0.25"}, "model: weights.income: -0.25 is not between 0 and 1"},
		{"missing weight", []string{"  disability: 0.10         # 残疾\n", ""}, "model: weights.disability: missing"},
		{"thresholds not ascending", []string{"threshold: 45", "threshold: 25"}, "model: levels[1].threshold: 25 is not above watch's 30"},
		{"level names out of order", []string{"{name: warning", "{name: urgent"}, `model: levels[1].name: "urgent", want "warning"`},
		{"level missing", []string{"  - {name: urgent, threshold: 65, hysteresis: 5}    # 紧急\n", ""}, "model: levels: 2 given, want watch, warning, urgent"},
		{"hysteresis too large", []string{"threshold: 30, hysteresis: 5", "threshold: 30, hysteresis: 30"}, "model: levels[0].hysteresis: 30 must be at least 0 and below the threshold 30"},
		{"unknown top-level key", []string{"margin: 2", "margin: 2\nmargn: 3"}, "model: margn: unknown key"},
		{"unknown nested key", []string{"health: 12mo", "helth: 12mo"}, "model: windows.helth: unknown key"},
		{"unknown key in a list", []string{"{name: watch,", "{name: watch, colour: red,"}, "model: levels[0].colour: unknown key"},
		{"malformed ICD-10 range", []string{"- N18 ", "- N1 "}, `model: critical_illness_icd10[7]: "N1": "N1" is not an ICD-10 code`},
		{"backwards ICD-10 range", []string{"I21-I22", "I22-I21"}, `model: critical_illness_icd10[5]: "I22-I21": range runs backwards`},
		{"negative standard", []string{"standard: 1000", "standard: -1000"}, "model: standard: -1000 is negative"},
		{"zero standard", []string{"standard: 1000", "standard: 0"}, "model: standard: must be above 0"},
		{"standard not a number", []string{"standard: 1000", "standard: lots"}, "cannot unmarshal !!str `lots` into float64"},
		{"margin at most 1", []string{"margin: 2", "margin: 1"}, "model: margin: 1 must be above 1"},
		{"bad window", []string{"health: 12mo", "health: 12 months"}, `model: windows.health: "12 months": want a whole number and a unit`},
		{"zero window", []string{"new_disability: 12mo", "new_disability: 0d"}, `model: windows.new_disability: "0d" must be longer than zero`},
		{"steps not ascending", []string{"[3mo, 6mo]", "[6mo, 3mo]"}, "model: windows.unemployment_steps[1]: 3mo is not longer than 6mo"},
		{"recent longer than window", []string{"health_recent: 6mo", "health_recent: 13mo"}, "model: windows.health_recent: 13mo is longer than windows.health 12mo"},
		{"resolve_after in months", []string{"resolve_after: 180d", "resolve_after: 6mo"}, "model: resolve_after: 6mo: give it in hours, days or weeks"},
		{"unknown trigger", []string{"code: main_earner_death", "code: lottery_win"}, `model: triggers[0].code: "lottery_win" is not one of`},
		{"trigger twice", []string{"code: critical_illness", "code: main_earner_death"}, `model: triggers[1].code: "main_earner_death" listed twice`},
		{"trigger level unknown", []string{"level: warning\n    enabled: true\n    zh: 家庭", "level: red\n    enabled: true\n    zh: 家庭"}, `model: triggers[0].level: "red" is not one of`},
		{"missing version", []string{"version: default-2025.1", ""}, "model: version: missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(replace(t, tc.edits...))
			if err == nil {
				t.Fatalf("Parse accepted the model, want error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestParseEdgeCases(t *testing.T) {
	if _, err := Parse(nil); err == nil || err.Error() != "model: empty file" {
		t.Errorf("Parse(nil) error = %v, want model: empty file", err)
	}
	if _, err := Parse(append(DefaultYAML(), "---\nversion: x\n"...)); err == nil {
		t.Error("Parse accepted two documents")
	}
	// Optional fields take their defaults; a trigger left out is off.
	m, err := Parse(replace(t, "margin: 2\n", "", "resolve_after: 180d\n", "",
		"  - code: income_below_standard\n    level: watch\n    enabled: true\n", "  - code: income_below_standard\n    level: watch\n    enabled: false\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m.margin != 2 || m.ResolveAfter() != 180*24*time.Hour {
		t.Errorf("defaults: margin %v, resolve_after %v", m.margin, m.ResolveAfter())
	}
	h := Household{Members: []Member{{Key: "a", BirthDate: date("1990-01-01"), Employment: &Employment{Employed: true, MonthlyWage: 500}}}}
	if a := Assess(m, h, date("2025-01-01")); len(a.Triggers) != 0 {
		t.Errorf("disabled trigger fired: %+v", a.Triggers)
	}
	if a := Assess(Default(), h, date("2025-01-01")); len(a.Triggers) != 1 {
		t.Errorf("default model triggers = %+v, want income_below_standard", a.Triggers)
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.yaml")
	if err := os.WriteFile(path, replace(t, "version: default-2025.1", "version: local-7"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != "local-7" {
		t.Errorf("Version = %q", m.Version)
	}
	if _, err := LoadFile(filepath.Join(dir, "absent.yaml")); err == nil || !strings.HasPrefix(err.Error(), "model: ") {
		t.Errorf("LoadFile(absent) error = %v", err)
	}
}

func TestICD10(t *testing.T) {
	m := Default()
	tests := []struct {
		code string
		want bool
	}{
		{"C92.0", true}, {"c91", true}, {"C95.9", true}, {"C00", true}, {"C97", true}, {"C98", false},
		{"D56.1", true}, {"N18.5", true}, {"N18", true}, {"N17.9", false}, {"N03.9", false},
		{"I21.4", true}, {"I22", true}, {"I23", false}, {"I63.9", true}, {"Q21.0", true},
		{"B20", true}, {"J18.9", false}, {"", false}, {"C9", false}, {"XYZ", false}, {"C92.", false},
	}
	for _, tc := range tests {
		if got := m.criticalICD(tc.code); got != tc.want {
			t.Errorf("criticalICD(%q) = %v, want %v", tc.code, got, tc.want)
		}
	}
	// Subcategory ends.
	r, err := modelfile.ParseICDRange("C92.0–C92.2")
	if err != nil {
		t.Fatal(err)
	}
	for code, want := range map[string]bool{"C920": true, "C921": true, "C922": true, "C9221": true, "C923": false, "C91": false} {
		if got := r.Contains(code); got != want {
			t.Errorf("C92.0–C92.2 contains %s = %v, want %v", code, got, want)
		}
	}
}

func TestSpan(t *testing.T) {
	base := date("2024-01-31")
	tests := []struct {
		text string
		want time.Time
	}{
		{"1mo", date("2024-03-02")}, // AddDate normalises 2024-02-31
		{"12mo", date("2025-01-31")},
		{"180d", date("2024-07-29")},
		{"2w", date("2024-02-14")},
		{"1y", date("2025-01-31")},
		{"36h", base.Add(36 * time.Hour)},
	}
	for _, tc := range tests {
		s, err := modelfile.ParseSpan(tc.text)
		if err != nil {
			t.Fatalf("modelfile.ParseSpan(%q): %v", tc.text, err)
		}
		if got := s.After(base); !got.Equal(tc.want) {
			t.Errorf("%s after %s = %s, want %s", tc.text, base, got, tc.want)
		}
		if s.String() != tc.text {
			t.Errorf("String() = %q, want %q", s.String(), tc.text)
		}
	}
	for _, bad := range []string{"", "12", "mo", "-3mo", "0d", "1.5mo", "3 mo", "12m"} {
		if _, err := modelfile.ParseSpan(bad); err == nil {
			t.Errorf("modelfile.ParseSpan(%q) accepted", bad)
		}
	}
}

func TestClassify(t *testing.T) {
	m := Default() // watch 30/25, warning 45/40, urgent 65/60
	trig := func(level string) []Trigger { return []Trigger{{Code: TriggerCriticalIllness, Level: level}} }
	tests := []struct {
		name  string
		total float64
		trig  []Trigger
		prev  string
		want  string
	}{
		{"nothing", 10, nil, LevelNone, LevelNone},
		{"just below watch", 29.9, nil, LevelNone, LevelNone},
		{"enter watch at threshold", 30, nil, LevelNone, LevelWatch},
		{"enter warning", 45, nil, LevelNone, LevelWarning},
		{"enter urgent", 65, nil, LevelWarning, LevelUrgent},
		{"top score", 100, nil, LevelNone, LevelUrgent},
		{"stay in watch inside band", 25, nil, LevelWatch, LevelWatch},
		{"leave watch below exit", 24.9, nil, LevelWatch, LevelNone},
		{"stay in warning inside band", 40, nil, LevelWarning, LevelWarning},
		{"warning falls to watch", 39.9, nil, LevelWarning, LevelWatch},
		{"warning falls through watch", 20, nil, LevelWarning, LevelNone},
		{"urgent stays", 60, nil, LevelUrgent, LevelUrgent},
		{"urgent falls to warning band", 42, nil, LevelUrgent, LevelWarning},
		{"urgent falls to watch band", 27, nil, LevelUrgent, LevelWatch},
		{"previous lower level does not hold down", 70, nil, LevelWatch, LevelUrgent},
		{"unknown previous level", 27, nil, "red", LevelNone},
		{"trigger sets minimum", 0, trig(LevelWarning), LevelNone, LevelWarning},
		{"trigger below score level", 70, trig(LevelWatch), LevelNone, LevelUrgent},
		{"trigger and band", 42, trig(LevelWatch), LevelUrgent, LevelWarning},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := m.Classify(Assessment{Total: tc.total, Triggers: tc.trig}, tc.prev)
			if got != tc.want {
				t.Errorf("Classify(total %v, prev %q) = %q, want %q", tc.total, tc.prev, got, tc.want)
			}
		})
	}
}

// A total jittering around a line raises one level change, not many.
func TestClassifyNoFlap(t *testing.T) {
	m := Default()
	level, changes := LevelNone, 0
	for i := range 200 {
		total := 30 + 3*float64(i%3-1) // 27, 30, 33, 27, …
		next := m.Classify(Assessment{Total: total}, level)
		if next != level {
			changes++
		}
		level = next
	}
	if changes != 1 {
		t.Errorf("%d level changes for a total jittering 27–33 around watch's 30, want 1", changes)
	}
}

func TestLevelRank(t *testing.T) {
	for level, want := range map[string]int{LevelNone: 0, LevelWatch: 1, LevelWarning: 2, LevelUrgent: 3, "other": 0} {
		if got := LevelRank(level); got != want {
			t.Errorf("LevelRank(%q) = %d, want %d", level, got, want)
		}
	}
}

// The model file names the weights as the scorer names its dimensions.
func TestWeightNamesAreDimensions(t *testing.T) {
	if got, want := strings.Join(modelfile.WeightNames, ","), strings.Join(Dimensions, ","); got != want {
		t.Errorf("modelfile.WeightNames %s, want the dimensions %s", got, want)
	}
}
