package scorer

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func FuzzParse(f *testing.F) {
	f.Add(DefaultYAML())
	f.Add([]byte("version: x\n"))
	f.Add([]byte("version: x\nweights: {demographic: 1, income: 0, employment: 0, health: 0, disability: 0, rigid_expenditure: 0}\nstandard: 1\ncritical_illness_icd10: [A00-B99]\nlevels: [{name: watch, threshold: 1}, {name: warning, threshold: 2}, {name: urgent, threshold: 3}]\n"))
	f.Add([]byte("windows: {health: 12mo, unemployment_steps: [1d, 2w, 3mo, 4y]}\n"))
	f.Add([]byte("critical_illness_icd10: [C92.0–C92.2, Z]\n"))
	f.Add([]byte("{{{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			if m != nil {
				t.Fatal("model and error")
			}
			return
		}
		sum := 0.0
		for _, w := range m.weights {
			sum += w
		}
		if math.Abs(sum-1) > 1e-6 {
			t.Fatalf("accepted weights summing to %v", sum)
		}
		for i := 1; i < len(m.levels); i++ {
			if m.levels[i].threshold <= m.levels[i-1].threshold {
				t.Fatalf("accepted thresholds %+v", m.levels)
			}
		}
		if m.standard <= 0 || m.margin <= 1 {
			t.Fatalf("accepted standard %v margin %v", m.standard, m.margin)
		}
		a := Assess(m, hh(working(40, 500), person(5, "child")), now)
		if !(a.Total >= 0 && a.Total <= 100) {
			t.Fatalf("total %v", a.Total)
		}
	})
}

func FuzzAssess(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "stories", "*.json"))
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, now.Unix())
	}
	f.Add([]byte(`{"members":[{"died":"0001-01-01T00:00:00Z","employment":{"employed":true,"monthly_wage":1e308}}]}`), int64(0))
	f.Add([]byte(`{"members":[{"birth_date":"9999-12-31T23:59:59Z","admissions":[{"admitted":"0001-01-01T00:00:00Z","out_of_pocket":-1}]}]}`), int64(-1<<40))
	m := Default()
	f.Fuzz(func(t *testing.T, data []byte, unix int64) {
		var h Household
		if json.Unmarshal(data, &h) != nil {
			return
		}
		at := time.Unix(unix%(1<<36), 0).UTC()
		a := Assess(m, h, at)
		if !(a.Total >= 0 && a.Total <= 100) {
			t.Fatalf("total %v", a.Total)
		}
		if !a.NextChange.IsZero() && !a.NextChange.After(at) {
			t.Fatalf("NextChange %v not after %v", a.NextChange, at)
		}
		_ = a.Explain(m.Classify(a, LevelWatch))
	})
}

func BenchmarkAssess(b *testing.B) {
	h := loadHousehold(b, filepath.Join("testdata", "stories", "1-unemployed-nephritis.json"))
	m := Default()
	b.ReportAllocs()
	for b.Loop() {
		Assess(m, h, now)
	}
}

func BenchmarkAssessNoReasons(b *testing.B) {
	h := loadHousehold(b, filepath.Join("testdata", "stories", "1-unemployed-nephritis.json"))
	m := Default()
	var p prepared
	b.ReportAllocs()
	for b.Loop() {
		m.prepare(&p, &h)
		m.eval(&p, now, nil)
	}
}

// BenchmarkScore is Assess without the reasons, as the monitor calls it for every event.
func BenchmarkScore(b *testing.B) {
	h := loadHousehold(b, filepath.Join("testdata", "stories", "1-unemployed-nephritis.json"))
	m := Default()
	b.ReportAllocs()
	for b.Loop() {
		Score(m, h, now)
	}
}
