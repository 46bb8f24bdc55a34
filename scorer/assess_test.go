package scorer

import (
	"math"
	"slices"
	"testing"
	"time"
)

var now = date("2025-06-30")

func ptr[T any](v T) *T { return &v }

// person builds a living member of the given age in whole years at now.
func person(age int, rel string) Member {
	return Member{Key: rel, Relation: rel, BirthDate: now.AddDate(-age, -1, 0)}
}

func working(age int, wage float64) Member {
	m := person(age, "head")
	m.Employment = &Employment{Employed: true, MonthlyWage: wage, Since: date("2020-01-01")}
	return m
}

func pensioner(age int, amount float64) Member {
	m := person(age, "parent")
	m.Pension = &Pension{MonthlyAmount: amount, Status: PensionActive, Since: date("2010-01-01")}
	return m
}

func unemployed(age int, since time.Time, registered bool) Member {
	m := person(age, "head")
	m.Employment = &Employment{Since: since, Registered: registered}
	return m
}

func admission(admitted, discharged string, icd string, oop float64) Admission {
	a := Admission{ID: admitted, Admitted: date(admitted), ICD10: icd, OutOfPocket: oop}
	if discharged != "" {
		a.Discharged = ptr(date(discharged))
	}
	return a
}

func with(m Member, f func(*Member)) Member { f(&m); return m }

func hh(ms ...Member) Household { return Household{ID: "h", Members: ms} }

