// Package declare is the declaration check (告知承诺制): an applicant declares the household's
// members, each member's monthly income and the household's assets, and commits to it being
// true; the check compares the declaration with the records the feeds hold. It is a pure
// function of the declaration, the records and the model's thresholds (the declarations
// section, modelfile.Declarations), like scorer.Score: no I/O, no clock, no logger.
//
// It does not gather the records (stream/household folds them from a household's facts) and
// does not decide what follows from a discrepancy (a verification case, in stream/monitor).
package declare

import (
	"fmt"
	"math"
	"time"

	"safetynet/scorer/modelfile"
)

// Declaration is what an applicant declared, with members pseudonymised.
type Declaration struct {
	Members         []DeclaredMember `json:"members"`
	Vehicles        int              `json:"vehicles"`
	Properties      int              `json:"properties"`
	FinancialAssets float64          `json:"financial_assets"`
	BusinessOwner   bool             `json:"business_owner"`
}

// DeclaredMember is one declared member.
type DeclaredMember struct {
	Key           string  `json:"key"`
	Masked        string  `json:"masked"`
	MonthlyIncome float64 `json:"monthly_income"`
}

// Records is what the feeds hold about a household when its declaration is checked.
type Records struct {
	// Members are the persons the registry lists in the household now.
	Members []RecordMember
	// Others are persons with asset or income facts in the household whom the registry does
	// not list (their holdings still count for the household).
	Others []RecordMember
}

// RecordMember is one person's income and asset records. Nil amounts are no record.
type RecordMember struct {
	Key, Masked string
	Wage        *Dated // employed, with a monthly wage (employment feed)
	Pension     *Dated // active pension (pension feed)
	Provident   *Dated // latest housing provident fund contribution (assets feed)
	Deposits    *Dated // latest deposit balance reported (assets feed)
	Vehicles    []Holding
	Properties  []Holding
	Businesses  []Holding
}

// Dated is an amount and the date of the fact that gave it.
type Dated struct {
	Amount float64
	At     time.Time
}

// Holding is a registered asset the person holds now.
type Holding struct {
	AssetID string
	At      time.Time // registered
}

// Check results.
const (
	CheckConsistent    = "consistent"
	CheckDiscrepancies = "discrepancies"
	CheckInsufficient  = "insufficient_data"
)

// Discrepancy codes.
const (
	DiscMemberUnknown           = "member_unknown"      // a declared member the registry does not list (insufficient data)
	DiscMemberNotDeclared       = "member_not_declared" // a registry member left out of the declaration
	DiscIncomeUnderstated       = "income_understated"
	DiscIncomeOverstated        = "income_overstated"
	DiscVehicleUndeclared       = "vehicle_undeclared"
	DiscPropertyUndeclared      = "property_undeclared"
	DiscBusinessUndeclared      = "business_undeclared"
	DiscFinancialUnderstated    = "financial_assets_understated"
	DiscFinancialOverstated     = "financial_assets_overstated"
	DiscHouseholdUnknown        = "household_unknown" // the registry lists no member (insufficient data)
	sourceRegistry              = "registry"
	sourceEmployment            = "employment"
	sourcePension               = "pension"
	sourceAssets                = "assets"
	discrepancyTextDateLayout   = "2006-01-02"
	discrepancyFoundNothingDate = ""
)

// DiscrepancyCodes lists every discrepancy code.
var DiscrepancyCodes = []string{DiscHouseholdUnknown, DiscMemberUnknown, DiscMemberNotDeclared, DiscIncomeUnderstated, DiscIncomeOverstated,
	DiscVehicleUndeclared, DiscPropertyUndeclared, DiscBusinessUndeclared, DiscFinancialUnderstated, DiscFinancialOverstated}

// Discrepancy is one difference between a declaration and the records.
type Discrepancy struct {
	Code     string  `json:"code"`
	Member   string  `json:"member,omitempty"` // masked ID of the member concerned
	Declared float64 `json:"declared"`
	Found    float64 `json:"found"`
	Source   string  `json:"source"`              // the feed the found value comes from
	FactDate string  `json:"fact_date,omitempty"` // date of the newest fact behind Found (YYYY-MM-DD)
	ZH       string  `json:"zh"`
	EN       string  `json:"en"`
}

