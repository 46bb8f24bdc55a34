package scorer

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

// gen generates households around an instant, with fixed seeds so that failures reproduce.
type gen struct {
	r   *rand.Rand
	now time.Time
}

var icdPool = []string{"J18.9", "N03.9", "N18.5", "C92.0", "C50.9", "I21.0", "I63.9", "K35.8", "S72.0", "Q21.0", "", "bogus"}

// day returns a midnight date d days from now's date (negative: before).
func (g *gen) day(d int) time.Time {
	y, m, dd := g.now.Date()
	return time.Date(y, m, dd+d, 0, 0, 0, 0, time.UTC)
}

func (g *gen) household() Household {
	h := Household{ID: "gen"}
	rels := []string{"head", "spouse", "child", "parent", "other"}
	for i := range 1 + g.r.IntN(6) {
		m := Member{Key: string(rune('a' + i)), Relation: rels[g.r.IntN(len(rels))]}
		if g.r.IntN(20) > 0 {
			m.BirthDate = g.day(-g.r.IntN(95 * 366))
			m.BirthDate = m.BirthDate.AddDate(0, 0, 1-m.BirthDate.Day()) // month only, as intake keeps it
		}
		if g.r.IntN(10) == 0 {
			m.Died = ptr(g.day(-g.r.IntN(800) + 60))
		}
		switch g.r.IntN(3) {
		case 0:
			m.Employment = &Employment{Employed: true, MonthlyWage: float64(g.r.IntN(12000)), Since: g.day(-g.r.IntN(3000))}
		case 1:
			m.Employment = &Employment{Since: g.day(-g.r.IntN(900)), Registered: g.r.IntN(2) == 0}
		}
		if g.r.IntN(3) == 0 {
			st := []string{PensionActive, PensionActive, PensionSuspended, PensionStopped}[g.r.IntN(4)]
			m.Pension = &Pension{MonthlyAmount: float64(g.r.IntN(5000)), Status: st}
		}
		if g.r.IntN(4) == 0 {
			m.Disability = g.disability()
		}
		for range g.r.IntN(3) {
			m.Admissions = append(m.Admissions, g.admission())
		}
		h.Members = append(h.Members, m)
	}
	return h
}

func (g *gen) disability() *Disability {
	return &Disability{Grade: 1 + g.r.IntN(4), Since: g.day(-g.r.IntN(800)), Revoked: g.r.IntN(8) == 0}
}

func (g *gen) admission() Admission {
	adm := g.day(-g.r.IntN(800))
	a := Admission{ID: "x", Admitted: adm, ICD10: icdPool[g.r.IntN(len(icdPool))], CriticalIllness: g.r.IntN(10) == 0}
	if g.r.IntN(5) > 0 {
		a.Discharged = ptr(adm.AddDate(0, 0, g.r.IntN(60)))
		a.OutOfPocket = float64(g.r.IntN(40000))
	}
	return a
}

// outcomeOf is what NextChange promises to track: total, dimension scores and triggers.
func outcomeOf(a Assessment) outcome {
	var o outcome
	o.total = a.Total
	for i, d := range a.Dimensions {
		o.dims[i] = d.Score
	}
	for _, t := range a.Triggers {
		o.trig |= 1 << slices.Index(triggerCodes, t.Code)
	}
	return o
}

func newGen(seed uint64) *gen {
	r := rand.New(rand.NewPCG(seed, 0x5afe))
	now := date("2025-06-30").Add(time.Duration(r.Int64N(int64(400 * 24 * time.Hour))))
	return &gen{r: r, now: now}
}

const propertyRuns = 3000

func TestPropertyRange(t *testing.T) {
	for seed := range uint64(propertyRuns) {
		g := newGen(seed)
		h := g.household()
		a := Assess(Default(), h, g.now)
		if !(a.Total >= 0 && a.Total <= 100) {
			t.Fatalf("seed %d: total %v out of range", seed, a.Total)
		}
		for _, d := range a.Dimensions {
			if !(d.Score >= 0 && d.Score <= 100) {
				t.Fatalf("seed %d: %s = %v out of range", seed, d.Name, d.Score)
			}
		}
		checkContributions(t, a)
	}
}