// A rich household whose other dimensions do not move: two earners far above the standard.
func TestDimensions(t *testing.T) {
	rich := working(40, 50000)
	tests := []struct {
		name string
		h    Household
		dim  string
		want float64
	}{
		// Demographic.
		{"demographic: two working adults", hh(working(40, 3000), working(38, 3000)), DimDemographic, 0},
		{"demographic: single parent", hh(working(35, 5000), person(8, "child")), DimDemographic, 35 + 20},
		{"demographic: elderly alone", hh(pensioner(75, 3000)), DimDemographic, 100},
		{"demographic: elderly couple", hh(pensioner(75, 3000), pensioner(70, 3000)), DimDemographic, 70},
		{"demographic: two adults, two children, one elder", hh(rich, working(38, 3000), person(5, "child"), person(9, "child"), pensioner(66, 0)), DimDemographic, 42},
		{"demographic: unknown birth date is working age", hh(Member{Key: "x"}, rich), DimDemographic, 0},
		{"demographic: the dead are not members", hh(with(pensioner(80, 0), func(m *Member) { m.Died = ptr(date("2020-01-01")) }), rich), DimDemographic, 0},
		// Income: standard 1000, margin 2.
		{"income: at the standard", hh(working(40, 2000), person(10, "child")), DimIncome, 100},
		{"income: below the standard", hh(working(40, 500)), DimIncome, 100},
		{"income: halfway", hh(working(40, 3000), person(10, "child")), DimIncome, 50},
		{"income: at twice the standard", hh(working(40, 2000)), DimIncome, 0},
		{"income: pension counts", hh(pensioner(70, 1500)), DimIncome, 50},
		{"income: suspended pension does not", hh(with(pensioner(70, 1500), func(m *Member) { m.Pension.Status = PensionSuspended })), DimIncome, 100},
		{"income: nothing reported is unknown, not zero", hh(person(40, "head"), person(10, "child")), DimIncome, 0},
		{"income: a dead member's wage does not", hh(with(working(40, 9000), func(m *Member) { m.Died = ptr(date("2025-01-01")) }), working(38, 1500)), DimIncome, 50},
		// Employment: steps 3 and 6 months.
		{"employment: all in work", hh(working(40, 3000)), DimEmployment, 0},
		{"employment: 1 month, registered", hh(unemployed(40, date("2025-05-30"), true)), DimEmployment, 30},
		{"employment: exactly 3 months", hh(unemployed(40, date("2025-03-30"), true)), DimEmployment, 50},
		{"employment: 6 months, not registered", hh(unemployed(40, date("2024-12-30"), false)), DimEmployment, 80},
		{"employment: two out of work, capped", hh(unemployed(40, date("2024-12-30"), false), unemployed(38, date("2024-12-30"), false)), DimEmployment, 100},
		{"employment: 62-year-old out of work", hh(unemployed(62, date("2024-01-01"), true), rich), DimEmployment, 0},
		{"employment: 15-year-old out of work", hh(unemployed(15, date("2024-01-01"), true), rich), DimEmployment, 0},
		// Health: window 12 months, recent 6 months.
		{"health: none", hh(rich), DimHealth, 0},
		{"health: recent admission", hh(with(rich, func(m *Member) { m.Admissions = []Admission{admission("2025-05-01", "2025-05-10", "J18.9", 0)} })), DimHealth, 30},
		{"health: older admission counts half", hh(with(rich, func(m *Member) { m.Admissions = []Admission{admission("2024-09-01", "2024-09-10", "J18.9", 0)} })), DimHealth, 15},
		{"health: aged out", hh(with(rich, func(m *Member) { m.Admissions = []Admission{admission("2024-06-01", "2024-06-30", "J18.9", 0)} })), DimHealth, 0},
		{"health: in hospital now", hh(with(rich, func(m *Member) { m.Admissions = []Admission{admission("2024-01-01", "", "J18.9", 0)} })), DimHealth, 30},
		{"health: not yet admitted", hh(with(rich, func(m *Member) { m.Admissions = []Admission{admission("2025-07-01", "", "J18.9", 0)} })), DimHealth, 0},
		{"health: critical by ICD-10", hh(with(rich, func(m *Member) { m.Admissions = []Admission{admission("2025-05-01", "2025-05-10", "C50.9", 0)} })), DimHealth, 60},
		{"health: critical by flag, older", hh(with(rich, func(m *Member) {
			a := admission("2024-09-01", "2024-09-10", "Z51", 0)
			a.CriticalIllness = true
			m.Admissions = []Admission{a}
		})), DimHealth, 30},
		{"health: capped", hh(with(rich, func(m *Member) {
			for range 5 {
				m.Admissions = append(m.Admissions, admission("2025-05-01", "2025-05-10", "I21.0", 0))
			}
		})), DimHealth, 100},
		{"health: a dead member's admissions do not count", hh(rich, with(working(50, 100), func(m *Member) {
			m.Died = ptr(date("2025-06-01"))
			m.Admissions = []Admission{admission("2025-05-01", "2025-05-30", "J18.9", 0)}
		})), DimHealth, 0},
		// Disability.
		{"disability: grade 1", hh(with(rich, func(m *Member) { m.Disability = &Disability{Grade: 1} })), DimDisability, 80},
		{"disability: grade 4", hh(with(rich, func(m *Member) { m.Disability = &Disability{Grade: 4} })), DimDisability, 20},
		{"disability: grade 2 and grade 3", hh(with(rich, func(m *Member) { m.Disability = &Disability{Grade: 3} }), with(person(10, "child"), func(m *Member) { m.Disability = &Disability{Grade: 2} })), DimDisability, 70},
		{"disability: revoked", hh(with(rich, func(m *Member) { m.Disability = &Disability{Grade: 1, Revoked: true} })), DimDisability, 0},
		{"disability: invalid grade", hh(with(rich, func(m *Member) { m.Disability = &Disability{Grade: 9} })), DimDisability, 0},
		// Rigid expenditure: out-of-pocket against a year's income, 40% scores 100.
		{"rigid: 10% of income", hh(with(working(40, 1000), func(m *Member) { m.Admissions = []Admission{admission("2025-01-01", "2025-01-05", "J18.9", 1200)} })), DimRigid, 25},
		{"rigid: 40% of income", hh(with(working(40, 1000), func(m *Member) { m.Admissions = []Admission{admission("2025-01-01", "2025-01-05", "J18.9", 4800)} })), DimRigid, 100},
		{"rigid: no income", hh(with(person(40, "head"), func(m *Member) { m.Admissions = []Admission{admission("2025-01-01", "2025-01-05", "J18.9", 10)} })), DimRigid, 100},
		{"rigid: costs aged out", hh(with(working(40, 1000), func(m *Member) { m.Admissions = []Admission{admission("2024-01-01", "2024-01-05", "J18.9", 4800)} })), DimRigid, 0},
		{"rigid: a dead member's costs count", hh(working(40, 1000), with(person(70, "parent"), func(m *Member) {
			m.Died = ptr(date("2025-03-01"))
			m.Admissions = []Admission{admission("2025-01-01", "2025-02-25", "J18.9", 2400)}
		})), DimRigid, 50},
		{"rigid: school-age children", hh(rich, person(6, "child"), person(17, "child"), person(5, "child"), person(18, "child")), DimRigid, 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := Assess(Default(), tc.h, now)
			if got := a.Score(tc.dim); got != tc.want {
				t.Errorf("%s = %v, want %v; reasons %+v", tc.dim, got, tc.want, a.Reasons)
			}
			checkContributions(t, a)
		})
	}
}

