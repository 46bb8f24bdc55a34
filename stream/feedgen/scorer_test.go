package feedgen

import (
	"encoding/json"
	"testing"
	"time"

	"safetynet/scorer"
)

// folder applies clean feed events to scorer households, the way the monitor would, so that the
// test can ask the real model how many households the population puts at risk.
type folder struct {
	households map[string]*scorer.Household
	home       map[string]string // person → household
}

type rawEvent struct {
	PersonID    string   `json:"person_id"`
	HouseholdID string   `json:"household_id"`
	OccurredAt  string   `json:"occurred_at"`
	Type        string   `json:"type"`
	BirthDate   string   `json:"birth_date"`
	Sex         string   `json:"sex"`
	Relation    string   `json:"relation"`
	AdmissionID string   `json:"admission_id"`
	ICD10       string   `json:"icd10"`
	Critical    *bool    `json:"critical_illness"`
	TotalCost   float64  `json:"total_cost"`
	Insured     float64  `json:"insured_cost"`
	OutOfPocket float64  `json:"out_of_pocket"`
	Amount      float64  `json:"monthly_amount"`
	Wage        float64  `json:"monthly_wage"`
	Registered  bool     `json:"registered"`
	Grade       int      `json:"grade"`
	Kind        string   `json:"kind"`
	_           struct{} `json:"-"`
}

func (f *folder) member(pid string) *scorer.Member {
	h := f.households[f.home[pid]]
	if h == nil {
		return nil
	}
	for i := range h.Members {
		if h.Members[i].Key == pid {
			return &h.Members[i]
		}
	}
	return nil
}

func (f *folder) apply(t *testing.T, ev Event) {
	var e rawEvent
	if err := json.Unmarshal(ev.Value, &e); err != nil {
		t.Fatalf("decode %s: %v", ev.Value, err)
	}
	at, _ := time.Parse(time.RFC3339, e.OccurredAt)
	if ev.Feed == "registry" {
		h := f.households[e.HouseholdID]
		if h == nil {
			h = &scorer.Household{ID: e.HouseholdID}
			f.households[e.HouseholdID] = h
		}
		switch e.Type {
		case "member_joined":
			b, _ := time.Parse(time.DateOnly, e.BirthDate)
			h.Members = append(h.Members, scorer.Member{Key: e.PersonID, BirthDate: b, Sex: e.Sex, Relation: e.Relation})
			f.home[e.PersonID] = e.HouseholdID
		case "member_left":
			for i := range h.Members {
				if h.Members[i].Key == e.PersonID {
					h.Members = append(h.Members[:i], h.Members[i+1:]...)
					break
				}
			}
		case "died":
			if m := f.member(e.PersonID); m != nil {
				m.Died = &at
			}
		}
		return
	}
	m := f.member(e.PersonID)
	if m == nil {
		return // left the household
	}
	switch e.Type {
	case "admitted":
		m.Admissions = append(m.Admissions, scorer.Admission{ID: e.AdmissionID, Admitted: at, ICD10: e.ICD10,
			CriticalIllness: e.Critical != nil && *e.Critical})
	case "discharged":
		for i := range m.Admissions {
			if a := &m.Admissions[i]; a.ID == e.AdmissionID {
				a.Discharged = &at
				a.TotalCost, a.InsuredCost, a.OutOfPocket = e.TotalCost, e.Insured, e.OutOfPocket
			}
		}
	case "started", "changed":
		if ev.Feed == "pension" {
			m.Pension = &scorer.Pension{MonthlyAmount: e.Amount, Status: scorer.PensionActive, Since: at}
		} else {
			m.Disability = &scorer.Disability{Grade: e.Grade, Kind: e.Kind, Since: at}
		}
	case "registered":
		m.Disability = &scorer.Disability{Grade: e.Grade, Kind: e.Kind, Since: at}
	case "revoked":
		if m.Disability != nil {
			m.Disability.Revoked = true
		}
	case "suspended", "stopped":
		if m.Pension != nil {
			m.Pension.Status = map[string]string{"suspended": scorer.PensionSuspended, "stopped": scorer.PensionStopped}[e.Type]
			m.Pension.Since = at
		}
	case "employed":
		m.Employment = &scorer.Employment{Employed: true, MonthlyWage: e.Wage, Since: at}
	case "unemployed":
		m.Employment = &scorer.Employment{Registered: e.Registered, Since: at}
	}
}

// TestHouseholdsAtRisk folds a clean feed up to Start and scores every household with the
// default model: a few percent of households should be at some level, with every level and the
// main triggers represented.
func TestHouseholdsAtRisk(t *testing.T) {
	g := New(Config{Seed: 22, Households: 8000, Start: testStart, MalformedRate: -1, DuplicateRate: -1, UnknownPersonRate: -1})
	f := &folder{households: map[string]*scorer.Household{}, home: map[string]string{}}
	for _, ev := range g.Registry() {
		f.apply(t, ev)
	}
	for g.Now().Before(testStart) {
		f.apply(t, g.Next())
	}
	m := scorer.Default()
	levels := map[string]int{}
	triggers := map[string]int{}
	reasons := map[string]int{}
	for _, h := range f.households {
		a := scorer.Assess(m, *h, testStart)
		levels[m.Classify(a, "")]++
		for _, tr := range a.Triggers {
			triggers[tr.Code]++
		}
		if l := m.Classify(a, ""); l != "" && testing.Verbose() {
			for _, r := range a.Reasons[:min(2, len(a.Reasons))] {
				reasons[l+" "+r.Code]++
			}
		}
	}
	n := len(f.households)
	atRisk := n - levels[scorer.LevelNone]
	pct := 100 * float64(atRisk) / float64(n)
	t.Logf("%d households at Start: %.1f%% at a level %v; triggers %v", n, pct, levels, triggers)
	t.Logf("top reasons: %v", reasons)
	if pct < 3 || pct > 15 {
		t.Errorf("%.1f%% of households at a level, want a few percent", pct)
	}
	for _, l := range []string{scorer.LevelWatch, scorer.LevelWarning, scorer.LevelUrgent} {
		if levels[l] == 0 {
			t.Errorf("no household at level %s", l)
		}
	}
}