// Adding an admission, a disability or a job loss never lowers the total.
func TestPropertyMonotone(t *testing.T) {
	m := Default()
	for seed := range uint64(propertyRuns) {
		g := newGen(seed)
		h := g.household()
		before := Assess(m, h, g.now).Total
		i := g.r.IntN(len(h.Members))

		changes := map[string]func(*Member) bool{
			"admission": func(mem *Member) bool {
				a := g.admission()
				if a.Admitted.After(g.now) {
					a.Admitted = g.day(0)
				}
				mem.Admissions = append(slices.Clone(mem.Admissions), a)
				return true
			},
			"disability": func(mem *Member) bool {
				if mem.Disability != nil && !mem.Disability.Revoked {
					return false
				}
				mem.Disability = g.disability()
				mem.Disability.Revoked = false
				return true
			},
			"job loss": func(mem *Member) bool {
				if mem.Employment != nil && !mem.Employment.Employed {
					return false
				}
				mem.Employment = &Employment{Since: g.day(-g.r.IntN(900)), Registered: g.r.IntN(2) == 0}
				return true
			},
		}
		for _, what := range []string{"admission", "disability", "job loss"} {
			h2 := Household{ID: h.ID, Members: slices.Clone(h.Members)}
			if !changes[what](&h2.Members[i]) {
				continue
			}
			if after := Assess(m, h2, g.now).Total; after < before {
				t.Errorf("seed %d: %s on member %d lowered the total from %v to %v", seed, what, i, before, after)
			}
		}
	}
}

// At NextChange the outcome differs from now's; just before it, and anywhere between, it does
// not. With no NextChange, the outcome never changes.
func TestPropertyNextChange(t *testing.T) {
	m := Default()
	for seed := range uint64(propertyRuns) {
		g := newGen(seed)
		h := g.household()
		a := Assess(m, h, g.now)
		o := outcomeOf(a)
		at := func(t time.Time) outcome { return outcomeOf(Assess(m, h, t)) }
		if a.NextChange.IsZero() {
			for _, later := range []time.Time{g.now.AddDate(1, 0, 0), g.now.AddDate(30, 0, 0), g.now.AddDate(100, 0, 0)} {
				if at(later) != o {
					t.Fatalf("seed %d: no NextChange, but the outcome at %v differs from %v's", seed, later, g.now)
				}
			}
			continue
		}
		nc := a.NextChange
		if !nc.After(g.now) {
			t.Fatalf("seed %d: NextChange %v not after now %v", seed, nc, g.now)
		}
		if at(nc) == o {
			t.Errorf("seed %d: outcome at NextChange %v equals now's (%v)", seed, nc, g.now)
		}
		for _, before := range []time.Time{nc.Add(-time.Second), nc.Add(-time.Hour), g.now.Add(nc.Sub(g.now) / 2), g.now.Add(nc.Sub(g.now) / 3)} {
			if before.After(g.now) && at(before) != o {
				t.Errorf("seed %d: outcome changed at %v, before NextChange %v (now %v)", seed, before, nc, g.now)
			}
		}
		// Scheduling from the next change onwards keeps moving forward.
		if b := Assess(m, h, nc); !b.NextChange.IsZero() && !b.NextChange.After(nc) {
			t.Errorf("seed %d: NextChange from %v is %v", seed, nc, b.NextChange)
		}
	}
}

func TestPropertyNoNaN(t *testing.T) {
	h := hh(with(working(40, math.MaxFloat64), func(m *Member) {
		m.Admissions = []Admission{{Admitted: date("2025-01-01"), OutOfPocket: math.Inf(1)}, {Admitted: date("2025-01-01"), OutOfPocket: math.NaN()}}
		m.Pension = &Pension{MonthlyAmount: math.NaN(), Status: PensionActive}
	}), with(person(10, "child"), func(m *Member) { m.Employment = &Employment{Employed: true, MonthlyWage: -5000} }))
	a := Assess(Default(), h, now)
	if math.IsNaN(a.Total) || a.Total < 0 || a.Total > 100 {
		t.Fatalf("total %v", a.Total)
	}
}

// Score is Assess without the reasons: every other field is the same.
func TestPropertyScoreIsAssessWithoutReasons(t *testing.T) {
	m := Default()
	for seed := range uint64(propertyRuns) {
		g := newGen(seed)
		h := g.household()
		full, score := Assess(m, h, g.now), Score(m, h, g.now)
		if score.Reasons != nil {
			t.Fatalf("seed %d: Score wrote %d reasons", seed, len(score.Reasons))
		}
		full.Reasons = nil
		if !reflect.DeepEqual(full, score) {
			t.Fatalf("seed %d: Score differs from Assess:\nassess %+v\nscore  %+v", seed, full, score)
		}
	}
}