// DeclarationCheck is the result of checking a declaration.
type DeclarationCheck struct {
	Result        string        `json:"result"`
	Discrepancies []Discrepancy `json:"discrepancies"`
}

// Check compares decl with recs at time at, with the model's declarations section cfg. A
// member with no wage, pension or recent provident fund record has no income: a declared 0 is
// consistent. A household the registry does not list, or a declared member it does not list,
// gives insufficient_data.
func Check(cfg modelfile.Declarations, decl Declaration, recs Records, at time.Time) DeclarationCheck {
	out := DeclarationCheck{Result: CheckConsistent, Discrepancies: []Discrepancy{}}
	add := func(d Discrepancy) { out.Discrepancies = append(out.Discrepancies, d) }
	if len(recs.Members) == 0 {
		add(Discrepancy{Code: DiscHouseholdUnknown, Declared: float64(len(decl.Members)), Source: sourceRegistry,
			ZH: "户籍登记中没有该户成员，无法核对", EN: "the registry lists no member of this household; nothing to check against"})
		out.Result = CheckInsufficient
		return out
	}
	byKey := map[string]*RecordMember{}
	for i := range recs.Members {
		byKey[recs.Members[i].Key] = &recs.Members[i]
	}
	declared := map[string]bool{}
	unknown := false
	for _, dm := range decl.Members {
		declared[dm.Key] = true
		r := byKey[dm.Key]
		if r == nil {
			unknown = true
			add(Discrepancy{Code: DiscMemberUnknown, Member: dm.Masked, Declared: dm.MonthlyIncome, Source: sourceRegistry,
				ZH: "申报的成员不在户籍登记的本户成员中", EN: "a declared member is not a member of this household in the registry"})
			continue
		}
		found, src, date := income(cfg, r, at)
		diff := math.Abs(dm.MonthlyIncome - found)
		if diff > cfg.IncomeYuan && diff > cfg.IncomeShare*found {
			d := Discrepancy{Member: dm.Masked, Declared: dm.MonthlyIncome, Found: found, Source: src, FactDate: day(date)}
			if dm.MonthlyIncome < found {
				d.Code = DiscIncomeUnderstated
				d.ZH = fmt.Sprintf("申报月收入%s元，%s记录为%s元", yuan(dm.MonthlyIncome), sourceZH[src], yuan(found))
				d.EN = fmt.Sprintf("declared monthly income ¥%s; the %s records show ¥%s", yuan(dm.MonthlyIncome), src, yuan(found))
			} else {
				d.Code = DiscIncomeOverstated
				d.ZH = fmt.Sprintf("申报月收入%s元，高于记录的%s元", yuan(dm.MonthlyIncome), yuan(found))
				d.EN = fmt.Sprintf("declared monthly income ¥%s is above the ¥%s on record", yuan(dm.MonthlyIncome), yuan(found))
			}
			add(d)
		}
	}
	for _, r := range recs.Members {
		if !declared[r.Key] {
			add(Discrepancy{Code: DiscMemberNotDeclared, Member: r.Masked, Found: 1, Source: sourceRegistry,
				ZH: "户籍登记的本户成员未申报", EN: "a member of the household in the registry is not declared"})
		}
	}
	all := append(append([]RecordMember(nil), recs.Members...), recs.Others...)
	for _, h := range []struct {
		code     string
		declared int
		get      func(*RecordMember) []Holding
		zh, en   string
	}{
		{DiscVehicleUndeclared, decl.Vehicles, func(r *RecordMember) []Holding { return r.Vehicles }, "机动车", "vehicles"},
		{DiscPropertyUndeclared, decl.Properties, func(r *RecordMember) []Holding { return r.Properties }, "房产", "properties"},
	} {
		n, newest, who := holdings(all, h.get)
		if n > h.declared {
			add(Discrepancy{Code: h.code, Member: who, Declared: float64(h.declared), Found: float64(n), Source: sourceAssets, FactDate: day(newest),
				ZH: fmt.Sprintf("申报%s%d处，登记在册%d处", h.zh, h.declared, n),
				EN: fmt.Sprintf("declared %d %s; %d registered", h.declared, h.en, n)})
		}
	}
	if n, newest, who := holdings(all, func(r *RecordMember) []Holding { return r.Businesses }); n > 0 && !decl.BusinessOwner {
		add(Discrepancy{Code: DiscBusinessUndeclared, Member: who, Found: float64(n), Source: sourceAssets, FactDate: day(newest),
			ZH: fmt.Sprintf("申报无经营主体，登记在册%d个", n), EN: fmt.Sprintf("declared no business; %d registered", n)})
	}
	var deposits float64
	var newest time.Time
	reported := false
	for _, r := range all {
		if r.Deposits != nil {
			reported = true
			deposits += r.Deposits.Amount
			if r.Deposits.At.After(newest) {
				newest = r.Deposits.At
			}
		}
	}
	if diff := math.Abs(decl.FinancialAssets - deposits); reported && diff > cfg.AssetsYuan {
		d := Discrepancy{Declared: decl.FinancialAssets, Found: deposits, Source: sourceAssets, FactDate: day(newest)}
		if decl.FinancialAssets < deposits {
			d.Code = DiscFinancialUnderstated
			d.ZH = fmt.Sprintf("申报金融资产%s元，存款报告为%s元", yuan(decl.FinancialAssets), yuan(deposits))
			d.EN = fmt.Sprintf("declared financial assets ¥%s; deposits reported ¥%s", yuan(decl.FinancialAssets), yuan(deposits))
		} else {
			d.Code = DiscFinancialOverstated
			d.ZH = fmt.Sprintf("申报金融资产%s元，高于存款报告的%s元", yuan(decl.FinancialAssets), yuan(deposits))
			d.EN = fmt.Sprintf("declared financial assets ¥%s are above the ¥%s of deposits reported", yuan(decl.FinancialAssets), yuan(deposits))
		}
		add(d)
	}
	switch {
	case unknown:
		out.Result = CheckInsufficient
	case len(out.Discrepancies) > 0:
		out.Result = CheckDiscrepancies
	}
	return out
}

