package declare

import (
	"fmt"
	"safetynet/scorer/modelfile"
	"time"
)

// Eligibility both ways: a household receiving aid whose records show it has recovered — a
// per-capita income above the exit line for consecutive months, or a vehicle, property or
// business registered after its aid began — is up for an eligibility review. Like the
// declaration check it is a pure function of the records and the model (the aid section).

// Eligibility review reason codes.
const (
	EligIncomeAboveExitLine = "income_above_exit_line"
	EligVehicleRegistered   = "vehicle_registered"
	EligPropertyRegistered  = "property_registered"
	EligBusinessRegistered  = "business_registered"
)

// EligibilityCodes lists every eligibility review reason code.
var EligibilityCodes = []string{EligIncomeAboveExitLine, EligVehicleRegistered, EligPropertyRegistered, EligBusinessRegistered}

// EligibilityReason is one reason a household receiving aid is up for review, explained in
// Chinese and English. Member is the masked ID of the holder of a new asset.
type EligibilityReason struct {
	Code     string  `json:"code"`
	Member   string  `json:"member,omitempty"`
	Found    float64 `json:"found"`               // per-capita income (latest month), or the number of new holdings
	Line     float64 `json:"line,omitempty"`      // the exit line, yuan per person per month (income)
	Months   int     `json:"months,omitempty"`    // consecutive months above it (income)
	FactDate string  `json:"fact_date,omitempty"` // newest registration, or the latest month's start (YYYY-MM-DD)
	ZH       string  `json:"zh"`
	EN       string  `json:"en"`
}

// CheckEligibility looks for signs of recovery (exitLine: scorer.Model.AidExitLine) since from (the start of the aid, or the last
// eligibility visit) at now. recordsAt gives the household's records as of an instant. Income
// counts when the per-capita income (wage, pension, or the wage a recent provident fund payment
// implies, as in the declaration check) is above the exit line at the first instant of each of
// the last RecoveredMonths months, all after from. Assets count when registered after from.
func CheckEligibility(aid modelfile.Aid, cfg modelfile.Declarations, exitLine float64, recordsAt func(time.Time) Records, from, now time.Time) []EligibilityReason {
	var out []EligibilityReason
	if n := aid.RecoveredMonths; n > 0 {
		line := exitLine
		start := time.Date(now.UTC().Year(), now.UTC().Month(), 1, 0, 0, 0, 0, time.UTC)
		above, latest := 0, 0.0
		for k := range n {
			t := start.AddDate(0, -k, 0)
			if !t.After(from) {
				break
			}
			recs := recordsAt(t)
			if len(recs.Members) == 0 {
				break
			}
			total := 0.0
			for i := range recs.Members {
				v, _, _ := income(cfg, &recs.Members[i], t)
				total += v
			}
			pc := total / float64(len(recs.Members))
			if pc <= line {
				break
			}
			if k == 0 {
				latest = pc
			}
			above++
		}
		if above == n {
			out = append(out, EligibilityReason{Code: EligIncomeAboveExitLine, Found: latest, Line: line, Months: n, FactDate: day(start),
				ZH: fmt.Sprintf("人均月收入连续 %d 个月高于退出线（%s元），最近为%s元", n, yuan(line), yuan(latest)),
				EN: fmt.Sprintf("per-capita income above the exit line (¥%s) for %d months: ¥%s in the latest", yuan(line), n, yuan(latest))})
		}
	}
	recs := recordsAt(now)
	all := append(append([]RecordMember(nil), recs.Members...), recs.Others...)
	for _, a := range []struct {
		code   string
		get    func(*RecordMember) []Holding
		zh, en string
	}{
		{EligVehicleRegistered, func(r *RecordMember) []Holding { return r.Vehicles }, "新登记车辆", "a vehicle registered"},
		{EligPropertyRegistered, func(r *RecordMember) []Holding { return r.Properties }, "新登记房产", "a property registered"},
		{EligBusinessRegistered, func(r *RecordMember) []Holding { return r.Businesses }, "新登记经营主体", "a business registered"},
	} {
		n, newest, who := 0, time.Time{}, ""
		for i := range all {
			for _, h := range a.get(&all[i]) {
				if h.At.After(from) && !h.At.After(now) {
					n++
					if h.At.After(newest) {
						newest, who = h.At, all[i].Masked
					}
				}
			}
		}
		if n > 0 {
			out = append(out, EligibilityReason{Code: a.code, Member: who, Found: float64(n), FactDate: day(newest),
				ZH: fmt.Sprintf("享受救助后%s（%d处，最近于%s）", a.zh, n, day(newest)),
				EN: fmt.Sprintf("%s since the aid began (%d, the latest on %s)", a.en, n, day(newest))})
		}
	}
	return out
}