// checkContributions: the reasons' contributions add up to the total.
func checkContributions(t *testing.T, a Assessment) {
	t.Helper()
	sum := 0.0
	for _, r := range a.Reasons {
		sum += r.Contribution
	}
	if math.Abs(sum-a.Total) > 0.1+0.01*float64(len(a.Reasons)) {
		t.Errorf("reasons contribute %v, total is %v: %+v", sum, a.Total, a.Reasons)
	}
}

func TestTriggers(t *testing.T) {
	earner := working(42, 6000)
	dead := func(m Member, when string) Member { m.Died = ptr(date(when)); return m }
	disabled := func(grade int, since string) Member {
		return with(working(40, 2500), func(m *Member) { m.Disability = &Disability{Grade: grade, Since: date(since)} })
	}
	tests := []struct {
		name string
		h    Household
		want []string
	}{
		{"none", hh(earner, person(40, "spouse")), nil},
		{"main earner died this year", hh(dead(earner, "2025-05-02"), working(40, 2500)), []string{TriggerMainEarnerDeath}},
		{"main earner died over 12 months ago", hh(dead(earner, "2024-06-29"), working(40, 2500)), nil},
		{"main earner's death not yet registered", hh(dead(earner, "2025-07-02"), working(40, 2500)), nil},
		{"a lower earner died", hh(earner, dead(working(40, 2500), "2025-05-02")), nil},
		{"main earner was a pensioner", hh(dead(pensioner(80, 4000), "2025-05-02"), working(40, 2500)), []string{TriggerMainEarnerDeath}},
		{"critical illness admission", hh(earner, with(person(10, "child"), func(m *Member) {
			m.Admissions = []Admission{admission("2025-04-01", "2025-05-01", "C91.0", 0)}
		})), []string{TriggerCriticalIllness}},
		{"critical illness long ago", hh(earner, with(person(10, "child"), func(m *Member) {
			m.Admissions = []Admission{admission("2024-04-01", "2024-05-01", "C91.0", 0)}
		})), nil},
		{"new grade-2 disability", hh(earner, disabled(2, "2025-03-01")), []string{TriggerNewSevereDisability}},
		{"old grade-1 disability", hh(earner, disabled(1, "2020-03-01")), nil},
		{"new grade-3 disability", hh(earner, disabled(3, "2025-03-01")), nil},
		{"income below standard", hh(working(40, 999)), []string{TriggerIncomeBelowStandard}},
		{"income at standard", hh(working(40, 1000)), nil},
		{"income not reported by any agency", hh(person(40, "head"), person(10, "child")), nil},
		{"income gone with the only earner", hh(with(working(40, 3000), func(m *Member) { m.Died = ptr(date("2025-01-01")) }), person(10, "child")), []string{TriggerMainEarnerDeath, TriggerIncomeBelowStandard}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := Assess(Default(), tc.h, now)
			var got []string
			for _, tr := range a.Triggers {
				got = append(got, tr.Code)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("triggers = %v, want %v", got, tc.want)
			}
			for _, c := range tc.want {
				if !slices.ContainsFunc(a.Reasons, func(r Reason) bool { return r.Code == "trigger."+c && r.Dimension == DimTrigger }) {
					t.Errorf("no reason for trigger %s: %+v", c, a.Reasons)
				}
			}
		})
	}
}