var sourceZH = map[string]string{sourceEmployment: "就业", sourcePension: "养老金", sourceAssets: "公积金", sourceRegistry: "户籍"}

// income is a member's monthly income on record: wage and pension, or the wage a recent
// provident fund payment implies when no wage is on record; with the feed of the largest part
// and the date of its fact.
func income(cfg modelfile.Declarations, r *RecordMember, at time.Time) (float64, string, time.Time) {
	total, src, date, largest := 0.0, sourceEmployment, time.Time{}, -1.0
	part := func(v float64, s string, d time.Time) {
		total += v
		if v > largest {
			largest, src, date = v, s, d
		}
	}
	if r.Wage != nil {
		part(r.Wage.Amount, sourceEmployment, r.Wage.At)
	} else if p := r.Provident; p != nil && p.Amount > 0 && at.Sub(p.At) <= cfg.ProvidentRecent {
		part(math.Round(p.Amount/cfg.ProvidentRate), sourceAssets, p.At)
	}
	if r.Pension != nil {
		part(r.Pension.Amount, sourcePension, r.Pension.At)
	}
	return total, src, date
}

// holdings counts the holdings of all, with the newest registration and the masked ID of its
// holder.
func holdings(all []RecordMember, get func(*RecordMember) []Holding) (int, time.Time, string) {
	n, newest, who := 0, time.Time{}, ""
	for i := range all {
		for _, h := range get(&all[i]) {
			n++
			if h.At.After(newest) || who == "" {
				newest, who = h.At, all[i].Masked
			}
		}
	}
	return n, newest, who
}

func day(t time.Time) string {
	if t.IsZero() {
		return discrepancyFoundNothingDate
	}
	return t.UTC().Format(discrepancyTextDateLayout)
}

func yuan(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}
