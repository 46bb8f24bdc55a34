package declare_test

import (
	"safetynet/scorer"
	"safetynet/scorer/declare"
	"strings"
	"testing"
	"time"
)

// Recovery by income needs the per-capita income above the exit line at the start of each of the
// last recovered_months months, all after the aid began; assets count when registered after it.
func TestCheckEligibility(t *testing.T) {
	m := scorer.Default()
	line := m.AidExitLine()
	if line <= m.Standard() {
		t.Fatalf("exit line %v: want the income dimension's zero point (margin × standard)", line)
	}
	d := func(y int, mo time.Month, dd int) time.Time { return time.Date(y, mo, dd, 0, 0, 0, 0, time.UTC) }
	since := d(2025, 1, 10)
	now := d(2025, 9, 15)
	// Two members; one earns wage from jobStart: per capita wage/2.
	recs := func(wage float64, jobStart time.Time, extra ...declare.RecordMember) func(time.Time) declare.Records {
		return func(at time.Time) declare.Records {
			a := declare.RecordMember{Key: "a", Masked: "420106**********1X"}
			if !at.Before(jobStart) {
				a.Wage = &declare.Dated{Amount: wage, At: jobStart}
			}
			r := declare.Records{Members: []declare.RecordMember{a, {Key: "b", Masked: "420106**********22"}}}
			for _, x := range extra {
				for _, h := range x.Vehicles {
					if !h.At.After(at) {
						r.Members[1].Vehicles = append(r.Members[1].Vehicles, h)
					}
				}
				for _, h := range x.Businesses {
					if !h.At.After(at) {
						r.Members[1].Businesses = append(r.Members[1].Businesses, h)
					}
				}
			}
			return r
		}
	}
	codes := func(rs []declare.EligibilityReason) string {
		var c []string
		for _, r := range rs {
			c = append(c, r.Code)
		}
		return strings.Join(c, ",")
	}
	for _, tc := range []struct {
		name string
		recs func(time.Time) declare.Records
		want string
	}{
		{"above the line since June: three month starts", recs(2*line+200, d(2025, 6, 5)), declare.EligIncomeAboveExitLine},
		{"above since July 2: two month starts only", recs(2*line+200, d(2025, 7, 2)), ""},
		{"below the line", recs(2*line-200, d(2025, 3, 1)), ""},
		{"a car after the aid began", recs(0, d(2030, 1, 1), declare.RecordMember{Vehicles: []declare.Holding{{AssetID: "V1", At: d(2025, 8, 1)}}}), declare.EligVehicleRegistered},
		{"a car before the aid began", recs(0, d(2030, 1, 1), declare.RecordMember{Vehicles: []declare.Holding{{AssetID: "V1", At: d(2024, 8, 1)}}}), ""},
		{"a business and income", recs(2*line+200, d(2025, 1, 20), declare.RecordMember{Businesses: []declare.Holding{{AssetID: "B1", At: d(2025, 2, 1)}}}),
			declare.EligIncomeAboveExitLine + "," + declare.EligBusinessRegistered},
	} {
		got := declare.CheckEligibility(m.Aid().Aid, m.Declarations(), m.AidExitLine(), tc.recs, since, now)
		if codes(got) != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, codes(got), tc.want)
		}
		for _, r := range got {
			if r.ZH == "" || r.EN == "" || r.FactDate == "" {
				t.Errorf("%s: unexplained reason %+v", tc.name, r)
			}
		}
	}
	got := declare.CheckEligibility(m.Aid().Aid, m.Declarations(), m.AidExitLine(), recs(2*line+200, d(2025, 6, 5)), since, now)
	if r := got[0]; !strings.Contains(r.ZH, "人均月收入连续 3 个月高于退出线") || !strings.Contains(r.EN, "per-capita income above the exit line") || r.Months != 3 {
		t.Errorf("income reason: %+v", r)
	}
	// Months before the aid (or the last eligibility visit) do not count.
	if got := declare.CheckEligibility(m.Aid().Aid, m.Declarations(), m.AidExitLine(), recs(2*line+200, d(2024, 1, 1)), d(2025, 8, 20), now); len(got) != 0 {
		t.Errorf("counted months before from: %+v", got)
	}
}