// Every level is reachable from the default model on plain households.
func TestLevels(t *testing.T) {
	m := Default()
	tests := []struct {
		name string
		h    Household
		want string
	}{
		{"none", hh(working(40, 3000), working(38, 3000)), LevelNone},
		{"watch: single parent near the standard", hh(working(35, 2600), person(8, "child"), person(12, "child")), LevelWatch},
		{"watch: elderly alone, grade-1 disability, above the standard", hh(with(pensioner(82, 1500), func(m *Member) { m.Disability = &Disability{Grade: 1} })), LevelWatch},
		{"warning: parent of two out of work 8 months", hh(unemployed(35, date("2024-11-01"), false), person(8, "child"), person(12, "child"), with(person(37, "spouse"), func(m *Member) { m.Employment = &Employment{Employed: true, MonthlyWage: 2000} })), LevelWarning},
		{"urgent", hh(with(unemployed(45, date("2024-10-01"), false), func(m *Member) {
			m.Admissions = []Admission{admission("2025-05-01", "2025-05-20", "N18.5", 20000)}
			m.Disability = &Disability{Grade: 2}
		}), person(10, "child"), pensioner(70, 500)), LevelUrgent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := Assess(m, tc.h, now)
			if got := m.Classify(a, LevelNone); got != tc.want {
				t.Errorf("level = %q (total %v, triggers %+v), want %q", got, a.Total, a.Triggers, tc.want)
			}
			checkGolden(t, "level-"+goldenName(tc.name)+".txt", a.Explain(m.Classify(a, LevelNone)))
		})
	}
}

func goldenName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			b[i] = '-'
		}
	}
	return string(b)
}

func TestNextChange(t *testing.T) {
	tests := []struct {
		name string
		h    Household
		want time.Time
	}{
		{"nothing moves", hh(pensioner(70, 5000)), time.Time{}},
		{"unemployment reaches 6 months", hh(unemployed(40, date("2025-03-10"), true)), date("2025-09-10")},
		{"admission halves", hh(with(working(40, 1e5), func(m *Member) { m.Admissions = []Admission{admission("2025-05-01", "2025-05-10", "J18", 0)} })), date("2025-11-10")},
		{"admission ages out", hh(with(working(40, 1e5), func(m *Member) { m.Admissions = []Admission{admission("2024-09-01", "2024-09-10", "J18", 0)} })), date("2025-09-10")},
		{"child turns 6", hh(working(40, 1e5), Member{Key: "c", BirthDate: date("2019-08-15")}), date("2025-08-15")},
		{"member turns 60", hh(Member{Key: "p", BirthDate: date("1965-07-04"), Employment: &Employment{Employed: true, MonthlyWage: 1e5}}, working(30, 1e5)), date("2025-07-04")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := Assess(Default(), tc.h, now)
			if !a.NextChange.Equal(tc.want) {
				t.Errorf("NextChange = %v, want %v", a.NextChange, tc.want)
			}
		})
	}
}

func TestAssessDeterministic(t *testing.T) {
	h := loadHousehold(t, "testdata/stories/1-unemployed-nephritis.json")
	a := Assess(Default(), h, now)
	for range 20 {
		b := Assess(Default(), h, now)
		if a.Explain("") != b.Explain("") {
			t.Fatal("two assessments of the same household differ")
		}
	}
}

func TestTopReasonsAndSummary(t *testing.T) {
	h := loadHousehold(t, "testdata/stories/2-rural-leukaemia.json")
	a := Assess(Default(), h, now)
	if got := len(a.TopReasons(3)); got != 3 {
		t.Fatalf("TopReasons(3) has %d", got)
	}
	if got := len(a.TopReasons(100)); got != len(a.Reasons) {
		t.Errorf("TopReasons(100) has %d, want %d", got, len(a.Reasons))
	}
	if got := len(a.TopReasons(-1)); got != 0 {
		t.Errorf("TopReasons(-1) has %d", got)
	}
	if got, want := a.Summary(1, false), "57.3: a member was admitted with a critical illness (a child, C92.0, admitted 2025-04-03)"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
	if got, want := a.Summary(1, true), "57.3：成员因大病住院（子女，C92.0，2025-04-03 入院）"; got != want {
		t.Errorf("Summary zh = %q, want %q", got, want)
	}
}

func TestMoneyText(t *testing.T) {
	for x, want := range map[float64]string{0: "0 元", 950: "950 元", 9999.6: "10000 元", 30000: "3 万元", 32000: "3.2 万元", 125400: "12.5 万元"} {
		if got := yuanZH(x); got != want {
			t.Errorf("yuanZH(%v) = %q, want %q", x, got, want)
		}
	}
	for x, want := range map[float64]string{0: "0", 950: "950", 1000: "1,000", 32000: "32,000", 1234567: "1,234,567"} {
		if got := yuanEN(x); got != want {
			t.Errorf("yuanEN(%v) = %q, want %q", x, got, want)
		}
	}
}
